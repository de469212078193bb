//! Rows written to Dune's uploaded tables (API reference §9 and §11): which Dune column type a
//! PostgreSQL type becomes, which PostgreSQL types a Dune column accepts, and the NDJSON an
//! insert sends, with every value checked against the Dune type before anything is sent.
//!
//! Values: booleans and 64-bit integers as JSON numbers, doubles in their shortest form,
//! `uint256`/`int256` as decimal strings (a JSON number would lose digits in most readers),
//! other numerics as JSON numbers written with PostgreSQL's own digits, bytea as `0x` and
//! lowercase hex, timestamps in ISO 8601 UTC (`2024-03-01T12:00:00.000000Z`), dates as
//! `YYYY-MM-DD`, NULL as `null`, everything else as a JSON string.

use crate::time::{date_text, timestamp_text};
use crate::type_table::oid;
use dune_api::DuneType;

/// A column type of Dune's uploaded tables (§9; the SDKs' `ColumnType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadType {
    /// `varchar`
    Varchar,
    /// `varbinary`
    Varbinary,
    /// `uint256`: 0 ≤ x < 2^256
    Uint256,
    /// `int256`: -2^255 ≤ x < 2^255
    Int256,
    /// `bigint`: 64-bit
    Bigint,
    /// `integer`: 32-bit
    Integer,
    /// `double`
    Double,
    /// `boolean`
    Boolean,
    /// `timestamp` (UTC)
    Timestamp,
    /// `date`
    Date,
}

/// 2^255, the bound of int256 (exclusive above, -2^255 inclusive below).
const TWO_255: &str =
    "57896044618658097711785492504343953926634992332820282019728792003956564819968";
/// 2^256, the bound of uint256 (exclusive).
const TWO_256: &str =
    "115792089237316195423570985008687907853269984665640564039457584007913129639936";

impl UploadType {
    /// Dune's name of the type, as an upload schema writes it.
    pub fn name(self) -> &'static str {
        match self {
            UploadType::Varchar => "varchar",
            UploadType::Varbinary => "varbinary",
            UploadType::Uint256 => "uint256",
            UploadType::Int256 => "int256",
            UploadType::Bigint => "bigint",
            UploadType::Integer => "integer",
            UploadType::Double => "double",
            UploadType::Boolean => "boolean",
            UploadType::Timestamp => "timestamp",
            UploadType::Date => "date",
        }
    }

    /// The upload type of a Dune column type (a table's column as Dune lists it, or a
    /// `dune_type` option); None for a type an upload cannot declare (arrays, maps, decimal).
    pub fn of(dune: &DuneType) -> Option<UploadType> {
        Some(match dune {
            t if t.is_text() => UploadType::Varchar,
            DuneType::Varbinary => UploadType::Varbinary,
            DuneType::Uint256 => UploadType::Uint256,
            DuneType::Int256 => UploadType::Int256,
            DuneType::Bigint => UploadType::Bigint,
            t if t.is_integer() => UploadType::Integer,
            DuneType::Double | DuneType::Real => UploadType::Double,
            DuneType::Boolean => UploadType::Boolean,
            DuneType::Timestamp { .. } => UploadType::Timestamp,
            DuneType::Date => UploadType::Date,
            _ => return None,
        })
    }
}

/// The upload type of a column whose base type is `base_oid` (a domain's base type, with its
/// typmod), for creating a Dune table from it (`dune_create_table`) and for writing it
/// (INSERT): its `declared` type (the column's `dune_type` option) if an upload can declare it,
/// else the `remote` type (the Dune table's column, when known), else [`upload_type_for`]'s map.
/// None when none applies (an interval, a range, an array).
pub fn column_type(
    base_oid: u32,
    typmod: i32,
    declared: Option<&DuneType>,
    remote: Option<&DuneType>,
) -> Option<UploadType> {
    declared
        .and_then(UploadType::of)
        .or_else(|| remote.and_then(UploadType::of))
        .or_else(|| upload_type_for(base_oid, typmod))
}

