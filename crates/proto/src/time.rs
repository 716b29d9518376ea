//! `google.protobuf.Timestamp` from the UTC times the services keep.

use chrono::{DateTime, Utc};

/// `at` as a protobuf `Timestamp`. A chrono leap second (nanoseconds at or
/// above 10^9), which protobuf cannot hold, clamps to the second's last
/// nanosecond.
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos().min(999_999_999)).unwrap_or(999_999_999),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn keeps_seconds_and_nanos_and_clamps_a_leap_second() {
        let at = DateTime::<Utc>::from_timestamp(1_800_000_000, 123_456_000).unwrap();
        let stamp = timestamp(at);
        assert_eq!((stamp.seconds, stamp.nanos), (1_800_000_000, 123_456_000));
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        assert_eq!(timestamp(leap).nanos, 999_999_999);
    }
}
