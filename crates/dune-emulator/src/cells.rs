//! The values of uploaded tables (API reference §9): the ten column types of an upload schema
//! and how a CSV field or an NDJSON value is checked for each. Written for the emulator alone:
//! nothing here is shared with the client crates.
//!
//! What is accepted, per type (Dune documents only "ISO 8601 timestamps" and "varbinary as
//! hexadecimal or base64"; the rest is inferred and marked so):
//! - integer, bigint, int256, uint256: whole numbers in their ranges (32, 64 and 256 bits,
//!   uint256 unsigned), as JSON numbers or as text (big ones arrive as strings);
//! - double: a number (finite);
//! - boolean: `true` or `false` (any case) [inferred];
//! - varbinary: `0x` followed by an even number of hex digits, or base64 (standard or URL-safe
//!   alphabet, padding optional);
//! - timestamp: ISO 8601, `YYYY-MM-DD[T| ]hh:mm[:ss[.f…]]` with an optional zone (`Z`, `UTC`,
//!   `±hh:mm`, `±hhmm`, `±hh`), or a date alone (midnight) [the last inferred];
//! - date: `YYYY-MM-DD`;
//! - varchar: any text; a JSON number or boolean is kept as written [inferred].

use crate::time::{days_from_civil, days_in_month};
use std::borrow::Cow;

/// A column type of Dune's upload schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Varchar,
    Varbinary,
    Uint256,
    Int256,
    Bigint,
    Integer,
    Double,
    Boolean,
    Timestamp,
    Date,
}

const NAMES: [(Kind, &str); 10] = [
    (Kind::Varchar, "varchar"),
    (Kind::Varbinary, "varbinary"),
    (Kind::Uint256, "uint256"),
    (Kind::Int256, "int256"),
    (Kind::Bigint, "bigint"),
    (Kind::Integer, "integer"),
    (Kind::Double, "double"),
    (Kind::Boolean, "boolean"),
    (Kind::Timestamp, "timestamp"),
    (Kind::Date, "date"),
];

impl Kind {
    /// The type's name as the schema and the results' `column_types` spell it.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("varchar", |n| n.1)
    }

    /// The type a schema names (in any case), or `None` for a type uploads do not take.
    pub fn parse(name: &str) -> Option<Kind> {
        let name = name.trim();
        NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|n| n.0)
    }

    /// The accepted type names, for error messages.
    pub fn names() -> String {
        NAMES.map(|n| n.1).join(", ")
    }
}

