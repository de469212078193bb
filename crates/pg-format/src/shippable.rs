//! Which PostgreSQL functions and operators DuneSQL computes with the same answer, for which
//! argument types (postgres_fdw's "shippable" rule, with Trino on the other side): the table
//! the deparser reads for every function call and operator of an expression it would send.
//!
//! An entry holds only when, for the argument types named, Trino's function gives PostgreSQL's
//! answer for every value a Dune column of the matching type holds (its local value being
//! Dune's, which the caller checks). Where the answer depends on a session setting, the entry
//! says which, and the caller either makes both sides agree or does not send it:
//! - `TimeZone`: a timestamptz's calendar fields (`date_trunc`, `extract`) are the session's
//!   zone's in PostgreSQL and UTC's on Dune; the caller writes `at_timezone(t, <the session's
//!   zone>)` around the argument, its value read when the scan starts.
//! - the collation: `lower`, `upper` map case as the collation's ctype does; under `C` or
//!   `POSIX` PostgreSQL maps ASCII only, Trino all of Unicode (the caller refuses those).
//!
//! Left out on purpose (the reason for each, where Trino differs): `round` of a double (Trino
//! rounds half away from zero, PostgreSQL half to even), `trim`/`btrim` (Trino trims every
//! whitespace, PostgreSQL spaces), `concat` (ignores NULLs in PostgreSQL, not in Trino),
//! `greatest`/`least` (the same), `substr` with a start below 1 or a negative length, `replace`
//! of an empty string, arithmetic on `numeric` (scale rules differ), `/` of doubles by anything
//! but a non-zero constant (PostgreSQL fails where Trino gives infinity), `extract(second …)`
//! and `epoch` (fractions), `dow` is `day_of_week % 7` (Sunday is 0 in PostgreSQL, 7 in Trino).

use crate::type_table::oid;
use dune_api::{Arith, Func};

/// How a PostgreSQL function or operator is written in DuneSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ship {
    /// A function of the same arguments.
    Func(Func),
    /// A binary operator.
    Arith(Arith),
    /// Unary minus.
    Negate,
    /// `date_trunc(unit, t)`, with a constant unit of [`TRUNC_UNITS`].
    DateTrunc,
    /// `extract(field from t)` / `date_part(field, t)`, with a constant field of [`FIELDS`].
    Extract,
    /// A cast to the type of the result, exact for every value of the argument.
    Widen,
}

/// What the caller must make agree before sending a shipped call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Nothing.
    Nothing,
    /// Its timestamptz argument taken at the session's `TimeZone`.
    Zone,
    /// A collation whose ctype maps case as Unicode does (not C or POSIX).
    CaseMapping,
    /// Constant arguments after the first within their bounds (`substr`: start ≥ 1, length
    /// ≥ 0; `replace`: a non-empty search; `/` of doubles: a non-zero divisor).
    ConstantArguments,
}

/// A function or operator that may be sent, and what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shipped {
    /// How it is written.
    pub ship: Ship,
    /// What must agree first.
    pub needs: Needs,
}

const INTS: [u32; 3] = [oid::INT2, oid::INT4, oid::INT8];

/// The units `date_trunc` is sent with (PostgreSQL's and Trino's agree on these; weeks start
/// on Monday in both).
pub const TRUNC_UNITS: [&str; 8] = [
    "second", "minute", "hour", "day", "week", "month", "quarter", "year",
];

/// The fields `extract`/`date_part` are sent with, and Trino's function for each (`dow`:
/// `day_of_week % 7`).
pub const FIELDS: [(&str, Func); 9] = [
    ("year", Func::Year),
    ("quarter", Func::Quarter),
    ("month", Func::Month),
    ("day", Func::Day),
    ("hour", Func::Hour),
    ("minute", Func::Minute),
    ("doy", Func::DayOfYear),
    ("isodow", Func::DayOfWeek),
    ("dow", Func::DayOfWeek),
];

fn shipped(ship: Ship, needs: Needs) -> Option<Shipped> {
    Some(Shipped { ship, needs })
}

