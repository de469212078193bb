//! SQLite functions the translation calls where SQLite has no equivalent with Trino's
//! semantics: `dune_cast` (CAST and TRY_CAST), `dune_date_trunc`, `dune_part` (year(), …),
//! `dune_floor` and `dune_ceil`, `dune_sum256` (an exact sum of uint256 or int256) and the
//! collation that compares their digits as numbers. An error they raise starts with [`MARK`]
//! and is passed on as the execution's error.

use super::types::{DType, NUMBER_COLLATION};
use crate::cells;
use crate::time::{
    civil_from_days, days_from_civil, dune_date, dune_timestamp, dune_timestamp_plain,
};
use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::Sign;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::{Connection, Error};
use std::cmp::Ordering;
use std::str::FromStr;

/// The start of an error message raised by these functions.
pub const MARK: &str = "DUNE: ";

const DAY_US: i64 = 86_400_000_000;

fn fail(message: String) -> Error {
    Error::UserFunctionError(format!("{MARK}{message}").into())
}

/// Registers the functions on `conn`.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("dune_cast", 4, flags, |ctx: &mut Context<'_>| {
        let (from, to): (String, String) = (ctx.get(1)?, ctx.get(2)?);
        let try_: i64 = ctx.get(3)?;
        match cast(ctx.get_raw(0), &from, &to) {
            Ok(v) => Ok(v),
            Err(_) if try_ != 0 => Ok(Sql::Null),
            Err(m) => Err(fail(m)),
        }
    })?;
    conn.create_scalar_function("dune_date_trunc", 2, flags, |ctx: &mut Context<'_>| {
        let unit: String = ctx.get(0)?;
        match ctx.get_raw(1) {
            ValueRef::Integer(us) => date_trunc(&unit, us).map(Sql::Integer).map_err(fail),
            _ => Ok(Sql::Null),
        }
    })?;
    conn.create_scalar_function("dune_part", 2, flags, |ctx: &mut Context<'_>| {
        let unit: String = ctx.get(0)?;
        match ctx.get_raw(1) {
            ValueRef::Integer(us) => part(&unit, us).map(Sql::Integer).map_err(fail),
            _ => Ok(Sql::Null),
        }
    })?;
    conn.create_collation(NUMBER_COLLATION, compare_numbers)?;
    conn.create_aggregate_function("dune_sum256", 2, flags, WideSum)?;
    register_calendar(conn, flags)?;
    for (name, up) in [("dune_floor", false), ("dune_ceil", true)] {
        conn.create_scalar_function(name, 1, flags, move |ctx: &mut Context<'_>| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Integer(i) => Sql::Integer(i),
                ValueRef::Real(f) => Sql::Real(if up { f.ceil() } else { f.floor() }),
                _ => Sql::Null,
            })
        })?;
    }
    Ok(())
}

/// The functions of zoned calendar fields, Unicode case and `sign`.
fn register_calendar(conn: &Connection, flags: FunctionFlags) -> rusqlite::Result<()> {
    conn.create_scalar_function("dune_date_trunc_tz", 3, flags, |ctx: &mut Context<'_>| {
        let (unit, zone): (String, String) = (ctx.get(0)?, ctx.get(2)?);
        match ctx.get_raw(1) {
            ValueRef::Integer(us) => zoned_trunc(&unit, us, &zone)
                .map(Sql::Integer)
                .map_err(fail),
            _ => Ok(Sql::Null),
        }
    })?;
    conn.create_scalar_function("dune_part_tz", 3, flags, |ctx: &mut Context<'_>| {
        let (unit, zone): (String, String) = (ctx.get(0)?, ctx.get(2)?);
        match ctx.get_raw(1) {
            ValueRef::Integer(us) => zoned_part(&unit, us, &zone).map(Sql::Integer).map_err(fail),
            _ => Ok(Sql::Null),
        }
    })?;
    for (name, up) in [("dune_lower", false), ("dune_upper", true)] {
        conn.create_scalar_function(name, 1, flags, move |ctx: &mut Context<'_>| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Text(t) => {
                    let s = String::from_utf8_lossy(t);
                    Sql::Text(if up {
                        s.to_uppercase()
                    } else {
                        s.to_lowercase()
                    })
                }
                ValueRef::Null => Sql::Null,
                _ => {
                    return Err(fail(format!(
                        "Unexpected parameters for function {}",
                        &name[5..]
                    )));
                }
            })
        })?;
    }
    conn.create_scalar_function("dune_sign", 1, flags, |ctx: &mut Context<'_>| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Integer(i) => Sql::Integer(i.signum()),
            ValueRef::Real(f) if f.is_nan() => Sql::Real(f),
            ValueRef::Real(f) => Sql::Real(if f == 0.0 { 0.0 } else { f.signum() }),
            _ => Sql::Null,
        })
    })?;
    Ok(())
}