/// The scale of a `numeric(p, s)` typmod; None without one.
fn numeric_scale(typmod: i32) -> Option<i32> {
    (typmod >= 4).then(|| ((typmod - 4) & 0xffff) as i16 as i32)
}

/// Whether `oid` is a type whose values go to Dune as text (`varchar`).
fn textual(type_oid: u32) -> bool {
    const UUID: u32 = 2950;
    const NAME: u32 = 19;
    const INET: u32 = 869;
    const CIDR: u32 = 650;
    const MACADDR: u32 = 829;
    const CITEXT_LIKE: [u32; 5] = [oid::TEXT, oid::VARCHAR, oid::BPCHAR, oid::JSON, oid::JSONB];
    CITEXT_LIKE.contains(&type_oid) || [UUID, NAME, INET, CIDR, MACADDR].contains(&type_oid)
}

/// The Dune type a PostgreSQL column becomes when a table is created from its definition, by
/// this declared rule: boolean → boolean; smallint, integer → integer; bigint → bigint; real,
/// double precision → double; numeric(p, 0) → int256 (exact; uint256 is never guessed, a
/// sign cannot be known from a type); other numerics → double (rounded to 15–17 significant
/// digits: declare numeric(p, 0) or give the columns as jsonb to keep them exact); text,
/// varchar, char, name, uuid, json, jsonb, inet, cidr, macaddr → varchar; bytea → varbinary;
/// timestamp, timestamptz → timestamp; date → date. None: no Dune counterpart (arrays,
/// intervals, ranges, geometric and user types).
pub fn upload_type_for(type_oid: u32, typmod: i32) -> Option<UploadType> {
    Some(match type_oid {
        oid::BOOL => UploadType::Boolean,
        oid::INT2 | oid::INT4 => UploadType::Integer,
        oid::INT8 => UploadType::Bigint,
        oid::FLOAT4 | oid::FLOAT8 => UploadType::Double,
        oid::NUMERIC if numeric_scale(typmod) == Some(0) => UploadType::Int256,
        oid::NUMERIC => UploadType::Double,
        oid::BYTEA => UploadType::Varbinary,
        oid::TIMESTAMP | oid::TIMESTAMPTZ => UploadType::Timestamp,
        oid::DATE => UploadType::Date,
        t if textual(t) => UploadType::Varchar,
        _ => return None,
    })
}

/// Whether values of PostgreSQL type `type_oid` can be written into a Dune column of type
/// `dune`: text-like into varchar only, bytea into varbinary only, integers and numerics into
/// the integer types and double (each value then checked), floats into double, boolean into
/// boolean, timestamps and dates into timestamp, dates into date.
pub fn accepts(dune: UploadType, type_oid: u32) -> bool {
    use UploadType::*;
    match dune {
        Varchar => textual(type_oid),
        Varbinary => type_oid == oid::BYTEA,
        Uint256 | Int256 | Bigint | Integer => {
            [oid::INT2, oid::INT4, oid::INT8, oid::NUMERIC].contains(&type_oid)
        }
        Double => [
            oid::INT2,
            oid::INT4,
            oid::INT8,
            oid::NUMERIC,
            oid::FLOAT4,
            oid::FLOAT8,
        ]
        .contains(&type_oid),
        Boolean => type_oid == oid::BOOL,
        Timestamp => [oid::TIMESTAMP, oid::TIMESTAMPTZ, oid::DATE].contains(&type_oid),
        Date => type_oid == oid::DATE,
    }
}

/// Compares two non-negative decimal integers without leading zeros.
fn less_digits(a: &str, b: &str) -> bool {
    (a.len(), a) < (b.len(), b)
}

/// Checks a whole number (in decimal, as PostgreSQL writes it) against an integer type.
fn integer_fits(negative: bool, digits: &str, t: UploadType) -> Result<(), String> {
    let fits = match t {
        UploadType::Uint256 => !negative && less_digits(digits, TWO_256),
        UploadType::Int256 if negative => digits == TWO_255 || less_digits(digits, TWO_255),
        UploadType::Int256 => less_digits(digits, TWO_255),
        UploadType::Bigint => {
            let bound = if negative {
                "9223372036854775808"
            } else {
                "9223372036854775807"
            };
            digits == bound || less_digits(digits, bound)
        }
        _ => {
            let bound = if negative { "2147483648" } else { "2147483647" };
            digits == bound || less_digits(digits, bound)
        }
    };
    if fits {
        return Ok(());
    }
    Err(match t {
        UploadType::Uint256 if negative => {
            "is negative, and Dune's uint256 holds 0 to 2^256-1".into()
        }
        _ => format!("is out of the range of Dune's {}", t.name()),
    })
}

