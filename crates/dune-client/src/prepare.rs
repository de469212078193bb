//! Decoding a page for PostgreSQL on the I/O thread, so that the backend only builds datums:
//! by-value types become machine words (integers, floats, booleans, timestamps as microseconds
//! since 2000-01-01, dates as days since then), byte strings and texts go to one arena per
//! page (NUL-terminated, for input functions), and the parsed JSON values are freed on the
//! thread that made them.

use crate::rows::Rows;
use crate::time::PG_EPOCH_UNIX_SECS;
use crate::values;
use serde_json::Value;

/// What a column becomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Bool,
    /// text: the string's bytes (anything else as JSON).
    Text,
    /// bytea: Dune's 0x hex decoded.
    Bytes,
    TimestampTz,
    Timestamp,
    Date,
    /// JSON text, for jsonb/json input.
    Json,
    /// The value's text, for the type's input function.
    Raw,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    Null,
    /// The value as a machine word (i64, f64 bits, bool, micros, days).
    Word(u64),
    /// Bytes in the arena (followed by a NUL).
    Bytes {
        start: u32,
        len: u32,
    },
    /// A value that does not fit: index into `problems`.
    Bad(u32),
}

#[derive(Debug, Default)]
pub struct Prepared {
    pub width: usize,
    /// Row-major: `width` cells per row.
    pub cells: Vec<Cell>,
    pub arena: Vec<u8>,
    /// (problem, the value shortened) for each Bad cell.
    pub problems: Vec<(String, String)>,
}

impl Prepared {
    pub fn rows(&self) -> usize {
        self.cells.len().checked_div(self.width).unwrap_or(0)
    }

    pub fn bytes(&self, start: u32, len: u32) -> &[u8] {
        &self.arena[start as usize..(start + len) as usize]
    }

    fn push_bytes(&mut self, b: &[u8]) -> Cell {
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(b);
        self.arena.push(0);
        Cell::Bytes {
            start,
            len: b.len() as u32,
        }
    }

    fn push_hex(&mut self, s: &str) -> Option<Cell> {
        let digits = s.strip_prefix("0x")?.as_bytes();
        if digits.len() % 2 != 0 {
            return None;
        }
        let start = self.arena.len() as u32;
        self.arena.reserve(digits.len() / 2 + 1);
        for pair in digits.chunks_exact(2) {
            let (Some(hi), Some(lo)) = (hex_digit(pair[0]), hex_digit(pair[1])) else {
                self.arena.truncate(start as usize);
                return None;
            };
            self.arena.push(hi << 4 | lo);
        }
        let len = self.arena.len() as u32 - start;
        self.arena.push(0);
        Some(Cell::Bytes { start, len })
    }

