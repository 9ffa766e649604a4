//! How a client of an outside service waits for it, tries it again and
//! gives up on it: one request's timeout, tries with exponential backoff,
//! and when its [`Breaker`] opens. Each client names its own defaults.

use std::time::Duration;

use crate::breaker::Breaker;

#[derive(Debug, Clone)]
pub struct Retry {
    /// For one HTTP request, connection included.
    pub timeout: Duration,
    /// Tries per call, the first included.
    pub attempts: u32,
    /// The pause before the second try; doubled for each one after.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Failed calls in a row that open the circuit, and for how long.
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
}

impl Retry {
    /// The pause after failed try `attempt` (from 1): the backoff doubled
    /// for each try before, at least what the service asked for
    /// (`Retry-After`), at most `max_backoff`.
    pub fn pause(&self, attempt: u32, asked: Duration) -> Duration {
        let exponential = self.backoff.saturating_mul(1 << attempt.saturating_sub(1).min(16));
        exponential.max(asked).min(self.max_backoff)
    }

    /// The breaker these settings describe, named for its metric.
    pub fn breaker(&self, name: &'static str) -> Breaker {
        Breaker::new(name, self.breaker_threshold, self.breaker_cooldown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_honour_what_was_asked_and_stop_at_the_ceiling() {
        let retry = Retry {
            timeout: Duration::from_secs(1),
            attempts: 5,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            breaker_threshold: 1,
            breaker_cooldown: Duration::from_secs(1),
        };
        let pauses: Vec<u128> = (1..=4).map(|attempt| retry.pause(attempt, Duration::ZERO).as_millis()).collect();
        assert_eq!(pauses, [100, 200, 350, 350]);
        assert_eq!(retry.pause(1, Duration::from_millis(300)).as_millis(), 300);
        assert_eq!(retry.pause(1, Duration::from_secs(60)).as_millis(), 350);
    }
}
