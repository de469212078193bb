//! Wall-clock helpers: the emulator formats times the way Dune does, without a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian calendar).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn split(ms: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000) as u32;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400) as u32;
    (y, mo, d, sod / 3600, sod / 60 % 60, sod % 60, milli)
}

/// RFC 3339 with microseconds, as in Dune's envelopes: `2024-01-12T21:34:37.447476Z`.
pub fn rfc3339(ms: u64) -> String {
    let (y, mo, d, h, mi, s, milli) = split(ms as i64);
    // Dune prints microseconds; the emulator's clock has milliseconds, so the last digits
    // are derived from the millisecond value to look like a real, varying fraction.
    let micro = milli * 1000 + (ms % 997) as u32 % 1000;
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{micro:06}Z")
}

/// Dune's `timestamp with time zone` value encoding: `2024-03-05 20:50:59.000 UTC`.
pub fn dune_timestamp(ms: i64) -> String {
    let (y, mo, d, h, mi, s, milli) = split(ms);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{milli:03} UTC")
}

/// Dune's `timestamp` (without time zone) value encoding: `2022-05-04 00:00:00.000`.
pub fn dune_timestamp_plain(ms: i64) -> String {
    let (y, mo, d, h, mi, s, milli) = split(ms);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{milli:03}")
}

/// Days since 1970-01-01 of a (year, month 1 to 12, day) of the proleptic Gregorian calendar.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The number of days of a month (1 to 12) of a year.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Dune's `date` value encoding: `2024-09-28`.
pub fn dune_date(ms: i64) -> String {
    let (y, mo, d, ..) = split(ms);
    format!("{y:04}-{mo:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        // 2024-03-05 20:50:59 UTC
        assert_eq!(
            dune_timestamp(1_709_671_859_000),
            "2024-03-05 20:50:59.000 UTC"
        );
        assert_eq!(dune_date(1_709_671_859_000), "2024-03-05");
        assert!(rfc3339(1_709_671_859_123).starts_with("2024-03-05T20:50:59.123"));
        assert_eq!(dune_timestamp(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(dune_date(951_782_400_000), "2000-02-29");
        assert_eq!(
            dune_timestamp_plain(1_651_622_400_000),
            "2022-05-04 00:00:00.000"
        );
        assert_eq!(days_from_civil(2000, 2, 29) * 86_400_000, 951_782_400_000);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for days in [-800_000, -1, 0, 19_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!((days_in_month(2024, 2), days_in_month(1900, 2)), (29, 28));
    }
}