    fn bad(&mut self, problem: String, v: &Value) -> Cell {
        self.problems.push((problem, values::shorten(v)));
        Cell::Bad(self.problems.len() as u32 - 1)
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0i64, |acc, d| {
        acc.checked_mul(10)?.checked_add((d - b'0') as i64)
    })
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// Microseconds since 2000-01-01 (UTC) of Dune's timestamp forms: `2024-03-05 20:50:59.123 UTC`,
/// `2024-03-05T20:50:59Z`, `2024-03-05 20:50:59`. None for anything else (which PostgreSQL's
/// own parser then reads).
pub fn timestamp_micros(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let body = s
        .strip_suffix(" UTC")
        .or_else(|| s.strip_suffix('Z'))
        .unwrap_or(s)
        .as_bytes();
    if b.len() < 19
        || body.len() < 19
        || body[4] != b'-'
        || body[7] != b'-'
        || !(body[10] == b' ' || body[10] == b'T')
    {
        return None;
    }
    if body[13] != b':' || body[16] != b':' {
        return None;
    }
    let (y, mo, d) = (
        digits(&body[0..4])?,
        digits(&body[5..7])?,
        digits(&body[8..10])?,
    );
    let (h, mi, sec) = (
        digits(&body[11..13])?,
        digits(&body[14..16])?,
        digits(&body[17..19])?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let frac = match &body[19..] {
        [] => 0,
        [b'.', rest @ ..] if !rest.is_empty() && rest.len() <= 6 => {
            digits(rest)? * 10i64.pow(6 - rest.len() as u32)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - PG_EPOCH_UNIX_SECS;
    Some(secs * 1_000_000 + frac)
}

/// Days since 2000-01-01 of `YYYY-MM-DD` (or the date part of a timestamp form).
pub fn date_days(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() < 10
        || b[4] != b'-'
        || b[7] != b'-'
        || (b.len() > 10 && b[10] != b'T' && b[10] != b' ')
    {
        return None;
    }
    let (y, m, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    i32::try_from(days_from_civil(y, m, d) - PG_EPOCH_UNIX_SECS / 86_400).ok()
}

fn one(p: &mut Prepared, target: Target, v: &Value) -> Cell {
    if v.is_null() {
        return Cell::Null;
    }
    let word = |r: Result<u64, String>, p: &mut Prepared| match r {
        Ok(w) => Cell::Word(w),
        Err(problem) => p.bad(problem, v),
    };
    match target {
        Target::Int2 => word(
            values::integer(v, i16::MIN as i64, i16::MAX as i64, "smallint").map(|n| n as u64),
            p,
        ),
        Target::Int4 => word(
            values::integer(v, i32::MIN as i64, i32::MAX as i64, "integer").map(|n| n as u64),
            p,
        ),
        Target::Int8 => word(
            values::integer(v, i64::MIN, i64::MAX, "bigint").map(|n| n as u64),
            p,
        ),
        Target::Float4 => word(values::float(v).map(|f| (f as f32).to_bits() as u64), p),
        Target::Float8 => word(values::float(v).map(f64::to_bits), p),
        Target::Bool => word(values::boolean(v).map(u64::from), p),
        Target::Text | Target::Raw => match v {
            Value::String(s) => match values::checked(s) {
                Ok(s) => p.push_bytes(s.as_bytes()),
                Err(problem) => p.bad(problem, v),
            },
            other => p.push_bytes(other.to_string().as_bytes()),
        },
        Target::Json => p.push_bytes(v.to_string().as_bytes()),
        Target::Bytes => match v {
            Value::String(s) => p
                .push_hex(s)
                .unwrap_or_else(|| p.bad("not 0x-prefixed hex".into(), v)),
            _ => p.bad("not 0x-prefixed hex".into(), v),
        },
        Target::TimestampTz | Target::Timestamp => match v {
            Value::String(s) => match timestamp_micros(s) {
                Some(m) => Cell::Word(m as u64),
                None => one(p, Target::Raw, v),
            },
            _ => one(p, Target::Raw, v),
        },
        Target::Date => match v {
            Value::String(s) => match date_days(s) {
                Some(d) => Cell::Word(d as i64 as u64),
                None => one(p, Target::Raw, v),
            },
            _ => one(p, Target::Raw, v),
        },
    }
}

/// Prepares `rows` for columns that read `(column index in rows, target)`; a column index of
/// None gives NULL.
pub fn prepare(rows: &Rows, targets: &[(Option<usize>, Target)]) -> Prepared {
    let mut p = Prepared {
        width: targets.len(),
        cells: Vec::with_capacity(rows.len() * targets.len()),
        ..Default::default()
    };
    p.arena.reserve(rows.len() * 64);
    for row in &rows.values {
        for (col, target) in targets {
            let cell = match col.and_then(|c| row.get(c)) {
                Some(v) => one(&mut p, *target, v),
                None => Cell::Null,
            };
            p.cells.push(cell);
        }
    }
    p
}

/// Prepares each row as the text of a JSON object (keys are the column names).
pub fn prepare_objects(rows: &Rows) -> Prepared {
    let mut p = Prepared {
        width: 1,
        cells: Vec::with_capacity(rows.len()),
        ..Default::default()
    };
    let keys: Vec<String> = rows
        .columns
        .iter()
        .map(|c| Value::from(c.as_str()).to_string())
        .collect();
    let mut text = Vec::with_capacity(256);
    for row in &rows.values {
        text.clear();
        text.push(b'{');
        for (i, (k, v)) in keys.iter().zip(row).enumerate() {
            if i > 0 {
                text.push(b',');
            }
            text.extend_from_slice(k.as_bytes());
            text.push(b':');
            serde_json::to_writer(&mut text, v).expect("writing to a Vec cannot fail");
        }
        text.push(b'}');
        let cell = p.push_bytes(&text);
        p.cells.push(cell);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dune_times_become_postgres_words() {
        assert_eq!(timestamp_micros("2000-01-01 00:00:00.000 UTC"), Some(0));
        assert_eq!(timestamp_micros("2000-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(
            timestamp_micros("2024-03-11 20:50:59.123456"),
            Some(763_505_459_123_456)
        );
        assert_eq!(
            timestamp_micros("1999-12-31 23:59:59.5 UTC"),
            Some(-500_000)
        );
        for other in [
            "2024-03-05",
            "2024-03-05 20:50 UTC",
            "2024-03-05 20:50:59+02",
            "2024-13-05 20:50:59",
            "x",
        ] {
            assert_eq!(timestamp_micros(other), None, "{other}");
        }
        assert_eq!(date_days("2000-01-02"), Some(1));
        assert_eq!(date_days("2021-06-01T00:00:00Z"), date_days("2021-06-01"));
        assert_eq!(date_days("2021-6-1"), None);
    }

    #[test]
    fn pages_prepare_into_words_and_an_arena() {
        let rows: Rows = serde_json::from_value(json!([
            {"n": 5, "h": "0xDEad", "t": "x", "f": 1.5, "b": true},
            {"n": "70000", "h": "nothex", "t": null, "f": "2", "b": "false"}
        ]))
        .unwrap();
        let targets = [
            (rows.index_of("n"), Target::Int2),
            (rows.index_of("h"), Target::Bytes),
            (rows.index_of("t"), Target::Text),
            (rows.index_of("f"), Target::Float8),
            (rows.index_of("b"), Target::Bool),
            (None, Target::Text),
        ];
        let p = prepare(&rows, &targets);
        assert_eq!(p.rows(), 2);
        assert_eq!(p.cells[0], Cell::Word(5));
        let Cell::Bytes { start, len } = p.cells[1] else {
            panic!()
        };
        assert_eq!(p.bytes(start, len), &[0xde, 0xad]);
        assert_eq!(p.cells[3], Cell::Word(1.5f64.to_bits()));
        assert_eq!(p.cells[5], Cell::Null);
        assert!(
            matches!(p.cells[6], Cell::Bad(_)),
            "70000 does not fit smallint"
        );
        assert!(matches!(p.cells[7], Cell::Bad(_)));
        assert_eq!(p.cells[8], Cell::Null);
        assert_eq!(p.cells[10], Cell::Word(0));
        assert_eq!(p.problems[0].0, "out of range for type smallint");
        let o = prepare_objects(&rows);
        let Cell::Bytes { start, len } = o.cells[0] else {
            panic!()
        };
        let text = std::str::from_utf8(o.bytes(start, len)).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(text).unwrap()["h"],
            json!("0xDEad")
        );
    }
}