/// Two texts compared as decimal numbers (uint256 and int256 digits, and the literals compared
/// with them); a text that is not a number sorts after every number, by its bytes.
fn compare_numbers(a: &str, b: &str) -> Ordering {
    match (
        BigDecimal::from_str(a.trim()),
        BigDecimal::from_str(b.trim()),
    ) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// 2^255, as digits.
const TWO_255: &str =
    "57896044618658097711785492504343953926634992332820282019728792003956564819968";

/// Whether `n` is within `ty`'s range (uint256: 0 to 2^256 - 1; int256: -2^255 to 2^255 - 1).
fn in_range(n: &BigDecimal, ty: DType) -> bool {
    let half = BigDecimal::from_str(TWO_255).expect("digits");
    match ty {
        DType::Uint256 => n.sign() != Sign::Minus && *n < &half * BigDecimal::from(2),
        _ => *n >= -half.clone() && *n < half,
    }
}

/// The canonical digits of a whole number of type `ty` (uint256 or int256) given as text;
/// `Err` names what is wrong.
pub fn wide(text: &str, ty: DType) -> Result<String, String> {
    let upper = ty.name().to_uppercase();
    let n = BigDecimal::from_str(text.trim())
        .ok()
        .filter(BigDecimal::is_integer)
        .ok_or_else(|| format!("Cannot cast '{text}' to {upper}"))?;
    if !in_range(&n, ty) {
        return Err(format!("Out of range for {}: {text}", ty.name()));
    }
    Ok(n.with_scale(0).to_string())
}

/// `sum(x)` of uint256 or int256 values, exact; an out-of-range sum fails, as in Trino.
#[derive(Debug)]
struct WideSum;

impl rusqlite::functions::Aggregate<Option<(BigDecimal, DType)>, Sql> for WideSum {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<Option<(BigDecimal, DType)>> {
        Ok(None)
    }

    fn step(
        &self,
        ctx: &mut Context<'_>,
        acc: &mut Option<(BigDecimal, DType)>,
    ) -> rusqlite::Result<()> {
        let v = match ctx.get_raw(0) {
            ValueRef::Null => return Ok(()),
            ValueRef::Integer(i) => BigDecimal::from(i),
            ValueRef::Text(t) => BigDecimal::from_str(&String::from_utf8_lossy(t))
                .map_err(|_| fail("sum of a uint256 or int256 that is not a number".into()))?,
            _ => {
                return Err(fail(
                    "sum of a uint256 or int256 that is not a number".into(),
                ));
            }
        };
        let ty: String = ctx.get(1)?;
        let ty = DType::from_declared(&ty).unwrap_or(DType::Int256);
        *acc = Some(match acc.take() {
            Some((a, _)) => (a + v, ty),
            None => (v, ty),
        });
        Ok(())
    }

    fn finalize(
        &self,
        _: &mut Context<'_>,
        acc: Option<Option<(BigDecimal, DType)>>,
    ) -> rusqlite::Result<Sql> {
        let Some(Some((total, ty))) = acc else {
            return Ok(Sql::Null);
        };
        if !in_range(&total, ty) {
            return Err(fail(format!("Out of range for {}: {total}", ty.name())));
        }
        Ok(Sql::Text(total.with_scale(0).to_string()))
    }
}

/// The text of a value for a cast to varchar.
fn to_text(v: ValueRef<'_>, from: Option<DType>) -> Result<String, String> {
    Ok(match (v, from) {
        (ValueRef::Integer(us), Some(DType::Date)) => dune_date(us.div_euclid(1000)),
        (ValueRef::Integer(us), Some(DType::Timestamp)) => {
            dune_timestamp_plain(us.div_euclid(1000))
        }
        (ValueRef::Integer(us), Some(DType::TimestampTz)) => dune_timestamp(us.div_euclid(1000)),
        (ValueRef::Integer(i), Some(DType::Boolean)) => (i != 0).to_string(),
        (ValueRef::Integer(i), _) => i.to_string(),
        (ValueRef::Real(f), _) => f.to_string(),
        (ValueRef::Text(t) | ValueRef::Blob(t), _) => String::from_utf8(t.to_vec())
            .map_err(|_| "Cannot cast varbinary to varchar".to_string())?,
        (ValueRef::Null, _) => String::new(),
    })
}

/// A whole number for a cast to an integer type (a double rounds half away from zero).
fn to_whole(v: ValueRef<'_>, to: DType) -> Result<i64, String> {
    let upper = to.name().to_uppercase();
    let i = match v {
        ValueRef::Integer(i) => i,
        ValueRef::Real(f) if f.is_finite() && f.abs() < 9.2e18 => f.round() as i64,
        ValueRef::Real(f) => return Err(format!("Unable to cast {f} to {upper}")),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            s.trim()
                .parse::<i64>()
                .map_err(|_| format!("Cannot cast '{s}' to {upper}"))?
        }
        _ => return Err(format!("Cannot cast varbinary to {upper}")),
    };
    let fits = match to {
        DType::Integer => i32::try_from(i).is_ok(),
        _ => true,
    };
    match fits {
        true => Ok(i),
        false => Err(format!("Out of range for {}: {i}", to.name())),
    }
}

