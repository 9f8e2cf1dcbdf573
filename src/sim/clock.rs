//! Simulated time: seconds since the simulator started, running `speed` times faster than real
//! time. Every wait in the simulator derives from it.

use jiff::{SignedDuration, Timestamp};
use std::time::Instant;

#[derive(Clone, Debug)]
pub struct SimClock {
    epoch: Timestamp,
    real_anchor: Instant,
    sim_anchor: f64,
    speed: f64,
}

impl SimClock {
    pub fn new(speed: f64) -> Self {
        let now = Timestamp::now().as_nanosecond() / 100 * 100;
        let epoch = Timestamp::from_nanosecond(now).expect("now is a valid timestamp");
        SimClock { epoch, real_anchor: Instant::now(), sim_anchor: 0.0, speed: speed.max(0.0) }
    }

    /// Simulated seconds since start.
    pub fn now(&self) -> f64 {
        self.sim_anchor + self.real_anchor.elapsed().as_secs_f64() * self.speed
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Changes the speed from now on, without a jump in simulated time.
    pub fn set_speed(&mut self, speed: f64) {
        self.sim_anchor = self.now();
        self.real_anchor = Instant::now();
        self.speed = speed.max(0.0);
    }

    /// Jumps simulated time forward (tests and benchmarks).
    pub fn advance(&mut self, secs: f64) {
        self.sim_anchor += secs.max(0.0);
    }

    /// Wall-clock timestamp of simulated second `t`, at Batch's 100 ns precision.
    pub fn timestamp(&self, t: f64) -> Timestamp {
        let nanos = (t * 1e7).round() as i64 * 100;
        self.epoch.saturating_add(SignedDuration::from_nanos(nanos)).expect("timestamps stay in range")
    }
}
