//! Time as Haven stores it: microseconds since the Unix epoch in an `i64` column, and the protobuf
//! `Timestamp` the wire carries.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in microseconds since the epoch (0 for a clock set before 1970, which no database row wants
/// to be refused over).
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A stored time as the wire's `Timestamp`; times before the epoch keep non-negative nanoseconds.
pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_before_the_epoch_has_non_negative_nanoseconds() {
        let t = timestamp(-1);
        assert_eq!((t.seconds, t.nanos), (-1, 999_999_000));
    }

    #[test]
    fn microseconds_become_seconds_and_nanoseconds() {
        let t = timestamp(1_700_000_000_123_456);
        assert_eq!((t.seconds, t.nanos), (1_700_000_000, 123_456_000));
    }

    #[test]
    fn now_is_after_the_year_2020() {
        assert!(now_micros() > 1_577_836_800_000_000);
    }
}
