//! The simulator's clock: the wall clock by default, or a chosen start, running at a chosen speed,
//! and advanced on demand by tests (`POST /_sim/clock`).

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

/// The furthest the clock may be moved, in days (keeps every date arithmetic in range).
const MAX_JUMP_DAYS: i64 = 36_500;
/// The furthest the running clock may get from its start, in microseconds (a century).
const MAX_SPAN_MICROS: f64 = 36_500.0 * 86_400.0 * 1e6;

/// A jump the clock refuses.
#[derive(Debug, thiserror::Error)]
#[error("the clock only moves forward, by at most a century in all")]
pub struct ClockError;

/// A clock that can start anywhere, run faster than real time, and jump forward.
#[derive(Debug)]
pub struct SimClock {
    started_wall: Instant,
    started_at: DateTime<Utc>,
    speed: f64,
    jumped: Mutex<Duration>,
}

impl SimClock {
    /// A clock reading `start` now and running at `speed` times real time.
    pub fn new(start: DateTime<Utc>, speed: f64) -> SimClock {
        SimClock {
            started_wall: Instant::now(),
            started_at: start,
            speed: speed.max(0.0),
            jumped: Mutex::new(Duration::zero()),
        }
    }

    /// The simulator's current time.
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = self.started_wall.elapsed().as_secs_f64() * self.speed;
        let jumped = self
            .jumped
            .lock()
            .map(|j| *j)
            .unwrap_or_else(|p| *p.into_inner());
        let run = Duration::microseconds((elapsed * 1e6).min(MAX_SPAN_MICROS) as i64);
        self.started_at
            .checked_add_signed(run)
            .and_then(|t| t.checked_add_signed(jumped))
            .unwrap_or(self.started_at)
    }

    /// The time the simulator started at.
    pub fn start(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// Moves the clock forward; refuses jumps that would take it past a century from its start.
    pub fn advance(&self, by: Duration) -> Result<(), ClockError> {
        if by < Duration::zero() {
            return Err(ClockError);
        }
        let mut j = self.jumped.lock().unwrap_or_else(|p| p.into_inner());
        let total = j
            .checked_add(&by)
            .filter(|t| *t >= Duration::zero() && t.num_days() <= MAX_JUMP_DAYS)
            .ok_or(ClockError)?;
        *j = total;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_now_forward() {
        let start = Utc::now();
        let c = SimClock::new(start, 0.0);
        assert_eq!(c.now(), start);
        c.advance(Duration::minutes(16))
            .expect("a small jump is fine");
        assert_eq!(c.now(), start + Duration::minutes(16));
        assert!(c.advance(Duration::days(40_000)).is_err());
        assert!(c.advance(Duration::minutes(-1)).is_err());
        assert_eq!(c.now(), start + Duration::minutes(16));
    }
}
