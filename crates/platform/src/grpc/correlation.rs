//! The correlation id of a gRPC call: the caller's, or a new one.

use tonic::metadata::MetadataMap;

/// Metadata keys a caller may set, in order of preference.
pub const CORRELATION_ID_KEYS: [&str; 2] = ["x-correlation-id", "x-request-id"];
/// Longer values are ignored rather than copied into every event.
pub const MAX_CORRELATION_ID_LEN: usize = 128;

/// The caller's `x-correlation-id`, else its `x-request-id`, else a new
/// UUID v7. Every event a call causes carries it, so one user action can be
/// followed across services and logs.
///
/// A value that is empty, longer than [`MAX_CORRELATION_ID_LEN`] or not
/// printable ASCII is ignored (and a new id used): it ends up in AMQP
/// properties and log lines, where arbitrary bytes do not belong.
pub fn correlation_id(metadata: &MetadataMap) -> String {
    CORRELATION_ID_KEYS
        .iter()
        .filter_map(|key| metadata.get(*key))
        .filter_map(|value| value.to_str().ok())
        .map(str::trim)
        .find(|value| is_acceptable(value))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

fn is_acceptable(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_CORRELATION_ID_LEN
        && value.bytes().all(|byte| byte.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn metadata(pairs: &[(&'static str, &str)]) -> MetadataMap {
        let mut map = MetadataMap::new();
        for (key, value) in pairs {
            map.insert(*key, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_correlation_id_wins_over_the_request_id() {
        let map = metadata(&[("x-request-id", "req-1"), ("x-correlation-id", "corr-1")]);
        assert_eq!(correlation_id(&map), "corr-1");
    }

    #[test]
    fn the_request_id_is_used_when_alone() {
        assert_eq!(
            correlation_id(&metadata(&[("x-request-id", "req-1")])),
            "req-1"
        );
    }

    #[test]
    fn without_either_a_new_uuid_v7_is_made() {
        let id = correlation_id(&MetadataMap::new());
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
    }

    #[test]
    fn unusable_values_are_skipped() {
        let too_long = "x".repeat(MAX_CORRELATION_ID_LEN + 1);
        let map = metadata(&[("x-correlation-id", &too_long), ("x-request-id", "req-2")]);
        assert_eq!(correlation_id(&map), "req-2");
        let map = metadata(&[("x-correlation-id", "has space")]);
        assert_ne!(correlation_id(&map), "has space");
    }
}
