//! Sign-in attempts are rate-limited per client address and per account name, so that neither
//! one address trying many names nor many addresses trying one name gets far.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Keys remembered before old ones are swept.
const SWEEP_ABOVE: usize = 10_000;

/// Sign-in rate limits.
pub struct LoginLimiter {
    by_ip: DefaultKeyedRateLimiter<String>,
    by_name: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimiter").finish_non_exhaustive()
    }
}

fn quota(burst: u32, every: Duration) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(every)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl Default for LoginLimiter {
    /// 20 attempts at once per address, then one every 3 s; 5 per name, then one every 12 s.
    fn default() -> Self {
        LoginLimiter::new(
            quota(20, Duration::from_secs(3)),
            quota(5, Duration::from_secs(12)),
        )
    }
}

impl LoginLimiter {
    /// Limits with these quotas per client address and per account name.
    pub fn new(by_ip: Quota, by_name: Quota) -> LoginLimiter {
        LoginLimiter {
            by_ip: RateLimiter::keyed(by_ip),
            by_name: RateLimiter::keyed(by_name),
            clock: DefaultClock::default(),
        }
    }

    /// Counts an attempt; `Err(wait)` when it is refused, with how long to wait.
    pub fn check(&self, ip: &str, username: &str) -> Result<(), Duration> {
        for limiter in [&self.by_ip, &self.by_name] {
            if limiter.len() > SWEEP_ABOVE {
                limiter.retain_recent();
            }
        }
        let name = username.trim().to_lowercase();
        self.by_ip
            .check_key(&ip.to_owned())
            .and_then(|()| self.by_name.check_key(&name))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_name_is_limited_whatever_the_address_and_an_address_whatever_the_name() {
        let l = LoginLimiter::default();
        for i in 0..5 {
            assert!(l.check(&format!("10.0.0.{i}"), "Alice").is_ok());
        }
        let wait = l.check("10.0.0.9", "alice").unwrap_err();
        assert!(
            wait > Duration::from_secs(5) && wait <= Duration::from_secs(12),
            "{wait:?}"
        );
        assert!(
            l.check("10.0.0.9", "bob").is_ok(),
            "another name still passes"
        );
        for i in 0..20 {
            assert!(l.check("192.0.2.1", &format!("user{i}")).is_ok());
        }
        assert!(
            l.check("192.0.2.1", "someone-else").is_err(),
            "the address is spent"
        );
    }
}
