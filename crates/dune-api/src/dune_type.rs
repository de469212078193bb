//! Dune's column types, parsed once. DuneSQL is Trino's dialect with two more types
//! (`uint256`, `int256`: API reference §9 and §16), and Dune spells a type the way Trino does
//! in `column_types`, `/v1/datasets` and upload schemas: `varchar`, `bigint`, `decimal(38, 0)`,
//! `timestamp(3) with time zone`, `array(varchar)`. Every reader of a type (the comparison
//! rules, literal writing, the upload mapping, IMPORT FOREIGN SCHEMA) reads this one value; a
//! name is parsed here and nowhere else.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A DuneSQL column type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DuneType {
    /// `boolean`.
    Boolean,
    /// `tinyint` (8 bits).
    Tinyint,
    /// `smallint` (16 bits).
    Smallint,
    /// `integer` or `int` (32 bits).
    Integer,
    /// `bigint` (64 bits).
    Bigint,
    /// `real` (IEEE single precision).
    Real,
    /// `double` (IEEE double precision).
    Double,
    /// `decimal(p, s)`: exact, `precision` digits of which `scale` after the point (`decimal`
    /// alone is `decimal(38, 0)`, Trino's default).
    Decimal {
        /// Digits in all (1 to 38).
        precision: u32,
        /// Digits after the point.
        scale: u32,
    },
    /// `uint256`: Dune's unsigned 256-bit integers, 0 ≤ x < 2^256.
    Uint256,
    /// `int256`: Dune's signed 256-bit integers, -2^255 ≤ x < 2^255.
    Int256,
    /// `varchar` or `varchar(n)`.
    Varchar {
        /// The bound on characters, if declared.
        length: Option<u32>,
    },
    /// `char(n)`.
    Char {
        /// The length, if declared.
        length: Option<u32>,
    },
    /// `varbinary`.
    Varbinary,
    /// `date`.
    Date,
    /// `timestamp(p)` or `timestamp(p) with time zone`.
    Timestamp {
        /// Digits of the second's fraction, if declared (Trino's default is 3).
        precision: Option<u32>,
        /// `with time zone`: instants (Dune's are UTC).
        zoned: bool,
    },
    /// Any other type (json, array(…), map(…), row(…), time, interval, ipaddress, …), as
    /// written, lowercased: never compared, never written into a statement.
    Other(String),
}

/// A name's words, lowercased, with spaces around parentheses and commas dropped
/// (`Timestamp(3)  WITH time zone` → `timestamp(3) with time zone`).
fn normalized(text: &str) -> String {
    let lower = text.trim().to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let mut out = words.join(" ");
    for (from, to) in [
        (" (", "("),
        ("( ", "("),
        (" )", ")"),
        (" ,", ","),
        (", ", ","),
    ] {
        while out.contains(from) {
            out = out.replace(from, to);
        }
    }
    out
}

/// The numbers in `(a)` or `(a,b)` at the start of `rest`, and what follows the `)`.
fn arguments(rest: &str) -> Option<(Vec<u32>, &str)> {
    let body = rest.strip_prefix('(')?;
    let end = body.find(')')?;
    let args = body[..end]
        .split(',')
        .map(|a| a.parse::<u32>().ok())
        .collect::<Option<Vec<_>>>()?;
    Some((args, &body[end + 1..]))
}

impl DuneType {
    /// The type Dune's name `text` stands for. Names are case-insensitive and spaces around
    /// the arguments do not matter; a name this module does not know, or a known one with
    /// arguments it cannot read (`decimal(x)`), is [`DuneType::Other`].
    pub fn parse(text: &str) -> DuneType {
        let t = normalized(text);
        Self::known(&t).unwrap_or(DuneType::Other(t))
    }

    fn known(t: &str) -> Option<DuneType> {
        let split = t.find(['(', ' ']).unwrap_or(t.len());
        let (base, rest) = t.split_at(split);
        let plain = |ty: DuneType| rest.is_empty().then_some(ty);
        match base {
            "boolean" => plain(DuneType::Boolean),
            "tinyint" => plain(DuneType::Tinyint),
            "smallint" => plain(DuneType::Smallint),
            "integer" | "int" => plain(DuneType::Integer),
            "bigint" => plain(DuneType::Bigint),
            "real" => plain(DuneType::Real),
            "double" if rest.is_empty() || rest == " precision" => Some(DuneType::Double),
            "uint256" => plain(DuneType::Uint256),
            "int256" => plain(DuneType::Int256),
            "varbinary" => plain(DuneType::Varbinary),
            "date" => plain(DuneType::Date),
            "decimal" => Self::decimal(rest),
            "varchar" | "char" => {
                let length = match rest {
                    "" => None,
                    _ => match arguments(rest)? {
                        (args, "") if args.len() == 1 => Some(args[0]),
                        _ => return None,
                    },
                };
                Some(if base == "varchar" {
                    DuneType::Varchar { length }
                } else {
                    DuneType::Char { length }
                })
            }
            "timestamp" => Self::timestamp(rest),
            _ => None,
        }
    }

