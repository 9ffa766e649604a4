//! How a client of an outside service waits for it, tries it again and
//! gives up on it: one request's timeout, tries with exponential backoff,
//! and when its [`Breaker`] opens. Each client names its own defaults.

use std::future::Future;
use std::time::{Duration, Instant};

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

    /// Tries `call` until it succeeds, fails for good or the tries run out,
    /// pausing between tries (`on_retry` hears of each retried failure),
    /// and tells `breaker` how it went: a failure only when `counts` says
    /// the service failed (a refusal or a rate limit is still an answer).
    /// The caller asks the breaker whether to call at all.
    pub async fn run<T, E, Fut>(
        &self,
        breaker: &Breaker,
        counts: impl Fn(&E) -> bool,
        on_retry: impl Fn(&E, u32),
        mut call: impl FnMut() -> Fut,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, Failed<E>>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(answer) => {
                    breaker.succeeded();
                    return Ok(answer);
                }
                Err(Failed { error, retry: true, pause }) if attempt < self.attempts => {
                    on_retry(&error, attempt);
                    tokio::time::sleep(self.pause(attempt, pause)).await;
                    attempt += 1;
                }
                Err(Failed { error, .. }) => {
                    if counts(&error) {
                        breaker.failed(Instant::now());
                    } else {
                        breaker.succeeded();
                    }
                    return Err(error);
                }
            }
        }
    }
}

/// How one try failed: whether to try again, and the least pause before
/// the next try the service asked for (`Retry-After`).
pub struct Failed<E> {
    pub error: E,
    pub retry: bool,
    pub pause: Duration,
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
