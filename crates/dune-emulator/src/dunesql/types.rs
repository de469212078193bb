//! DuneSQL types as the SQLite engine keeps them, and their values in Dune's results encoding
//! (API reference §11, as [`crate::tables`] and [`crate::synth`] encode them).
//!
//! Storage in SQLite: varchar as TEXT, varbinary as BLOB, boolean as 0/1, integer and bigint as
//! 64-bit INTEGER, uint256 and int256 as their decimal digits in TEXT columns whose collation
//! ([`NUMBER_COLLATION`]) compares them as numbers (exact over all 256 bits: equality, order,
//! GROUP BY, DISTINCT, min and max; `sum` is an exact aggregate of its own), double as REAL,
//! date and timestamp as INTEGER microseconds since 1970-01-01 00:00:00 UTC (a date is its
//! midnight), so that they compare and sort as instants and a date compares with a timestamp
//! as Trino casts it.

use crate::cells::Kind;
use crate::time::{dune_date, dune_timestamp, dune_timestamp_plain};
use rusqlite::types::Value as Sql;
use serde_json::Value;
use std::fmt::Write;

/// The collation of uint256 and int256 columns (registered by `functions::register`).
pub const NUMBER_COLLATION: &str = "dune_number";

/// A DuneSQL type the engine evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// varchar (any length).
    Varchar,
    /// varbinary.
    Varbinary,
    /// boolean.
    Boolean,
    /// integer (32 bits).
    Integer,
    /// bigint.
    Bigint,
    /// double.
    Double,
    /// uint256: 0 ≤ x < 2^256.
    Uint256,
    /// int256: -2^255 ≤ x < 2^255.
    Int256,
    /// date.
    Date,
    /// timestamp (without time zone), as uploads have it.
    Timestamp,
    /// timestamp(3) with time zone.
    TimestampTz,
    /// interval day to second: only as an operand of timestamp arithmetic.
    Interval,
}

/// (type, name in results' `column_types`, SQLite declared type).
const TYPES: [(DType, &str, &str); 12] = [
    (DType::Varchar, "varchar", "varchar"),
    (DType::Varbinary, "varbinary", "varbinary"),
    (DType::Boolean, "boolean", "boolean"),
    (DType::Integer, "integer", "integer"),
    (DType::Bigint, "bigint", "bigint"),
    (DType::Double, "double", "double"),
    // no "int" in the declared names: SQLite's INTEGER affinity would turn digits past 2^63
    // into a REAL; "char" gives TEXT
    (DType::Uint256, "uint256", "u256char"),
    (DType::Int256, "int256", "i256char"),
    (DType::Date, "date", "date"),
    (DType::Timestamp, "timestamp", "timestamp"),
    // Dune's results spell it without the precision (API reference §11)
    (
        DType::TimestampTz,
        "timestamp with time zone",
        "timestamptz",
    ),
    (DType::Interval, "interval day to second", "interval"),
];

