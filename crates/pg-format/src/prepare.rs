//! Decoding a page for PostgreSQL on the I/O thread, so that the backend only builds datums:
//! by-value types become machine words (integers, floats, booleans, timestamps as microseconds
//! since 2000-01-01, dates as days since then), byte strings and texts go to one arena per
//! page (NUL-terminated, for input functions), and the parsed JSON values are freed on the
//! thread that made them.

use crate::jsonb;
use crate::time::{PG_EPOCH_UNIX_SECS, days_from_civil};
use crate::values;
use serde::de;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// What a column's values are decoded into on the I/O thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// smallint: a word, range-checked.
    Int2,
    /// integer: a word, range-checked.
    Int4,
    /// bigint: a word, range-checked.
    Int8,
    /// real: the f32's bits.
    Float4,
    /// double precision: the f64's bits.
    Float8,
    /// boolean: 0 or 1.
    Bool,
    /// text: the string's bytes (anything else as JSON).
    Text,
    /// bytea: Dune's 0x hex decoded.
    Bytes,
    /// timestamptz: microseconds since 2000-01-01 UTC (Dune's timestamp forms only).
    TimestampTz,
    /// timestamp: microseconds since 2000-01-01.
    Timestamp,
    /// date: days since 2000-01-01.
    Date,
    /// JSON text, for jsonb/json input.
    Json,
    /// The value's text, for the type's input function.
    Raw,
}

/// One decoded value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    /// SQL NULL (JSON null, or a column missing from the row).
    Null,
    /// The value as a machine word (i64, f64 bits, bool, micros, days).
    Word(u64),
    /// Bytes in the arena (followed by a NUL).
    Bytes {
        /// Offset in the arena.
        start: u32,
        /// Length, without the NUL.
        len: u32,
    },
    /// A complete jsonb datum (varlena header included) in the arena.
    Jsonb {
        /// Offset in the arena.
        start: u32,
        /// Length of the datum.
        len: u32,
    },
    /// A value that does not fit: index into `problems`.
    Bad(u32),
}

/// A page decoded for a table's columns: its cells, and the arena their bytes live in.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Cells per row (the number of targets).
    pub width: usize,
    /// Row-major: `width` cells per row.
    pub cells: Vec<Cell>,
    /// The bytes of `Bytes` and `Jsonb` cells.
    pub arena: Vec<u8>,
    /// (problem, the value shortened) for each Bad cell.
    pub problems: Vec<(String, String)>,
}

impl Prepared {
    /// Rows decoded.
    pub fn rows(&self) -> usize {
        self.cells.len().checked_div(self.width).unwrap_or(0)
    }

    /// The bytes of a `Bytes` or `Jsonb` cell.
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
        let start = self.arena.len();
        self.arena.reserve(digits.len() / 2 + 1);
        let mut invalid = 0u8;
        for pair in digits.chunks_exact(2) {
            let (hi, lo) = (HEX[pair[0] as usize], HEX[pair[1] as usize]);
            invalid |= hi | lo;
            self.arena.push(hi << 4 | lo);
        }
        if invalid & 0xF0 != 0 {
            self.arena.truncate(start);
            return None;
        }
        let len = (self.arena.len() - start) as u32;
        self.arena.push(0);
        Some(Cell::Bytes {
            start: start as u32,
            len,
        })
    }

    fn bad(&mut self, problem: String, raw: &str) -> Cell {
        self.problems.push((problem, values::shorten(raw)));
        Cell::Bad(self.problems.len() as u32 - 1)
    }
}

/// The value of each hex digit; 0xFF for anything else.
const HEX: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0i64, |acc, d| {
        acc.checked_mul(10)?.checked_add((d - b'0') as i64)
    })
}

/// Microseconds since 2000-01-01 (UTC) of Dune's timestamp forms: `2024-03-05 20:50:59.123 UTC`,
/// `2024-03-05T20:50:59Z`, `2024-03-05 20:50:59`. None for anything else (which PostgreSQL's
/// own parser then reads).
pub(crate) fn timestamp_micros(s: &str) -> Option<i64> {
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
pub(crate) fn date_days(s: &str) -> Option<i32> {
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

/// A raw JSON value's string contents (unescaped only when it has escapes), or None if it is
/// not a string.
fn string_of(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.starts_with('"') {
        return None;
    }
    if raw.contains('\\') {
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(&raw[1..raw.len() - 1]))
    }
}

fn integer(raw: &str, min: i64, max: i64, what: &str) -> Result<u64, String> {
    let text = string_of(raw);
    let t = text.as_deref().unwrap_or(raw).trim();
    let n = t.parse::<i64>().ok().or_else(|| {
        let f = t.parse::<f64>().ok()?;
        (text.is_none() && f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
    });
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n as u64),
        Some(_) => Err(format!("out of range for type {what}")),
        None => Err(format!("not a valid {what}")),
    }
}