/// A value as it arrives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Raw<'a> {
    /// A CSV field or a JSON string.
    Text(&'a str),
    /// A JSON number, as written.
    Number(&'a str),
    /// A JSON boolean.
    Bool(bool),
    /// JSON null, an empty CSV field or a missing key.
    Null,
    /// A JSON array or object.
    Nested,
}

/// A value checked against its column type, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored<'a> {
    Null,
    /// integer, bigint; a timestamp in microseconds since the epoch (UTC); a date in days.
    Int(i64),
    Float(f64),
    Bool(bool),
    /// varchar, or int256/uint256 as canonical decimal digits.
    Text(Cow<'a, str>),
    /// varbinary.
    Bytes(Vec<u8>),
}

/// A value shown in an error message: quoted, and cut if long.
fn shown(s: &str) -> String {
    match s.char_indices().nth(100) {
        Some((i, _)) => format!("'{}…'", &s[..i]),
        None => format!("'{s}'"),
    }
}

/// Checks `raw` against `kind`; the error says what is wrong with the value (the caller adds
/// the line and the column).
pub fn check(kind: Kind, raw: Raw<'_>) -> Result<Stored<'_>, String> {
    let text = match raw {
        Raw::Null => return Ok(Stored::Null),
        Raw::Nested => {
            return Err(format!(
                "a JSON array or object is not a {} value",
                kind.name()
            ));
        }
        Raw::Bool(b) if kind == Kind::Boolean => return Ok(Stored::Bool(b)),
        Raw::Bool(b) if kind == Kind::Varchar => return Ok(Stored::Text(b.to_string().into())),
        Raw::Bool(b) => return Err(format!("{b} is not a {} value", kind.name())),
        Raw::Number(n) if matches!(kind, Kind::Boolean | Kind::Timestamp | Kind::Date) => {
            return Err(format!("the number {n} is not a {} value", kind.name()));
        }
        Raw::Text(t) | Raw::Number(t) => t,
    };
    match kind {
        Kind::Varchar => Ok(Stored::Text(Cow::Borrowed(text))),
        Kind::Integer | Kind::Bigint | Kind::Int256 | Kind::Uint256 => whole(kind, text.trim()),
        Kind::Double => double(text.trim()),
        Kind::Boolean => match text.trim() {
            t if t.eq_ignore_ascii_case("true") => Ok(Stored::Bool(true)),
            t if t.eq_ignore_ascii_case("false") => Ok(Stored::Bool(false)),
            _ => Err(format!("{} is not a boolean (true or false)", shown(text))),
        },
        Kind::Varbinary => binary(text.trim()).map(Stored::Bytes),
        Kind::Timestamp => timestamp(text)
            .map(Stored::Int)
            .ok_or_else(|| format!("{} is not an ISO 8601 timestamp", shown(text))),
        Kind::Date => date(text.trim())
            .map(Stored::Int)
            .ok_or_else(|| format!("{} is not a date (YYYY-MM-DD)", shown(text))),
    }
}

/// Whether `s` is a number as JSON and Trino write them (sign, digits, fraction, exponent).
pub fn is_number(s: &str) -> bool {
    let b = s.strip_prefix(['-', '+']).unwrap_or(s).as_bytes();
    let digits = |b: &[u8]| b.iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(b);
    let mut i = int;
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        frac = digits(&b[i + 1..]);
        i += 1 + frac;
    }
    if int + frac == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let rest = &b[i + 1..];
        let rest = rest
            .strip_prefix(b"-")
            .or(rest.strip_prefix(b"+"))
            .unwrap_or(rest);
        let exp = digits(rest);
        return exp > 0 && exp == rest.len();
    }
    i == b.len()
}

/// The bounds of the whole-number types: (largest magnitude below zero, largest above).
fn bounds(kind: Kind) -> (&'static str, &'static str, &'static str) {
    match kind {
        Kind::Integer => ("2147483648", "2147483647", "-2^31 to 2^31-1"),
        Kind::Bigint => (
            "9223372036854775808",
            "9223372036854775807",
            "-2^63 to 2^63-1",
        ),
        Kind::Int256 => (
            "57896044618658097711785492504343953926634992332820282564349221809470564819968",
            "57896044618658097711785492504343953926634992332820282564349221809470564819967",
            "-2^255 to 2^255-1",
        ),
        _ => (
            "0",
            "115792089237316195423570985008687907853269984665640564039457584007913129639935",
            "0 to 2^256-1",
        ),
    }
}

/// Whether the digit string `a` (no leading zeros) is at most `b` (no leading zeros).
fn at_most(a: &str, b: &str) -> bool {
    (a.len(), a) <= (b.len(), b)
}

/// A whole number of an integer type, checked against the type's range.
fn whole(kind: Kind, s: &str) -> Result<Stored<'_>, String> {
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(if is_number(s) {
            format!(
                "{} is not a whole number ({} takes no fraction)",
                shown(s),
                kind.name()
            )
        } else {
            format!("{} is not a number", shown(s))
        });
    }
    let digits = unsigned.trim_start_matches('0');
    let negative = s.starts_with('-') && !digits.is_empty();
    let (below, above, range) = bounds(kind);
    if negative && kind == Kind::Uint256 {
        return Err(format!("{s} is negative: uint256 takes {range}"));
    }
    if !at_most(digits, if negative { below } else { above }) {
        return Err(format!(
            "{} is out of range for {} ({range})",
            shown(s),
            kind.name()
        ));
    }
    if matches!(kind, Kind::Integer | Kind::Bigint) {
        let v: i128 = digits.parse().unwrap_or(0);
        return Ok(Stored::Int(if negative { -v } else { v } as i64));
    }
    Ok(Stored::Text(match (negative, digits.is_empty()) {
        (_, true) => Cow::Borrowed("0"),
        (false, false) if digits.len() == s.len() => Cow::Borrowed(s),
        (false, false) => Cow::Borrowed(digits),
        (true, false) => Cow::Owned(format!("-{digits}")),
    }))
}