impl DType {
    /// The name results give the type in `column_types`.
    pub fn name(self) -> &'static str {
        TYPES
            .iter()
            .find(|t| t.0 == self)
            .map_or("unknown", |t| t.1)
    }

    /// The declared type of a SQLite column holding this type (its affinity keeps the
    /// storage above: `int` in a name gives INTEGER, `doub` REAL, `char` TEXT, else NUMERIC).
    pub fn declared(self) -> &'static str {
        TYPES.iter().find(|t| t.0 == self).map_or("", |t| t.2)
    }

    /// The column definition of a SQLite column of this type: its declared type, and for the
    /// 256-bit integers the collation that compares their digits as numbers.
    pub fn column_definition(self) -> String {
        match self {
            DType::Uint256 | DType::Int256 => {
                format!("{} COLLATE {NUMBER_COLLATION}", self.declared())
            }
            other => other.declared().to_string(),
        }
    }

    /// uint256 or int256, kept as digits.
    pub fn is_wide(self) -> bool {
        matches!(self, DType::Uint256 | DType::Int256)
    }

    /// The type of a SQLite declared type written by [`DType::declared`].
    pub fn from_declared(decl: &str) -> Option<DType> {
        TYPES
            .iter()
            .find(|t| t.2.eq_ignore_ascii_case(decl))
            .map(|t| t.0)
    }

    /// The type of an uploaded table's column.
    pub fn from_kind(kind: Kind) -> DType {
        match kind {
            Kind::Varchar => DType::Varchar,
            Kind::Varbinary => DType::Varbinary,
            Kind::Uint256 => DType::Uint256,
            Kind::Int256 => DType::Int256,
            Kind::Bigint => DType::Bigint,
            Kind::Integer => DType::Integer,
            Kind::Double => DType::Double,
            Kind::Boolean => DType::Boolean,
            Kind::Timestamp => DType::Timestamp,
            Kind::Date => DType::Date,
        }
    }

    /// The type a DuneSQL type name denotes (`varchar(42)`, `timestamp(3) with time zone`,
    /// `int`); an error names the types the engine cannot evaluate.
    pub fn parse(text: &str) -> Result<DType, String> {
        let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let t = t.to_ascii_lowercase().replace(" (", "(");
        let head: String = t
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let rest = t[head.len()..].trim_start();
        let rest = match rest.strip_prefix('(') {
            Some(r) if head == "varchar" || head == "timestamp" || head == "char" => {
                r.split_once(')').map_or("?", |p| p.1).trim()
            }
            _ => rest,
        };
        let ty = match (head.as_str(), rest) {
            ("varchar" | "char", "") => DType::Varchar,
            ("varbinary", "") => DType::Varbinary,
            ("boolean", "") => DType::Boolean,
            ("integer" | "int", "") => DType::Integer,
            ("bigint", "") => DType::Bigint,
            ("double", "") | ("double", "precision") => DType::Double,
            ("uint256", "") => DType::Uint256,
            ("int256", "") => DType::Int256,
            ("date", "") => DType::Date,
            ("timestamp", "") => DType::Timestamp,
            ("timestamp", "with time zone") => DType::TimestampTz,
            _ => {
                return Err(format!(
                    "type '{t}' is not one the Dune API emulator evaluates (varchar, varbinary, \
                     boolean, integer, bigint, double, uint256, int256, date, timestamp)"
                ));
            }
        };
        Ok(ty)
    }

    /// date, timestamp or timestamp with time zone.
    pub fn is_temporal(self) -> bool {
        matches!(self, DType::Date | DType::Timestamp | DType::TimestampTz)
    }

    /// integer, bigint, uint256 or int256.
    pub fn is_whole(self) -> bool {
        matches!(
            self,
            DType::Integer | DType::Bigint | DType::Uint256 | DType::Int256
        )
    }

    /// A SQLite value of this type in Dune's JSON encoding of results.
    pub fn encode(self, v: &Sql) -> Value {
        match (self, v) {
            (_, Sql::Null) => Value::Null,
            (DType::Boolean, Sql::Integer(i)) => Value::from(*i != 0),
            (DType::Uint256 | DType::Int256, Sql::Integer(i)) => Value::from(i.to_string()),
            (DType::Date, Sql::Integer(us)) => Value::from(dune_date(us.div_euclid(1000))),
            (DType::Timestamp, Sql::Integer(us)) => {
                Value::from(dune_timestamp_plain(us.div_euclid(1000)))
            }
            (DType::TimestampTz, Sql::Integer(us)) => {
                Value::from(dune_timestamp(us.div_euclid(1000)))
            }
            (DType::Interval, Sql::Integer(us)) => Value::from(interval(*us)),
            (DType::Double, Sql::Integer(i)) => Value::from(*i as f64),
            (DType::Varchar, Sql::Integer(i)) => Value::from(i.to_string()),
            (DType::Varchar, Sql::Real(f)) => Value::from(f.to_string()),
            (_, Sql::Integer(i)) => Value::from(*i),
            (_, Sql::Real(f)) => Value::from(*f),
            (_, Sql::Text(s)) => Value::from(s.as_str()),
            (_, Sql::Blob(b)) => Value::from(hex(b)),
        }
    }

    /// The type of a column whose type could not be inferred, from its values: bigint for
    /// integers, double for reals, varchar for text, varbinary for blobs (the first non-NULL
    /// value decides); `None` when every value is NULL.
    pub fn sniff<'a>(values: impl Iterator<Item = &'a Sql>) -> Option<DType> {
        for v in values {
            match v {
                Sql::Null => continue,
                Sql::Integer(_) => return Some(DType::Bigint),
                Sql::Real(_) => return Some(DType::Double),
                Sql::Text(_) => return Some(DType::Varchar),
                Sql::Blob(_) => return Some(DType::Varbinary),
            }
        }
        None
    }
}

/// An interval day to second as Trino prints it: `1 02:03:04.005`.
fn interval(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let ms = us.unsigned_abs() / 1000;
    let (days, rest) = (ms / 86_400_000, ms % 86_400_000);
    let (h, m, s, f) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    );
    format!("{sign}{days} {h:02}:{m:02}:{s:02}.{f:03}")
}

/// `0x` and lowercase hex digits.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_parse_and_encode() {
        assert_eq!(DType::parse("VARCHAR(42)"), Ok(DType::Varchar));
        assert_eq!(
            DType::parse("timestamp(3) with time zone"),
            Ok(DType::TimestampTz)
        );
        assert_eq!(DType::parse("timestamp (6)"), Ok(DType::Timestamp));
        assert_eq!(DType::parse("int"), Ok(DType::Integer));
        assert!(
            DType::parse("decimal(38,0)")
                .unwrap_err()
                .contains("not one")
        );
        let us = 1_709_671_859_123_000;
        assert_eq!(
            DType::TimestampTz.encode(&Sql::Integer(us)),
            Value::from("2024-03-05 20:50:59.123 UTC")
        );
        assert_eq!(
            DType::Date.encode(&Sql::Integer(us)),
            Value::from("2024-03-05")
        );
        assert_eq!(DType::Uint256.encode(&Sql::Integer(7)), Value::from("7"));
        assert_eq!(
            DType::Varbinary.encode(&Sql::Blob(vec![0xAB, 1])),
            Value::from("0xab01")
        );
        assert_eq!(DType::Boolean.encode(&Sql::Integer(1)), Value::from(true));
        for (t, _, decl) in TYPES {
            assert_eq!(DType::from_declared(decl), Some(t));
        }
    }
}