fn float(raw: &str) -> Result<f64, String> {
    let text = string_of(raw);
    text.as_deref()
        .unwrap_or(raw)
        .trim()
        .parse::<f64>()
        .map_err(|_| "not a valid double precision".to_string())
}

/// Decodes one raw JSON value for `target`.
fn one(p: &mut Prepared, target: Target, raw: &str) -> Cell {
    if raw == "null" {
        return Cell::Null;
    }
    let word = |r: Result<u64, String>, p: &mut Prepared| match r {
        Ok(w) => Cell::Word(w),
        Err(problem) => p.bad(problem, raw),
    };
    match target {
        Target::Int2 => word(
            integer(raw, i16::MIN as i64, i16::MAX as i64, "smallint"),
            p,
        ),
        Target::Int4 => word(integer(raw, i32::MIN as i64, i32::MAX as i64, "integer"), p),
        Target::Int8 => word(integer(raw, i64::MIN, i64::MAX, "bigint"), p),
        Target::Float4 => word(float(raw).map(|f| (f as f32).to_bits() as u64), p),
        Target::Float8 => word(float(raw).map(f64::to_bits), p),
        Target::Bool => match string_of(raw).as_deref().unwrap_or(raw) {
            "true" => Cell::Word(1),
            "false" => Cell::Word(0),
            _ => p.bad("not a boolean".into(), raw),
        },
        Target::Text | Target::Raw => match string_of(raw) {
            // raw JSON text cannot hold a NUL: only an unescaped string can
            Some(Cow::Borrowed(s)) => p.push_bytes(s.as_bytes()),
            Some(Cow::Owned(s)) => match values::checked(&s) {
                Ok(s) => p.push_bytes(s.as_bytes()),
                Err(problem) => p.bad(problem, raw),
            },
            None => p.push_bytes(raw.as_bytes()),
        },
        Target::Json => p.push_bytes(raw.as_bytes()),
        Target::Bytes => match string_of(raw) {
            Some(s) => p
                .push_hex(&s)
                .unwrap_or_else(|| p.bad("not 0x-prefixed hex".into(), raw)),
            None => p.bad("not 0x-prefixed hex".into(), raw),
        },
        Target::TimestampTz | Target::Timestamp => {
            match string_of(raw).as_deref().and_then(timestamp_micros) {
                Some(m) => Cell::Word(m as u64),
                None => one(p, Target::Raw, raw),
            }
        }
        Target::Date => match string_of(raw).as_deref().and_then(date_days) {
            Some(d) => Cell::Word(d as i64 as u64),
            None => one(p, Target::Raw, raw),
        },
    }
}

/// Matches a key against the wanted column names without allocating: the index of the first
/// column with that name.
struct NameSeed<'a> {
    names: &'a [Option<String>],
    guess: usize,
}

impl<'de> de::DeserializeSeed<'de> for NameSeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> de::Visitor<'de> for NameSeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a column name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        if self
            .names
            .get(self.guess)
            .is_some_and(|n| n.as_deref() == Some(key))
        {
            return Ok(Some(self.guess));
        }
        Ok(self.names.iter().position(|n| n.as_deref() == Some(key)))
    }
}

/// Finds each wanted column's raw value in one row object.
struct RowValues<'a, 'de> {
    names: &'a [Option<String>],
    /// Other columns reading the same Dune column as the first one with that name.
    same: &'a [Vec<usize>],
    out: &'a mut [Option<&'de str>],
}