/// One row being written: the values of one JSON object, in the columns' order.
pub struct RowWriter<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    first: bool,
}

impl RowWriter<'_> {
    fn key(&mut self, key: &str) {
        self.out.push(if self.first { b'{' } else { b',' });
        self.first = false;
        serde_json::to_writer(&mut *self.out, key).expect("writing to a Vec cannot fail");
        self.out.push(b':');
    }

    /// `key: null`.
    pub fn null(&mut self, key: &str) {
        self.key(key);
        self.out.extend_from_slice(b"null");
    }

    /// A boolean.
    pub fn boolean(&mut self, key: &str, v: bool) {
        self.key(key);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// A 64-bit integer into an integer type or double; big types get a string.
    pub fn integer(&mut self, key: &str, v: i64, t: UploadType) -> Result<(), String> {
        if t != UploadType::Double {
            integer_fits(v < 0, &v.unsigned_abs().to_string(), t)?;
        }
        self.key(key);
        match t {
            UploadType::Uint256 | UploadType::Int256 => {
                self.out.extend_from_slice(format!("\"{v}\"").as_bytes())
            }
            _ => self.out.extend_from_slice(v.to_string().as_bytes()),
        }
        Ok(())
    }

    /// A float into double, in its shortest form (`f32` values keep their own digits).
    pub fn float(&mut self, key: &str, v: f64, shortest: &str) -> Result<(), String> {
        if !v.is_finite() {
            return Err(format!(
                "is {shortest}: an upload's double holds finite numbers only (out of range)"
            ));
        }
        self.key(key);
        self.out.extend_from_slice(shortest.as_bytes());
        Ok(())
    }

    /// A numeric written by PostgreSQL (`-12.50`, `NaN`, `Infinity`) into a number type.
    pub fn numeric(&mut self, key: &str, text: &str, t: UploadType) -> Result<(), String> {
        if text.contains(['N', 'I', 'n', 'i']) {
            return Err(format!(
                "is {text}: Dune's {} holds finite numbers only (out of range)",
                t.name()
            ));
        }
        if t == UploadType::Double {
            self.key(key);
            self.out.extend_from_slice(text.as_bytes());
            return Ok(());
        }
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        if frac.bytes().any(|b| b != b'0') {
            return Err(format!(
                "has a fraction ({text}), and Dune's {} holds whole numbers",
                t.name()
            ));
        }
        let digits = whole.trim_start_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        let negative = negative && digits != "0";
        integer_fits(negative, digits, t)?;
        self.key(key);
        let sign = if negative { "-" } else { "" };
        match t {
            UploadType::Uint256 | UploadType::Int256 => self
                .out
                .extend_from_slice(format!("\"{sign}{digits}\"").as_bytes()),
            _ => self
                .out
                .extend_from_slice(format!("{sign}{digits}").as_bytes()),
        }
        Ok(())
    }

    /// A string.
    pub fn text(&mut self, key: &str, v: &str) {
        self.key(key);
        serde_json::to_writer(&mut *self.out, v).expect("writing to a Vec cannot fail");
    }

    /// Bytes as `"0x…"` in lowercase hex.
    pub fn bytes(&mut self, key: &str, v: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.key(key);
        self.out.reserve(v.len() * 2 + 4);
        self.out.extend_from_slice(b"\"0x");
        for b in v {
            self.out.push(HEX[(b >> 4) as usize]);
            self.out.push(HEX[(b & 15) as usize]);
        }
        self.out.push(b'"');
    }

    /// A timestamp (microseconds since 2000-01-01, UTC for timestamptz) in ISO 8601 UTC.
    pub fn timestamp(&mut self, key: &str, micros: i64) -> Result<(), String> {
        let text = timestamp_text(micros).ok_or_else(|| {
            "is infinite or outside the years 1 to 9999, which Dune's timestamp cannot hold"
                .to_string()
        })?;
        self.key(key);
        self.out
            .extend_from_slice(format!("\"{}Z\"", text.replacen(' ', "T", 1)).as_bytes());
        Ok(())
    }

    /// A date (days since 2000-01-01) as `YYYY-MM-DD`, or midnight UTC for a timestamp column.
    pub fn date(&mut self, key: &str, days: i32, t: UploadType) -> Result<(), String> {
        let text = date_text(days).ok_or_else(|| {
            "is infinite or outside the years 1 to 9999, which Dune cannot hold".to_string()
        })?;
        self.key(key);
        let v = if t == UploadType::Timestamp {
            format!("\"{text}T00:00:00Z\"")
        } else {
            format!("\"{text}\"")
        };
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }

    /// Ends the row; a row with no column is `{}`.
    pub fn finish(self) {
        if self.first {
            self.out.push(b'{');
        }
        self.out.extend_from_slice(b"}\n");
    }

    /// Takes the row back out (a value was refused).
    pub fn discard(self) {
        self.out.truncate(self.start);
    }
}

