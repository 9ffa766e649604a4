//! A circuit breaker: after `threshold` failures in a row the circuit opens
//! and calls fail at once for `cooldown`; then exactly one call, the probe,
//! is let through (half-open) while the others keep failing fast, and its
//! outcome closes the circuit or opens it again. A provider that is down then
//! costs a job or a request a fast refusal instead of all its retries.
//! Each transition is a `BreakerTransitions` metric.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Breaker {
    name: &'static str,
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// A probe went out at `since`. One that never reports (its caller was
    /// cancelled) lapses after a cooldown, and the next caller probes.
    HalfOpen {
        since: Instant,
    },
}

impl State {
    fn name(self) -> &'static str {
        match self {
            Self::Closed { .. } => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen { .. } => "half_open",
        }
    }
}

impl Breaker {
    pub fn new(name: &'static str, threshold: u32, cooldown: Duration) -> Self {
        Self { name, threshold: threshold.max(1), cooldown, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    /// Whether a call may go out now. After the cooldown, true for exactly
    /// one caller, which must then report [`Breaker::succeeded`] or
    /// [`Breaker::failed`].
    pub fn allows(&self, now: Instant) -> bool {
        self.transition(|state| match state {
            State::Closed { .. } => (state, true),
            State::Open { until } if now < until => (state, false),
            State::HalfOpen { since } if now < since + self.cooldown => (state, false),
            State::Open { .. } | State::HalfOpen { .. } => (State::HalfOpen { since: now }, true),
        })
    }

    /// The provider answered.
    pub fn succeeded(&self) {
        self.transition(|_| (State::Closed { failures: 0 }, ()));
    }

    /// The provider could not be reached or kept failing.
    pub fn failed(&self, now: Instant) {
        self.transition(|state| match state {
            State::Closed { failures } if failures + 1 < self.threshold => {
                (State::Closed { failures: failures + 1 }, ())
            }
            _ => (State::Open { until: now + self.cooldown }, ()),
        });
    }

    fn transition<T>(&self, change: impl FnOnce(State) -> (State, T)) -> T {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let before = *state;
        let (after, answer) = change(before);
        *state = after;
        drop(state);
        if before.name() != after.name() {
            tracing::warn!(breaker = self.name, from = before.name(), to = after.name(), "circuit breaker moved");
            store::metrics::breaker_transition(self.name, after.name());
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_opens_after_the_threshold_and_half_opens_for_one_probe() {
        let breaker = Breaker::new("test", 3, Duration::from_secs(30));
        let t0 = Instant::now();
        breaker.failed(t0);
        breaker.failed(t0);
        assert!(breaker.allows(t0));
        breaker.failed(t0);
        assert!(!breaker.allows(t0 + Duration::from_secs(29)));
        // After the cooldown one probe goes out; every other caller waits for it.
        let after = t0 + Duration::from_secs(30);
        assert!(breaker.allows(after));
        assert!(!breaker.allows(after));
        assert!(!breaker.allows(after + Duration::from_secs(1)));
        // The probe fails: open again at once, for a whole cooldown.
        breaker.failed(after + Duration::from_secs(1));
        assert!(!breaker.allows(after + Duration::from_secs(30)));
        assert!(breaker.allows(after + Duration::from_secs(31)));
        breaker.succeeded();
        assert!(breaker.allows(after + Duration::from_secs(31)));
        assert!(breaker.allows(after + Duration::from_secs(31)), "closed lets everyone through");
    }

    #[test]
    fn a_probe_that_never_reports_lapses_after_a_cooldown() {
        let breaker = Breaker::new("test", 1, Duration::from_secs(10));
        let t0 = Instant::now();
        breaker.failed(t0);
        assert!(breaker.allows(t0 + Duration::from_secs(10)));
        assert!(!breaker.allows(t0 + Duration::from_secs(19)));
        assert!(breaker.allows(t0 + Duration::from_secs(20)));
        assert!(!breaker.allows(t0 + Duration::from_secs(20)));
    }

    #[test]
    fn concurrent_callers_after_the_cooldown_let_exactly_one_probe_through() {
        let breaker = std::sync::Arc::new(Breaker::new("test", 1, Duration::from_secs(5)));
        let t0 = Instant::now();
        breaker.failed(t0);
        let later = t0 + Duration::from_secs(5);
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let breaker = breaker.clone();
                std::thread::spawn(move || breaker.allows(later))
            })
            .collect();
        let allowed = threads.into_iter().map(|thread| thread.join().unwrap()).filter(|allowed| *allowed).count();
        assert_eq!(allowed, 1);
    }
}
