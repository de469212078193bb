//! Reading the RFC 3339 times of Dune's envelopes (`2024-01-12T21:34:55.737081Z`).

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian calendar).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
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

/// Milliseconds since the Unix epoch of an RFC 3339 time, if it is one.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = s.split_once(['T', ' '])?;
    let mut d = date.split('-');
    let (y, mo, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (time, offset_min) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (t, off) = rest.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (hh, mm) = off[1..].split_once(':').unwrap_or((&off[1..], "0"));
        (
            t,
            sign * (hh.parse::<i64>().ok()? * 60 + mm.parse::<i64>().ok()?),
        )
    } else {
        (rest, 0)
    };
    let mut parts = time.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let mi: i64 = parts.next()?.parse().ok()?;
    let sec_text = parts.next().unwrap_or("0");
    let (sec, frac) = sec_text.split_once('.').unwrap_or((sec_text, ""));
    let sec: i64 = sec.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms: i64 = format!("{:0<3}", &frac[..frac.len().min(3)]).parse().ok()?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, day);
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) - offset_min * 60) * 1000 + ms)
}

/// The PostgreSQL epoch (2000-01-01) in Unix seconds.
pub const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;

/// `YYYY-MM-DD HH:MM:SS.ffffff` for microseconds since 2000-01-01 (UTC for timestamptz).
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