/// `CAST(v AS to)` from a value of type `from` (a SQLite declared type name, or empty).
pub fn cast(v: ValueRef<'_>, from: &str, to: &str) -> Result<Sql, String> {
    if v == ValueRef::Null {
        return Ok(Sql::Null);
    }
    let from = DType::from_declared(from);
    let to = DType::from_declared(to).unwrap_or(DType::Varchar);
    let text = |v: ValueRef<'_>| match v {
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).trim().to_string()),
        _ => None,
    };
    let temporal = from.is_some_and(DType::is_temporal);
    Ok(match to {
        DType::Varchar => Sql::Text(to_text(v, from)?),
        t if t.is_wide() => Sql::Text(match v {
            ValueRef::Integer(i) => wide(&i.to_string(), t)?,
            ValueRef::Real(f) if f.is_finite() => wide(&format!("{:.0}", f.round()), t)?,
            ValueRef::Text(_) => wide(&text(v).unwrap_or_default(), t)?,
            _ => return Err(format!("Cannot cast to {}", t.name().to_uppercase())),
        }),
        t if t.is_whole() => Sql::Integer(to_whole(v, t)?),
        DType::Double => Sql::Real(match v {
            ValueRef::Integer(i) => i as f64,
            ValueRef::Real(f) => f,
            _ => {
                let s = text(v).unwrap_or_default();
                s.parse()
                    .map_err(|_| format!("Cannot cast '{s}' to DOUBLE"))?
            }
        }),
        DType::Boolean => Sql::Integer(match (v, text(v).map(|s| s.to_lowercase())) {
            (ValueRef::Integer(i), _) => i64::from(i != 0),
            (ValueRef::Real(f), _) => i64::from(f != 0.0),
            (_, Some(s)) if ["true", "t", "1"].contains(&s.as_str()) => 1,
            (_, Some(s)) if ["false", "f", "0"].contains(&s.as_str()) => 0,
            (_, s) => {
                return Err(format!(
                    "Cannot cast '{}' to BOOLEAN",
                    s.unwrap_or_default()
                ));
            }
        }),
        DType::Varbinary => match v {
            ValueRef::Text(t) | ValueRef::Blob(t) => Sql::Blob(t.to_vec()),
            _ => return Err("Cannot cast to varbinary".into()),
        },
        DType::Date => Sql::Integer(match (v, text(v)) {
            (ValueRef::Integer(us), _) if temporal => us.div_euclid(DAY_US) * DAY_US,
            (_, Some(s)) => cells::date(&s)
                .map(|d| d * DAY_US)
                .ok_or_else(|| format!("Value cannot be cast to date: {s}"))?,
            _ => return Err("Cannot cast a number to date".into()),
        }),
        _ => Sql::Integer(match (v, text(v)) {
            (ValueRef::Integer(us), _) if temporal => us,
            (_, Some(s)) => cells::timestamp(&s)
                .ok_or_else(|| format!("Value cannot be cast to timestamp: {s}"))?,
            _ => return Err("Cannot cast a number to timestamp".into()),
        }),
    })
}