/// The function `name` (of pg_catalog) with arguments of types `args`, if DuneSQL computes it
/// with PostgreSQL's answer (see the module's rules).
pub fn function(name: &str, args: &[u32]) -> Option<Shipped> {
    use Needs::*;
    let text = |n: usize| args.len() == n && args.iter().all(|&a| a == oid::TEXT);
    let ints_after_text =
        args.first() == Some(&oid::TEXT) && args[1..].iter().all(|a| INTS.contains(a));
    let one = |types: &[u32]| args.len() == 1 && types.contains(&args[0]);
    let zoned = |t: u32| if t == oid::TIMESTAMPTZ { Zone } else { Nothing };
    match (name, args) {
        ("lower", _) if text(1) => shipped(Ship::Func(Func::Lower), CaseMapping),
        ("upper", _) if text(1) => shipped(Ship::Func(Func::Upper), CaseMapping),
        ("length" | "char_length" | "character_length", _) if text(1) => {
            shipped(Ship::Func(Func::Length), Nothing)
        }
        ("substr" | "substring", _) if (2..=3).contains(&args.len()) && ints_after_text => {
            shipped(Ship::Func(Func::Substr), ConstantArguments)
        }
        ("strpos", _) if text(2) => shipped(Ship::Func(Func::Strpos), Nothing),
        ("replace", _) if text(3) => shipped(Ship::Func(Func::Replace), ConstantArguments),
        ("abs", _) if one(&[oid::INT2, oid::INT4, oid::INT8, oid::FLOAT8]) => {
            shipped(Ship::Func(Func::Abs), Nothing)
        }
        ("floor", _) if one(&[oid::FLOAT8]) => shipped(Ship::Func(Func::Floor), Nothing),
        ("ceil" | "ceiling", _) if one(&[oid::FLOAT8]) => shipped(Ship::Func(Func::Ceil), Nothing),
        ("sign", _) if one(&[oid::FLOAT8]) => shipped(Ship::Func(Func::Sign), Nothing),
        ("date_trunc", [oid::TEXT, t @ (oid::TIMESTAMPTZ | oid::TIMESTAMP)]) => {
            shipped(Ship::DateTrunc, zoned(*t))
        }
        ("date_part" | "extract", [oid::TEXT, t @ (oid::TIMESTAMPTZ | oid::TIMESTAMP)]) => {
            shipped(Ship::Extract, zoned(*t))
        }
        ("date_part" | "extract", [oid::TEXT, oid::DATE]) => shipped(Ship::Extract, Nothing),
        // exact widenings: integers to a wider integer or to a double (every bigint converts
        // to the double nearest it on both sides)
        ("int4", [oid::INT2]) | ("int8", [oid::INT2 | oid::INT4]) => shipped(Ship::Widen, Nothing),
        ("float8", [oid::INT2 | oid::INT4 | oid::INT8]) => shipped(Ship::Widen, Nothing),
        _ => None,
    }
}

/// The operator `name` with operands of types `left` and `right` (0 for a prefix operator's
/// missing left), if DuneSQL computes it with PostgreSQL's answer.
pub fn operator(name: &str, left: u32, right: u32) -> Option<Shipped> {
    use Needs::*;
    let ints = INTS.contains(&left) && INTS.contains(&right);
    let doubles = left == oid::FLOAT8 && right == oid::FLOAT8;
    let op = match name {
        "+" => Arith::Add,
        "-" if left == 0 => {
            return (INTS.contains(&right) || right == oid::FLOAT8).then_some(Shipped {
                ship: Ship::Negate,
                needs: Nothing,
            });
        }
        "-" => Arith::Sub,
        "*" => Arith::Mul,
        "/" if doubles => return shipped(Ship::Arith(Arith::Div), ConstantArguments),
        "/" => Arith::Div,
        "%" if ints => return shipped(Ship::Arith(Arith::Mod), Nothing),
        "||" if left == oid::TEXT && right == oid::TEXT => {
            return shipped(Ship::Arith(Arith::Concat), Nothing);
        }
        _ => return None,
    };
    (ints || doubles).then_some(Shipped {
        ship: Ship::Arith(op),
        needs: Nothing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_functions_that_answer_alike_are_shipped() {
        assert_eq!(
            function("lower", &[oid::TEXT]).map(|s| s.needs),
            Some(Needs::CaseMapping)
        );
        assert_eq!(
            function("date_trunc", &[oid::TEXT, oid::TIMESTAMPTZ]),
            Some(Shipped {
                ship: Ship::DateTrunc,
                needs: Needs::Zone
            })
        );
        assert_eq!(
            function("date_trunc", &[oid::TEXT, oid::TIMESTAMP]).map(|s| s.needs),
            Some(Needs::Nothing)
        );
        assert_eq!(
            function("round", &[oid::FLOAT8]),
            None,
            "half to even vs away"
        );
        assert_eq!(function("btrim", &[oid::TEXT]), None);
        assert_eq!(function("abs", &[oid::NUMERIC]), None);
        assert_eq!(
            function("int8", &[oid::INT4]).map(|s| s.ship),
            Some(Ship::Widen)
        );
        assert_eq!(
            function("int4", &[oid::INT8]),
            None,
            "a narrowing fails on overflow"
        );
    }

    #[test]
    fn operators_are_shipped_for_integers_doubles_and_text() {
        assert_eq!(
            operator("*", oid::INT4, oid::INT8).map(|s| s.ship),
            Some(Ship::Arith(Arith::Mul))
        );
        assert_eq!(
            operator("/", oid::FLOAT8, oid::FLOAT8).map(|s| s.needs),
            Some(Needs::ConstantArguments)
        );
        assert_eq!(operator("/", oid::NUMERIC, oid::NUMERIC), None);
        assert_eq!(
            operator("+", oid::FLOAT8, oid::INT4),
            None,
            "mixed: a cast comes first"
        );
        assert_eq!(
            operator("-", 0, oid::INT8).map(|s| s.ship),
            Some(Ship::Negate)
        );
        assert_eq!(operator("%", oid::FLOAT8, oid::FLOAT8), None);
        assert_eq!(
            operator("||", oid::TEXT, oid::TEXT).map(|s| s.ship),
            Some(Ship::Arith(Arith::Concat))
        );
    }
}
