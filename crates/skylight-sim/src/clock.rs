//! The simulator's clock: the wall clock by default, or a chosen start, running at a chosen speed,
//! and advanced on demand by tests (`POST /_sim/clock`).

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

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
        self.started_at + Duration::microseconds((elapsed * 1e6) as i64) + jumped
    }

    /// The time the simulator started at.
    pub fn start(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        match self.jumped.lock() {
            Ok(mut j) => *j += by,
            Err(p) => *p.into_inner() += by,
        }
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
        c.advance(Duration::minutes(16));
        assert_eq!(c.now(), start + Duration::minutes(16));
    }
}
