//! Reading the RFC 3339 times of Dune's envelopes (`2024-01-12T21:34:55.737081Z`, reference
//! "Get Execution Status": `submitted_at`, `execution_ended_at`, ...). Calendar arithmetic is
//! jiff's; this module only adapts it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch of an RFC 3339 time with an offset (`Z` or `±hh:mm`);
/// None for anything else.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    s.trim()
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dune_envelope_times() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2024-03-05T20:50:59.123456789Z"),
            Some(1_709_671_859_123)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-03-05T21:50:59+01:00"),
            Some(1_709_671_859_000)
        );
        assert_eq!(parse_rfc3339_ms("not a time"), None);
        assert_eq!(
            parse_rfc3339_ms("2024-03-05T20:50:59.ééZ"),
            None,
            "no panic on a non-digit fraction"
        );
    }
}