/// `date_trunc(unit, t)` on microseconds (weeks start on Monday, as in Trino).
pub fn date_trunc(unit: &str, us: i64) -> Result<i64, String> {
    let days = us.div_euclid(DAY_US);
    let (y, m, _) = civil_from_days(days);
    let floor = |step: i64| us.div_euclid(step) * step;
    Ok(match unit.to_ascii_lowercase().as_str() {
        "second" => floor(1_000_000),
        "minute" => floor(60_000_000),
        "hour" => floor(3_600_000_000),
        "day" => floor(DAY_US),
        "week" => (days - (days + 3).rem_euclid(7)) * DAY_US,
        "month" => days_from_civil(y, m, 1) * DAY_US,
        "quarter" => days_from_civil(y, (m - 1) / 3 * 3 + 1, 1) * DAY_US,
        "year" => days_from_civil(y, 1, 1) * DAY_US,
        other => return Err(format!("'{other}' is not a valid Timestamp field")),
    })
}

/// The zone `zone` (an IANA name, as Trino takes it) and the civil time of instant `us`
/// (microseconds since the epoch) there.
fn civil_in(us: i64, zone: &str) -> Result<(jiff::tz::TimeZone, jiff::civil::DateTime), String> {
    let tz = jiff::tz::TimeZone::get(zone).map_err(|_| format!("Time zone '{zone}' is invalid"))?;
    let ts = jiff::Timestamp::from_microsecond(us).map_err(|e| e.to_string())?;
    let dt = tz.to_datetime(ts);
    Ok((tz, dt))
}

/// `date_trunc(unit, at_timezone(t, zone))` on microseconds: truncated in the zone's calendar
/// (weeks start on Monday, as in Trino), the instant that local time is.
pub fn zoned_trunc(unit: &str, us: i64, zone: &str) -> Result<i64, String> {
    use jiff::civil::{Date, Time};
    let (tz, dt) = civil_in(us, zone)?;
    let (d, t) = (dt.date(), dt.time());
    let e = |e: jiff::Error| e.to_string();
    let (date, time) = match unit.to_ascii_lowercase().as_str() {
        "second" => (
            d,
            Time::new(t.hour(), t.minute(), t.second(), 0).map_err(e)?,
        ),
        "minute" => (d, Time::new(t.hour(), t.minute(), 0, 0).map_err(e)?),
        "hour" => (d, Time::new(t.hour(), 0, 0, 0).map_err(e)?),
        "day" => (d, Time::midnight()),
        "week" => {
            let back = i64::from(d.weekday().to_monday_zero_offset());
            let monday = d.checked_sub(jiff::Span::new().days(back)).map_err(e)?;
            (monday, Time::midnight())
        }
        "month" => (
            Date::new(d.year(), d.month(), 1).map_err(e)?,
            Time::midnight(),
        ),
        "quarter" => {
            let m = (d.month() - 1) / 3 * 3 + 1;
            (Date::new(d.year(), m, 1).map_err(e)?, Time::midnight())
        }
        "year" => (Date::new(d.year(), 1, 1).map_err(e)?, Time::midnight()),
        other => return Err(format!("'{other}' is not a valid Timestamp field")),
    };
    let start = tz.to_timestamp(date.to_datetime(time)).map_err(e)?;
    Ok(start.as_microsecond())
}

