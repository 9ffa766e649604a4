//! UTC days, the unit every dashboard counter and series is kept in: a
//! [`Day`] parses from and prints as `YYYY-MM-DD`, and a [`DayRange`] is a
//! span of them short enough to answer in one read.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Duration, OffsetDateTime, UtcOffset};

/// One UTC calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(Date);

impl Day {
    /// The UTC day `at` falls on.
    pub fn of(at: OffsetDateTime) -> Self {
        Self(at.to_offset(UtcOffset::UTC).date())
    }

    /// `n` days later (earlier when negative); saturates at the calendar's ends.
    pub fn plus(self, n: i64) -> Self {
        Self(self.0.checked_add(Duration::days(n)).unwrap_or(if n < 0 { Date::MIN } else { Date::MAX }))
    }

    /// How many days `later` is after this one (negative if before).
    pub fn days_until(self, later: Day) -> i64 {
        (later.0 - self.0).whole_days()
    }

    /// The Monday that starts this day's ISO week.
    pub fn week_start(self) -> Self {
        self.plus(-i64::from(self.0.weekday().number_days_from_monday()))
    }

    /// The first day of this day's month.
    pub fn month_start(self) -> Self {
        self.plus(1 - i64::from(self.0.day()))
    }

    /// The first day of the month `n` months before this day's (after, when negative).
    pub fn month_start_back(self, n: i32) -> Self {
        let months = self.0.year() * 12 + i32::from(u8::from(self.0.month())) - 1 - n;
        let month = time::Month::try_from((months.rem_euclid(12) + 1) as u8).expect("1 to 12 is a month");
        Date::from_calendar_date(months.div_euclid(12), month, 1).map(Self).unwrap_or(self.month_start())
    }

    /// Every day from this one through `last`, in order (none if `last` is before).
    pub fn through(self, last: Day) -> impl Iterator<Item = Day> {
        (0..=self.days_until(last)).map(move |n| self.plus(n))
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.0.year(), u8::from(self.0.month()), self.0.day())
    }
}

impl FromStr for Day {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        Date::parse(value, &format).map(Self).map_err(|_| "must be a date, YYYY-MM-DD".to_owned())
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Day {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Date)))
            .examples([serde_json::json!("2026-12-01")])
            .into()
    }
}

impl utoipa::ToSchema for Day {}

/// Days from `from` through `to`, both included: at least one day, at most
/// [`DayRange::MAX_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    from: Day,
    to: Day,
}

impl DayRange {
    /// A year, leap day included.
    pub const MAX_DAYS: i64 = 366;

    pub fn new(from: Day, to: Day) -> Result<Self, crate::Error> {
        let days = from.days_until(to) + 1;
        if days < 1 {
            return Err(crate::Error::BadRequest("to must not be before from".into()));
        }
        if days > Self::MAX_DAYS {
            return Err(crate::Error::BadRequest(format!("a range of days is at most {} days long", Self::MAX_DAYS)));
        }
        Ok(Self { from, to })
    }

    /// The `days` days that end with `to`.
    pub fn ending(to: Day, days: i64) -> Result<Self, crate::Error> {
        Self::new(to.plus(1 - days), to)
    }

    pub fn from(self) -> Day {
        self.from
    }

    pub fn to(self) -> Day {
        self.to
    }

    pub fn days(self) -> impl Iterator<Item = Day> {
        self.from.through(self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(value: &str) -> Day {
        value.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_iso_dates_only() {
        assert_eq!(day("2026-02-28").to_string(), "2026-02-28");
        for bad in ["2026-02-30", "2026-2-3", "26-02-03", "2026-02-03T00:00:00Z", "", "tomorrow"] {
            assert!(bad.parse::<Day>().is_err(), "{bad}");
        }
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        // 2026-12-05 is a Saturday.
        assert_eq!(day("2026-12-05").week_start(), day("2026-11-30"));
        assert_eq!(day("2026-11-30").week_start(), day("2026-11-30"));
        assert_eq!(day("2026-12-05").month_start(), day("2026-12-01"));
        assert_eq!(day("2024-03-01").plus(-1), day("2024-02-29"));
        assert_eq!(day("2026-03-31").month_start_back(1), day("2026-02-01"));
        assert_eq!(day("2026-01-15").month_start_back(11), day("2025-02-01"));
        assert_eq!(day("2026-01-15").month_start_back(0), day("2026-01-01"));
    }

    #[test]
    fn a_range_holds_one_to_366_days_in_order() {
        let range = DayRange::new(day("2026-12-01"), day("2026-12-07")).unwrap();
        assert_eq!(range.days().count(), 7);
        assert_eq!(range.days().last(), Some(day("2026-12-07")));
        assert_eq!(DayRange::new(day("2026-12-01"), day("2026-12-01")).unwrap().days().count(), 1);
        assert!(DayRange::new(day("2026-12-02"), day("2026-12-01")).is_err());
        assert!(DayRange::new(day("2024-01-01"), day("2024-12-31")).is_ok());
        assert!(DayRange::new(day("2024-01-01"), day("2025-01-01")).is_err());
        assert_eq!(DayRange::ending(day("2026-12-05"), 30).unwrap().from(), day("2026-11-06"));
    }
}