/// NDJSON rows for one insert request (`application/x-ndjson`), one object per line.
#[derive(Debug, Default)]
pub struct NdjsonBatch {
    out: Vec<u8>,
    rows: u64,
}

impl NdjsonBatch {
    /// An empty batch with room for `bytes`.
    pub fn with_capacity(bytes: usize) -> NdjsonBatch {
        NdjsonBatch {
            out: Vec::with_capacity(bytes),
            rows: 0,
        }
    }

    /// Writes one row with `f`; if `f` refuses a value the row is taken back out.
    pub fn row<E>(&mut self, f: impl FnOnce(&mut RowWriter) -> Result<(), E>) -> Result<(), E> {
        let start = self.out.len();
        let mut w = RowWriter {
            out: &mut self.out,
            start,
            first: true,
        };
        match f(&mut w) {
            Ok(()) => {
                w.finish();
                self.rows += 1;
                Ok(())
            }
            Err(e) => {
                w.discard();
                Err(e)
            }
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether no row was written.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The body and its row count; the batch is empty again (with the same capacity).
    pub fn take(&mut self) -> (Vec<u8>, u64) {
        let cap = self.out.capacity();
        let body = std::mem::replace(&mut self.out, Vec::with_capacity(cap));
        (body, std::mem::take(&mut self.rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(f: impl FnOnce(&mut RowWriter) -> Result<(), String>) -> Result<String, String> {
        let mut b = NdjsonBatch::default();
        b.row(f)?;
        Ok(String::from_utf8(b.take().0).unwrap())
    }

    #[test]
    fn values_are_written_as_dune_reads_them() {
        let row = one(|w| {
            w.bytes("address", &[0xde, 0xad, 0x01]);
            w.text("label", "a \"b\"\n");
            w.timestamp("at", 0)?;
            w.date("d", -1, UploadType::Date)?;
            w.numeric("n", "-000.000", UploadType::Int256)?;
            w.numeric(
                "big",
                "115792089237316195423570985008687907853269984665640564039457584007913129639935",
                UploadType::Uint256,
            )?;
            w.numeric("x", "12.50", UploadType::Double)?;
            w.integer("i", -5, UploadType::Bigint)?;
            w.float("f", 0.1, "0.1")?;
            w.boolean("ok", true);
            w.null("gone");
            Ok(())
        })
        .unwrap();
        assert_eq!(
            row,
            "{\"address\":\"0xdead01\",\"label\":\"a \\\"b\\\"\\n\",\"at\":\"2000-01-01T00:00:00.000000Z\",\"d\":\"1999-12-31\",\"n\":\"0\",\"big\":\"115792089237316195423570985008687907853269984665640564039457584007913129639935\",\"x\":12.50,\"i\":-5,\"f\":0.1,\"ok\":true,\"gone\":null}\n"
        );
        let v: serde_json::Value = serde_json::from_str(row.trim()).unwrap();
        assert_eq!(v["big"].as_str().unwrap().len(), 78);
    }

    #[test]
    fn values_dune_cannot_hold_are_refused_and_the_row_taken_back() {
        let mut b = NdjsonBatch::default();
        b.row(|w| -> Result<(), String> {
            w.text("a", "x");
            Ok(())
        })
        .unwrap();
        let before = b.len();
        let e = b
            .row(|w| {
                w.text("a", "y");
                w.numeric("n", "-1", UploadType::Uint256)
            })
            .unwrap_err();
        assert!(e.contains("is negative"), "{e}");
        assert_eq!((b.len(), b.rows()), (before, 1));
        let refuse = |text: &str, t| one(|w| w.numeric("n", text, t)).unwrap_err();
        assert!(refuse("1.5", UploadType::Int256).contains("has a fraction"));
        assert!(refuse("NaN", UploadType::Double).contains("finite numbers only"));
        assert!(refuse(TWO_256, UploadType::Uint256).contains("out of the range"));
        assert!(refuse(TWO_255, UploadType::Int256).contains("out of the range"));
        assert!(one(|w| w.numeric("n", &format!("-{TWO_255}"), UploadType::Int256)).is_ok());
        assert!(refuse("2147483648", UploadType::Integer).contains("out of the range"));
        assert!(one(|w| w.numeric("n", "-2147483648", UploadType::Integer)).is_ok());
        assert!(refuse("9223372036854775808", UploadType::Bigint).contains("range"));
        assert!(one(|w| w.integer("n", i64::from(i32::MAX) + 1, UploadType::Integer)).is_err());
        assert!(one(|w| w.integer("n", -1, UploadType::Uint256)).is_err());
        assert_eq!(
            one(|w| w.integer("n", 3_000_000_000, UploadType::Double)).unwrap(),
            "{\"n\":3000000000}\n"
        );
        assert!(one(|w| w.float("f", f64::NAN, "NaN")).is_err());
        assert!(one(|w| w.timestamp("t", i64::MAX)).is_err());
        assert!(one(|w| w.date("d", i32::MIN, UploadType::Date)).is_err());
    }

    #[test]
    fn the_type_map_is_the_declared_rule() {
        let numeric = |p: i32, s: i32| ((p << 16) | s) + 4;
        assert_eq!(
            upload_type_for(oid::NUMERIC, numeric(78, 0)),
            Some(UploadType::Int256)
        );
        assert_eq!(
            upload_type_for(oid::NUMERIC, numeric(10, 2)),
            Some(UploadType::Double)
        );
        assert_eq!(upload_type_for(oid::NUMERIC, -1), Some(UploadType::Double));
        assert_eq!(upload_type_for(oid::TEXT, -1), Some(UploadType::Varchar));
        assert_eq!(upload_type_for(oid::BYTEA, -1), Some(UploadType::Varbinary));
        assert_eq!(
            upload_type_for(oid::TIMESTAMPTZ, -1),
            Some(UploadType::Timestamp)
        );
        assert_eq!(upload_type_for(1186, -1), None); // interval
        assert!(!accepts(UploadType::Varchar, oid::BYTEA));
        assert!(!accepts(UploadType::Varbinary, oid::TEXT));
        assert!(accepts(UploadType::Uint256, oid::NUMERIC));
        let ty = DuneType::parse;
        assert_eq!(
            UploadType::of(&ty("timestamp(3) with time zone")),
            Some(UploadType::Timestamp)
        );
        assert_eq!(UploadType::of(&ty("array(varchar)")), None);
        let varchar = ty("varchar");
        assert_eq!(
            column_type(oid::BYTEA, -1, None, Some(&varchar)),
            Some(UploadType::Varchar),
            "the Dune table's type over the map"
        );
        assert_eq!(
            column_type(oid::TEXT, -1, Some(&ty("uint256")), Some(&varchar)),
            Some(UploadType::Uint256),
            "dune_type over the Dune table's"
        );
        assert_eq!(column_type(1186, -1, Some(&ty("json")), None), None);
    }
}