    fn decimal(rest: &str) -> Option<DuneType> {
        let (precision, scale) = match rest {
            "" => (38, 0),
            _ => match arguments(rest)? {
                (args, "") if args.len() == 1 => (args[0], 0),
                (args, "") if args.len() == 2 => (args[0], args[1]),
                _ => return None,
            },
        };
        (precision >= 1 && scale <= precision).then_some(DuneType::Decimal { precision, scale })
    }

    fn timestamp(rest: &str) -> Option<DuneType> {
        let (precision, zone) = match arguments(rest) {
            Some((args, zone)) if args.len() == 1 => (Some(args[0]), zone),
            Some(_) => return None,
            None => (None, rest),
        };
        let zoned = match zone {
            "" | " without time zone" => false,
            " with time zone" => true,
            _ => return None,
        };
        Some(DuneType::Timestamp { precision, zoned })
    }

    /// Whether every value of the type is a finite number, date or string: no infinity and
    /// no NaN (every type but `real`, `double` and the types read as [`DuneType::Other`]).
    pub fn is_finite(&self) -> bool {
        !matches!(self, DuneType::Real | DuneType::Double | DuneType::Other(_))
    }

    /// An integer type of at most 64 bits.
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            DuneType::Tinyint | DuneType::Smallint | DuneType::Integer | DuneType::Bigint
        )
    }

    /// An exact number that may hold more digits than a bigint (decimal, uint256, int256).
    pub fn is_exact_number(&self) -> bool {
        matches!(
            self,
            DuneType::Decimal { .. } | DuneType::Uint256 | DuneType::Int256
        )
    }

    /// A string type (varchar, char).
    pub fn is_text(&self) -> bool {
        matches!(self, DuneType::Varchar { .. } | DuneType::Char { .. })
    }
}

impl fmt::Display for DuneType {
    /// Dune's spelling of the type (`decimal(38, 0)`, `timestamp(3) with time zone`); an
    /// [`DuneType::Other`] as it was written, lowercased.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DuneType::Boolean => f.write_str("boolean"),
            DuneType::Tinyint => f.write_str("tinyint"),
            DuneType::Smallint => f.write_str("smallint"),
            DuneType::Integer => f.write_str("integer"),
            DuneType::Bigint => f.write_str("bigint"),
            DuneType::Real => f.write_str("real"),
            DuneType::Double => f.write_str("double"),
            DuneType::Decimal { precision, scale } => write!(f, "decimal({precision}, {scale})"),
            DuneType::Uint256 => f.write_str("uint256"),
            DuneType::Int256 => f.write_str("int256"),
            DuneType::Varchar { length: None } => f.write_str("varchar"),
            DuneType::Varchar { length: Some(n) } => write!(f, "varchar({n})"),
            DuneType::Char { length: None } => f.write_str("char"),
            DuneType::Char { length: Some(n) } => write!(f, "char({n})"),
            DuneType::Varbinary => f.write_str("varbinary"),
            DuneType::Date => f.write_str("date"),
            DuneType::Timestamp { precision, zoned } => {
                f.write_str("timestamp")?;
                if let Some(p) = precision {
                    write!(f, "({p})")?;
                }
                if *zoned {
                    f.write_str(" with time zone")?;
                }
                Ok(())
            }
            DuneType::Other(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_as_dune_spells_them_and_written_back() {
        let cases = [
            ("varchar", DuneType::Varchar { length: None }, "varchar"),
            (
                "VARCHAR( 255 )",
                DuneType::Varchar { length: Some(255) },
                "varchar(255)",
            ),
            ("int", DuneType::Integer, "integer"),
            (
                "decimal(12, 7)",
                DuneType::Decimal {
                    precision: 12,
                    scale: 7,
                },
                "decimal(12, 7)",
            ),
            (
                "decimal",
                DuneType::Decimal {
                    precision: 38,
                    scale: 0,
                },
                "decimal(38, 0)",
            ),
            (
                "timestamp(3)  with time zone",
                DuneType::Timestamp {
                    precision: Some(3),
                    zoned: true,
                },
                "timestamp(3) with time zone",
            ),
            (
                "timestamp",
                DuneType::Timestamp {
                    precision: None,
                    zoned: false,
                },
                "timestamp",
            ),
            ("double precision", DuneType::Double, "double"),
            ("uint256", DuneType::Uint256, "uint256"),
            (
                "array(varbinary)",
                DuneType::Other("array(varbinary)".into()),
                "array(varbinary)",
            ),
            (
                "decimal(x)",
                DuneType::Other("decimal(x)".into()),
                "decimal(x)",
            ),
            (
                "uint256) OR true --",
                DuneType::Other("uint256) or true --".into()),
                "uint256) or true --",
            ),
        ];
        for (text, want, shown) in cases {
            let got = DuneType::parse(text);
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string(), shown, "{text}");
            assert_eq!(
                DuneType::parse(&got.to_string()),
                got,
                "round trip of {text}"
            );
        }
    }

    #[test]
    fn only_floats_and_unknown_types_hold_infinities() {
        assert!(DuneType::Uint256.is_finite());
        assert!(DuneType::parse("timestamp(3) with time zone").is_finite());
        assert!(!DuneType::Double.is_finite());
        assert!(!DuneType::Real.is_finite());
        assert!(!DuneType::parse("json").is_finite());
    }
}