fn double(s: &str) -> Result<Stored<'_>, String> {
    if !is_number(s) {
        return Err(format!("{} is not a number", shown(s)));
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Stored::Float(f)),
        _ => Err(format!("{} is out of range for double", shown(s))),
    }
}

/// `0x` + hex (an even number of digits), or base64.
fn binary(s: &str) -> Result<Vec<u8>, String> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.len() % 2 == 1 {
            return Err(format!("{} has an odd number of hex digits", shown(s)));
        }
        let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        return hex
            .as_bytes()
            .chunks(2)
            .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| format!("{} is not valid hex", shown(s)));
    }
    base64(s).ok_or_else(|| format!("{} is neither 0x-prefixed hex nor base64", shown(s)))
}

/// Base64, standard or URL-safe alphabet, padding optional.
fn base64(s: &str) -> Option<Vec<u8>> {
    let body = s.trim_end_matches('=');
    if body.len() % 4 == 1 || s.len() - body.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6 | v as u32) & 0xff_ffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Days since the epoch of a `YYYY-MM-DD` calendar day.
pub fn date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        let t = &s[r];
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse::<u32>().ok())?
    };
    let (y, m, d) = (num(0..4)? as i64, num(5..7)?, num(8..10)?);
    ((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)).then(|| days_from_civil(y, m, d))
}

/// Two digits at `i` of `b`, at most `max`.
fn two(b: &[u8], i: usize, max: i64) -> Option<i64> {
    let (x, y) = (*b.get(i)?, *b.get(i + 1)?);
    let v = (x as char).to_digit(10)? * 10 + (y as char).to_digit(10)?;
    (v as i64 <= max).then_some(v as i64)
}

/// The offset of a zone designator, in seconds east of UTC.
fn zone(z: &str) -> Option<i64> {
    let z = z.strip_prefix(' ').unwrap_or(z);
    if z.is_empty() || z == "Z" || z == "z" || z == "UTC" {
        return Some(0);
    }
    let sign = match z.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let b = &z.as_bytes()[1..];
    let h = two(b, 0, 23)?;
    let m = match b.len() {
        2 => 0,
        4 => two(b, 2, 59)?,
        5 if b[2] == b':' => two(b, 3, 59)?,
        _ => return None,
    };
    Some(sign * (h * 3600 + m * 60))
}

