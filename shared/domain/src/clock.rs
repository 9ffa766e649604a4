//! An injectable clock, so expiry rules (invites, lockouts, sessions) can be
//! tested without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that runs with the system clock plus an offset a test can move,
/// or, once frozen, stands at the moment it was frozen plus that offset.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset_seconds: AtomicI64,
    /// Unix milliseconds the clock stands at; 0 while it runs.
    frozen_at_millis: AtomicI64,
}

impl OffsetClock {
    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Stops the clock where it is, for rules decided to the second.
    pub fn freeze(&self) {
        let now = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        self.frozen_at_millis.store(now, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> OffsetDateTime {
        let base = match self.frozen_at_millis.load(Ordering::SeqCst) {
            0 => OffsetDateTime::now_utc(),
            millis => OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        };
        base + time::Duration::seconds(self.offset_seconds.load(Ordering::SeqCst))
    }
}

/// A clock that stands still until a test moves it, for rules that count
/// elapsed fractions of a second (token buckets).
#[derive(Debug)]
pub struct ManualClock {
    millis: AtomicI64,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self { millis: AtomicI64::new((OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64) }
    }
}

impl ManualClock {
    pub fn advance_millis(&self, millis: i64) {
        self.millis.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        let millis = self.millis.load(Ordering::SeqCst) as i128;
        OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// RFC 3339 in UTC with second precision, the one timestamp format of the API.
pub fn rfc3339(at: OffsetDateTime) -> String {
    // In UTC, so that two timestamps compare as strings (a due date given
    // with an offset against now).
    let at = at.to_offset(time::UtcOffset::UTC);
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn timestamps_are_written_in_utc_to_the_second() {
        let at = OffsetDateTime::parse("2026-12-05T09:30:15.75+02:00", &Rfc3339).unwrap();
        assert_eq!(rfc3339(at), "2026-12-05T07:30:15Z");
    }
}