impl<'de> de::Visitor<'de> for RowValues<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a result row (a JSON object)")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut guess = 0;
        while let Some(hit) = map.next_key_seed(NameSeed {
            names: self.names,
            guess,
        })? {
            match hit {
                Some(i) => {
                    let v: &'de RawValue = map.next_value()?;
                    self.out[i] = Some(v.get());
                    for &j in &self.same[i] {
                        self.out[j] = Some(v.get());
                    }
                    guess = i + 1;
                }
                None => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Prepares `rows` (each one JSON object's text, as in a Dune result page) for columns that
/// read `(Dune column, target)`: `width` is `targets.len()`, one cell per row and target. A
/// column named None, or missing from a row, gives NULL; a value the target cannot hold gives
/// `Cell::Bad` with the problem in `problems`. Text that is not a JSON object gives a row of
/// NULLs (pages are checked to hold objects before they get here).
pub fn prepare<'a>(
    rows: impl ExactSizeIterator<Item = &'a str>,
    targets: &[(Option<String>, Target)],
) -> Prepared {
    let mut p = Prepared {
        width: targets.len(),
        cells: Vec::with_capacity(rows.len() * targets.len()),
        ..Default::default()
    };
    p.arena.reserve(rows.len() * 64);
    let names: Vec<Option<String>> = targets.iter().map(|(n, _)| n.clone()).collect();
    let same: Vec<Vec<usize>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| match n {
            Some(n) if names.iter().position(|m| m.as_deref() == Some(n)) == Some(i) => (i + 1
                ..names.len())
                .filter(|&j| names[j].as_deref() == Some(n))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let mut found: Vec<Option<&str>> = vec![None; targets.len()];
    for row in rows {
        found.iter_mut().for_each(|f| *f = None);
        let mut de = serde_json::Deserializer::from_str(row);
        // rows were checked to be objects when the page was read
        let _ = de::Deserializer::deserialize_map(
            &mut de,
            RowValues {
                names: &names,
                same: &same,
                out: &mut found,
            },
        );
        for (i, (_, target)) in targets.iter().enumerate() {
            let cell = match found[i] {
                Some(raw) => one(&mut p, *target, raw),
                None => Cell::Null,
            };
            p.cells.push(cell);
        }
    }
    p
}

/// Each row (one JSON object's text) as one cell: `Cell::Jsonb`, the complete jsonb datum that
/// jsonb_in would build, when `binary` and the jsonb writer can build it exactly; else
/// `Cell::Bytes`, the row's JSON text (NUL-terminated) for jsonb_in.
pub fn prepare_objects<'a>(rows: impl ExactSizeIterator<Item = &'a str>, binary: bool) -> Prepared {
    let mut p = Prepared {
        width: 1,
        cells: Vec::with_capacity(rows.len()),
        ..Default::default()
    };
    for row in rows {
        let cell = match binary.then(|| jsonb::encode(row)).flatten() {
            Some(datum) => {
                let start = p.arena.len() as u32;
                p.arena.extend_from_slice(&datum);
                Cell::Jsonb {
                    start,
                    len: datum.len() as u32,
                }
            }
            None => p.push_bytes(row.as_bytes()),
        };
        p.cells.push(cell);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The rows of a JSON array, each as its own text (as a page holds them).
    fn rows_of(array: &str) -> Vec<String> {
        serde_json::from_str::<Vec<Box<RawValue>>>(array)
            .unwrap()
            .into_iter()
            .map(|r| r.get().to_string())
            .collect()
    }

    #[test]
    fn nul_characters_are_refused_for_text_but_kept_as_json() {
        let rows = rows_of(r#"[{"t": "a\u0000b", "j": "a\u0000b", "ok": "a\u00e9b"}]"#);
        let name = |s: &str| Some(s.to_string());
        let p = prepare(
            rows.iter().map(String::as_str),
            &[
                (name("t"), Target::Text),
                (name("j"), Target::Json),
                (name("ok"), Target::Text),
            ],
        );
        assert!(matches!(p.cells[0], Cell::Bad(_)));
        assert!(p.problems[0].0.contains("u0000"), "{:?}", p.problems);
        let Cell::Bytes { start, len } = p.cells[1] else {
            panic!()
        };
        assert_eq!(
            p.bytes(start, len),
            br#""a\u0000b""#,
            "jsonb_in decides, with its own error"
        );
        let Cell::Bytes { start, len } = p.cells[2] else {
            panic!()
        };
        assert_eq!(std::str::from_utf8(p.bytes(start, len)).unwrap(), "aéb");
    }

    #[test]
    fn hex_is_decoded_or_refused() {
        let mut p = Prepared::default();
        let Some(Cell::Bytes { start, len }) = p.push_hex("0x00fFaB") else {
            panic!()
        };
        assert_eq!(p.bytes(start, len), &[0x00, 0xff, 0xab]);
        for bad in ["0xzz", "0xabc", "dead", "0x0g"] {
            assert_eq!(p.push_hex(bad), None, "{bad}");
        }
        assert_eq!(
            p.arena.len(),
            4,
            "refused values leave nothing in the arena"
        );
    }

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
        let text = json!([
            {"n": 5, "h": "0xDEad", "t": "x", "f": 1.5, "b": true},
            {"n": "70000", "h": "nothex", "t": null, "f": "2", "b": "false"}
        ])
        .to_string();
        let rows = rows_of(&text);
        let name = |s: &str| Some(s.to_string());
        let targets = [
            (name("n"), Target::Int2),
            (name("h"), Target::Bytes),
            (name("t"), Target::Text),
            (name("f"), Target::Float8),
            (name("b"), Target::Bool),
            (None, Target::Text),
        ];
        let p = prepare(rows.iter().map(String::as_str), &targets);
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
        let o = prepare_objects(rows.iter().map(String::as_str), false);
        let Cell::Bytes { start, len } = o.cells[0] else {
            panic!()
        };
        let text = std::str::from_utf8(o.bytes(start, len)).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(text).unwrap()["h"],
            json!("0xDEad")
        );
    }
}