/// Microseconds since the epoch (UTC) of an ISO 8601 timestamp, or of a date alone.
pub fn timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let days = date(s.get(..10)?)?;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(days * 86_400_000_000);
    }
    let b = rest.strip_prefix(['T', 't', ' '])?.as_bytes();
    let (h, mi) = (two(b, 0, 23)?, two(b, 3, 59)?);
    if b.get(2) != Some(&b':') {
        return None;
    }
    let (mut sec, mut micros, mut i) = (0, 0, 5);
    if b.get(5) == Some(&b':') {
        sec = two(b, 6, 59)?;
        i = 8;
        if matches!(b.get(8), Some(b'.' | b',')) {
            let n = b[9..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 || n > 9 {
                return None;
            }
            let frac = std::str::from_utf8(&b[9..9 + n]).ok()?;
            micros = format!("{:0<6}", &frac[..n.min(6)]).parse::<i64>().ok()?;
            i = 9 + n;
        }
    }
    let offset = zone(std::str::from_utf8(&b[i..]).ok()?)?;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    Some(secs * 1_000_000 + micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(kind: Kind, s: &str) -> Stored<'_> {
        check(kind, Raw::Text(s)).unwrap()
    }

    fn err(kind: Kind, s: &str) -> String {
        check(kind, Raw::Text(s)).unwrap_err()
    }

    #[test]
    fn whole_numbers_keep_to_their_ranges() {
        assert_eq!(
            ok(Kind::Integer, "-2147483648"),
            Stored::Int(-2_147_483_648)
        );
        assert!(err(Kind::Integer, "2147483648").contains("out of range for integer"));
        assert_eq!(
            ok(Kind::Bigint, "9223372036854775807"),
            Stored::Int(i64::MAX)
        );
        assert_eq!(
            ok(Kind::Bigint, "-9223372036854775808"),
            Stored::Int(i64::MIN)
        );
        assert!(err(Kind::Bigint, "9223372036854775808").contains("out of range"));
        assert!(err(Kind::Bigint, "1.5").contains("not a whole number"));
        assert!(err(Kind::Integer, "1e3").contains("not a whole number"));
        assert!(err(Kind::Integer, "abc").contains("is not a number"));
        assert!(err(Kind::Uint256, "-5").contains("negative"));
        assert_eq!(ok(Kind::Uint256, "-0"), Stored::Text("0".into()));
        assert_eq!(ok(Kind::Uint256, "007"), Stored::Text("7".into()));
        let max = bounds(Kind::Uint256).1;
        assert_eq!(ok(Kind::Uint256, max), Stored::Text(max.into()));
        assert!(err(Kind::Uint256, &format!("{max}0")).contains("out of range"));
        let min = format!("-{}", bounds(Kind::Int256).0);
        assert_eq!(ok(Kind::Int256, &min), Stored::Text(min.clone().into()));
        assert!(err(Kind::Int256, bounds(Kind::Int256).0).contains("out of range"));
        let json = check(Kind::Bigint, Raw::Number("42")).unwrap();
        assert_eq!(json, Stored::Int(42));
    }

    #[test]
    fn other_types_check_their_text() {
        assert_eq!(ok(Kind::Double, "2.5e3"), Stored::Float(2500.0));
        assert!(err(Kind::Double, "NaN").contains("not a number"));
        assert!(err(Kind::Double, "1e999").contains("out of range"));
        assert_eq!(ok(Kind::Boolean, "TRUE"), Stored::Bool(true));
        assert!(err(Kind::Boolean, "yes").contains("not a boolean"));
        assert_eq!(
            ok(Kind::Varbinary, "0xDEadBE"),
            Stored::Bytes(vec![0xde, 0xad, 0xbe])
        );
        assert_eq!(
            ok(Kind::Varbinary, "3q2+7w=="),
            Stored::Bytes(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert_eq!(
            ok(Kind::Varbinary, "3q2-7w"),
            Stored::Bytes(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert!(err(Kind::Varbinary, "0xabc").contains("odd number"));
        assert!(err(Kind::Varbinary, "0xzz").contains("not valid hex"));
        assert!(err(Kind::Varbinary, "not base64!").contains("neither"));
        assert_eq!(ok(Kind::Date, "2024-02-29"), Stored::Int(19_782));
        assert!(err(Kind::Date, "2023-02-29").contains("not a date"));
        assert!(check(Kind::Date, Raw::Number("20240101")).is_err());
        assert!(check(Kind::Varchar, Raw::Nested).is_err());
        assert_eq!(
            check(Kind::Varchar, Raw::Number("1.50")).unwrap(),
            Stored::Text("1.50".into())
        );
    }

    #[test]
    fn timestamps_are_iso_8601_with_or_without_a_zone() {
        let at = 1_709_671_859_000_000; // 2024-03-05 20:50:59 UTC
        for s in [
            "2024-03-05T20:50:59",
            "2024-03-05 20:50:59",
            "2024-03-05T20:50:59Z",
            "2024-03-05 20:50:59 UTC",
            "2024-03-05T22:50:59+02:00",
            "2024-03-05T19:50:59-0100",
            "2024-03-05T21:50:59+01",
        ] {
            assert_eq!(timestamp(s), Some(at), "{s}");
        }
        assert_eq!(timestamp("2024-03-05 20:50:59.123"), Some(at + 123_000));
        assert_eq!(
            timestamp("2024-03-05T20:50:59.1234567Z"),
            Some(at + 123_456)
        );
        assert_eq!(timestamp("2024-03-05T20:50"), Some(at - 59_000_000));
        assert_eq!(timestamp("2024-03-05"), Some(at - 75_059_000_000));
        for bad in [
            "2024-03-05T25:00:00",
            "2024-13-01",
            "2024-03-05T20:50:59 CET",
            "yesterday",
        ] {
            assert_eq!(timestamp(bad), None, "{bad}");
        }
        assert!(err(Kind::Timestamp, "soon").contains("not an ISO 8601 timestamp"));
    }
}
