//! PostgreSQL's calendar: timestamps as microseconds and dates as days since 2000-01-01
//! (PostgreSQL's `POSTGRES_EPOCH_JDATE`), in the proleptic Gregorian calendar, read from and
//! written as the text Dune's filters take (`YYYY-MM-DD HH:MM:SS.ffffff`).

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; any year).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian calendar).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// The PostgreSQL epoch (2000-01-01) in Unix seconds.
pub const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;

/// `YYYY-MM-DD HH:MM:SS.ffffff` for microseconds since 2000-01-01 (UTC for timestamptz);
/// None for ±infinity and years outside 1..=9999.
pub fn timestamp_text(micros: i64) -> Option<String> {
    if micros == i64::MAX || micros == i64::MIN {
        return None;
    }
    let unix = micros.div_euclid(1_000_000) + PG_EPOCH_UNIX_SECS;
    let frac = micros.rem_euclid(1_000_000);
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    let sod = unix.rem_euclid(86_400);
    if !(1..=9999).contains(&y) {
        return None;
    }
    Some(format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{frac:06}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    ))
}

/// `YYYY-MM-DD` for days since 2000-01-01; None for ±infinity and years outside 1..=9999.
pub fn date_text(days: i32) -> Option<String> {
    if days == i32::MAX || days == i32::MIN {
        return None;
    }
    let (y, m, d) = civil_from_days(days as i64 + PG_EPOCH_UNIX_SECS / 86_400);
    (1..=9999)
        .contains(&y)
        .then(|| format!("{y:04}-{m:02}-{d:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_times_render_in_utc() {
        assert_eq!(timestamp_text(0).unwrap(), "2000-01-01 00:00:00.000000");
        assert_eq!(
            timestamp_text(763_505_459_123_456).unwrap(),
            "2024-03-11 20:50:59.123456"
        );
        assert_eq!(timestamp_text(-1).unwrap(), "1999-12-31 23:59:59.999999");
        assert_eq!(timestamp_text(i64::MAX), None, "infinity is not sent");
        assert_eq!(date_text(-1).unwrap(), "1999-12-31");
        assert_eq!(date_text(i32::MIN), None);
    }
}