/// `year(at_timezone(t, zone))`, `day_of_week(…)`, …: the field in the zone's calendar.
pub fn zoned_part(unit: &str, us: i64, zone: &str) -> Result<i64, String> {
    let (_, dt) = civil_in(us, zone)?;
    Ok(match unit {
        "year" => i64::from(dt.year()),
        "quarter" => i64::from((dt.month() - 1) / 3 + 1),
        "month" => i64::from(dt.month()),
        "day" => i64::from(dt.day()),
        "day_of_week" | "dow" => i64::from(dt.weekday().to_monday_one_offset()),
        "day_of_year" | "doy" => i64::from(dt.day_of_year()),
        "hour" => i64::from(dt.hour()),
        "minute" => i64::from(dt.minute()),
        "second" => i64::from(dt.second()),
        other => {
            return Err(format!(
                "{other}() is not supported by the Dune API emulator"
            ));
        }
    })
}

/// `year(t)`, `month(t)`, `day_of_week(t)` (Monday is 1), … on microseconds.
pub fn part(unit: &str, us: i64) -> Result<i64, String> {
    let days = us.div_euclid(DAY_US);
    let (y, m, d) = civil_from_days(days);
    let sod = us.rem_euclid(DAY_US) / 1_000_000;
    Ok(match unit {
        "year" => y,
        "quarter" => (m as i64 - 1) / 3 + 1,
        "month" => m as i64,
        "day" => d as i64,
        "day_of_week" | "dow" => (days + 3).rem_euclid(7) + 1,
        "day_of_year" | "doy" => days - days_from_civil(y, 1, 1) + 1,
        "hour" => sod / 3600,
        "minute" => sod / 60 % 60,
        "second" => sod % 60,
        other => {
            return Err(format!(
                "{other}() is not supported by the Dune API emulator"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_trino() {
        let int = |v: ValueRef<'_>, to: &str| cast(v, "", to);
        assert_eq!(int(ValueRef::Real(2.5), "bigint"), Ok(Sql::Integer(3)));
        assert_eq!(int(ValueRef::Real(-2.5), "bigint"), Ok(Sql::Integer(-3)));
        assert_eq!(
            int(ValueRef::Text(b" 42 "), "integer"),
            Ok(Sql::Integer(42))
        );
        assert_eq!(
            int(ValueRef::Text(b"abc"), "bigint"),
            Err("Cannot cast 'abc' to BIGINT".into())
        );
        assert!(int(ValueRef::Integer(1 << 40), "integer").is_err());
        let us = 1_709_671_859_123_000;
        assert_eq!(
            cast(ValueRef::Integer(us), "timestamptz", "varchar"),
            Ok(Sql::Text("2024-03-05 20:50:59.123 UTC".into()))
        );
        assert_eq!(
            cast(ValueRef::Integer(us), "timestamptz", "date"),
            Ok(Sql::Integer(us.div_euclid(DAY_US) * DAY_US))
        );
        assert_eq!(
            cast(ValueRef::Text(b"2024-03-05"), "varchar", "date"),
            Ok(Sql::Integer(19_787 * DAY_US))
        );
        assert_eq!(date_trunc("month", us), Ok(19_783 * DAY_US));
        assert_eq!(date_trunc("week", us), Ok(19_786 * DAY_US)); // Monday 2024-03-04
        assert_eq!(part("day_of_week", us), Ok(2));
        assert_eq!(part("day_of_year", us), Ok(65));
    }
}
