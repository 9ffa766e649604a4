//! Days and counter items for the unit tests of the series arithmetic.

use domain::day::Day;
use store::counters::Counts;
use store::series::DayCounts;

pub fn day(value: &str) -> Day {
    value.parse().unwrap()
}

pub fn counts(pairs: &[(&str, i64)]) -> DayCounts {
    let item = pairs.iter().map(|(name, n)| ((*name).to_owned(), store::db::number(n))).collect();
    Counts::of_item(Some(&item))
}
