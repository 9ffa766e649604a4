//! A circuit breaker: after `threshold` failures in a row the circuit opens
//! and calls fail at once for `cooldown`; then one call is let through, and
//! its success closes the circuit again. A provider that is down then costs
//! a job a fast `provider_unavailable` instead of all its retries.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self { threshold: threshold.max(1), cooldown, state: Mutex::new(State::default()) }
    }

    /// False while the circuit is open.
    pub fn allows(&self, now: Instant) -> bool {
        let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.open_until.is_none_or(|until| now >= until)
    }

    pub fn succeeded(&self) {
        *self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = State::default();
    }

    pub fn failed(&self, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.failures += 1;
        if state.failures >= self.threshold {
            state.open_until = Some(now + self.cooldown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_opens_after_the_threshold_and_half_opens_after_the_cooldown() {
        let breaker = Breaker::new(3, Duration::from_secs(30));
        let t0 = Instant::now();
        breaker.failed(t0);
        breaker.failed(t0);
        assert!(breaker.allows(t0));
        breaker.failed(t0);
        assert!(!breaker.allows(t0 + Duration::from_secs(29)));
        // One trial call after the cooldown; its failure opens it again at once.
        assert!(breaker.allows(t0 + Duration::from_secs(30)));
        breaker.failed(t0 + Duration::from_secs(30));
        assert!(!breaker.allows(t0 + Duration::from_secs(31)));
        breaker.succeeded();
        assert!(breaker.allows(t0 + Duration::from_secs(31)));
    }
}
