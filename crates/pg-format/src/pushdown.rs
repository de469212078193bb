//! When a comparison on a foreign-table column can be sent to Dune without changing a result.
//!
//! PostgreSQL compares the *local* value (Dune's value read through the column's declared type
//! and typmod); Dune compares its own value in its own type, with Trino's semantics: varchar as
//! text even when it holds digits, numbers numerically, timestamps as instants, varbinary not
//! comparable with varchar (an error, which makes the scan read without the filter). A
//! comparison is pushed only where both answers agree ([`Compare::Exact`]), where it can be
//! rewritten into an equivalent Dune comparison ([`Compare::DateOfTimestamp`]), or where a
//! wider Dune comparison keeps every row PostgreSQL would keep ([`Compare::Rounded`],
//! [`Compare::Superset`]) and PostgreSQL's own recheck removes the rest. Where Dune's type is
//! not known (a hand-declared column without `dune_type`), only what holds for every Dune type
//! is pushed. A LIMIT is pushed only when every qual is pushed exactly.

use crate::type_table::oid;
use dune_api::DuneType;

/// How the comparisons of one column may be pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// Sent as is, and Dune's answer is PostgreSQL's: `=`, `<>`, `IN`, and with `ordered` also
    /// `<`, `<=`, `>`, `>=`; `like` allows LIKE.
    Exact {
        /// Ordering comparisons agree too.
        ordered: bool,
        /// LIKE agrees.
        like: bool,
    },
    /// `=`, `IN` and (with `like`) LIKE keep every row PostgreSQL keeps, maybe more: pushed,
    /// but not exact (no LIMIT with it).
    Superset {
        /// LIKE may be pushed.
        like: bool,
    },
    /// The local value is Dune's rounded to `digits` decimal places (numeric(p, s): of the
    /// value; timestamp(p): of seconds): a comparison becomes one widened by half a unit
    /// (superset), with a constant only; `<>` is not pushed.
    Rounded {
        /// Decimal places kept by the local type.
        digits: u32,
    },
    /// The local value is the exact decimal of a Dune float (double or real) that Dune compares
    /// in binary floating point, where a constant within half a unit in the last place of the
    /// value compares equal: `=` is kept, `<` and `<=` are sent as `<=`, `>` and `>=` as `>=`
    /// (superset); `<>` is not pushed.
    Approximate,
    /// A local date over a Dune timestamp (the instant's UTC date): each comparison becomes
    /// an equivalent one on whole-day ranges of the timestamp, with a constant only.
    DateOfTimestamp,
    /// Not pushed.
    Never,
}

/// What may be pushed for one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Its comparisons.
    pub compare: Compare,
    /// Whether, and where, a sort on the column may be pushed.
    pub sort: Sort,
}

/// Whether Dune's order of a column is an order of its local values, so that an ORDER BY on
/// it may be sent as `sort_by`. Dune orders numbers, dates and instants by value with NULLs
/// last (API reference §5.2); a text column's order depends on the local collation and is
/// never pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Not pushed.
    Never,
    /// The local value is a strictly increasing function of Dune's (distinct Dune values stay
    /// distinct): pushed at any place in the sort keys.
    Exact,
    /// The local value is a non-decreasing function of Dune's that can make distinct values
    /// equal (rounding to a typmod's scale, the date of a timestamp, a float over a wider
    /// number). Dune breaks such ties by its own values, not by the next key, so the column
    /// is pushed only as the last sort key (PostgreSQL leaves the order of full ties open).
    LastKey,
}

impl Sort {
    fn when(pushed: bool, sort: Sort) -> Sort {
        if pushed { sort } else { Sort::Never }
    }
}

const NEVER: Rule = Rule {
    compare: Compare::Never,
    sort: Sort::Never,
};

fn exact(ordered: bool, like: bool, sort: Sort) -> Rule {
    Rule {
        compare: Compare::Exact { ordered, like },
        sort,
    }
}

/// numeric's scale from its typmod (PostgreSQL's `numeric_typmod_scale`), if it has one.
fn numeric_scale(typmod: i32) -> Option<u32> {
    (typmod >= 4)
        .then(|| (((typmod - 4) & 0x7ff) ^ 1024) - 1024)
        .and_then(|s| u32::try_from(s).ok())
}

/// Dune's kinds of number, as far as comparisons go.
#[derive(Clone, Copy, PartialEq)]
enum Number {
    /// tinyint … bigint.
    Integer,
    Double,
    Real,
    /// decimal(p, s), uint256 and int256 (scale 0).
    Exact(u32),
}

fn number_of(dune: Option<&DuneType>) -> Option<Number> {
    Some(match dune? {
        t if t.is_integer() => Number::Integer,
        DuneType::Double => Number::Double,
        DuneType::Real => Number::Real,
        DuneType::Decimal { scale, .. } => Number::Exact(*scale),
        DuneType::Uint256 | DuneType::Int256 => Number::Exact(0),
        _ => return None,
    })
}

fn number_rule(local: u32, typmod: i32, dune: Option<&DuneType>) -> Rule {
    use Number::*;
    let number = number_of(dune);
    let numeric_kind = number.is_some();
    // a local number read from Dune's text of a number keeps distinct values distinct
    let exact_sort = Sort::when(numeric_kind, Sort::Exact);
    // rounded or narrowed: ties appear that Dune breaks by its own value
    let coarser_sort = Sort::when(numeric_kind, Sort::LastKey);
    match (local, dune) {
        // integers: a value that converts is exact; varchar makes Dune refuse the filter
        (oid::INT2 | oid::INT4 | oid::INT8, None) => exact(true, false, Sort::Never),
        (oid::INT2 | oid::INT4 | oid::INT8, _) => exact(true, false, exact_sort),
        (oid::NUMERIC, _) => match numeric_scale(typmod) {
            // a float, or perhaps one: compared in binary floating point on Dune
            None if dune.is_none() || matches!(number, Some(Double | Real)) => Rule {
                compare: Compare::Approximate,
                sort: exact_sort,
            },
            None => exact(true, false, exact_sort),
            Some(s) => match number {
                Some(Integer) => exact(true, false, Sort::Exact),
                Some(Exact(d)) if d <= s => exact(true, false, Sort::Exact),
                _ => Rule {
                    compare: Compare::Rounded { digits: s },
                    sort: coarser_sort,
                },
            },
        },
        // floats are exact only over the same float
        (oid::FLOAT8, _) if number == Some(Double) => exact(true, false, Sort::Exact),
        (oid::FLOAT4, _) if number == Some(Real) => exact(true, false, Sort::Exact),
        (oid::FLOAT8 | oid::FLOAT4, _) => Rule {
            compare: Compare::Never,
            sort: coarser_sort,
        },
        _ => NEVER,
    }
}

fn time_rule(local: u32, typmod: i32, dune: Option<&DuneType>) -> Rule {
    use DuneType::*;
    let precise = !(0..6).contains(&typmod);
    match (local, dune) {
        (oid::DATE, Some(Date)) => exact(true, false, Sort::Exact),
        (oid::DATE, Some(Timestamp { .. })) => Rule {
            compare: Compare::DateOfTimestamp,
            sort: Sort::LastKey,
        },
        // a wall-clock time read as timestamptz depends on the session's TimeZone
        (oid::TIMESTAMPTZ, Some(Timestamp { zoned: false, .. })) => NEVER,
        (oid::TIMESTAMPTZ | oid::TIMESTAMP, Some(Timestamp { .. })) if precise => {
            exact(true, false, Sort::Exact)
        }
        (oid::TIMESTAMPTZ | oid::TIMESTAMP, Some(Timestamp { .. })) => Rule {
            compare: Compare::Rounded {
                digits: typmod as u32,
            },
            sort: Sort::LastKey,
        },
        (oid::TIMESTAMP, Some(Date)) => exact(true, false, Sort::Exact),
        _ => NEVER,
    }
}

/// The rule for a column of local type `local` (a built-in OID) with `typmod`, over a Dune
/// column of kind `dune` (None: not known). `deterministic`: the column's collation compares
/// equal only what is byte-for-byte equal (always true of non-text types).
pub fn rule(local: u32, typmod: i32, dune: Option<&DuneType>, deterministic: bool) -> Rule {
    match local {
        oid::INT2 | oid::INT4 | oid::INT8 | oid::NUMERIC | oid::FLOAT4 | oid::FLOAT8 => {
            number_rule(local, typmod, dune)
        }
        oid::DATE | oid::TIMESTAMP | oid::TIMESTAMPTZ => time_rule(local, typmod, dune),
        oid::BOOL if matches!(dune, None | Some(DuneType::Boolean)) => {
            exact(false, false, Sort::Never)
        }
        oid::BYTEA if matches!(dune, None | Some(DuneType::Varbinary)) => {
            exact(false, false, Sort::Never)
        }
        // text: bytes equal on both sides; order depends on the collation, so never sorted
        oid::TEXT | oid::VARCHAR if typmod < 0 && deterministic => match dune {
            Some(t) if t.is_text() => exact(false, true, Sort::Never),
            None => Rule {
                compare: Compare::Superset { like: true },
                sort: Sort::Never,
            },
            _ => NEVER,
        },
        _ => NEVER,
    }
}

/// Whether two Dune columns compare the same way, so that an equality of one with the other
/// means what it means between values of one type: both integers, both exact numbers of the
/// same scale (decimal(p, s), uint256 and int256 have scale 0), both strings, both
/// timestamps of the same kind (with or without time zone), or the same other type.
pub fn same_comparison(a: &DuneType, b: &DuneType) -> bool {
    match (number_of(Some(a)), number_of(Some(b))) {
        (Some(x), Some(y)) => return x == y,
        (None, None) => {}
        _ => return false,
    }
    match (a, b) {
        (x, y) if x.is_text() && y.is_text() => true,
        (DuneType::Timestamp { zoned: x, .. }, DuneType::Timestamp { zoned: y, .. }) => x == y,
        (x, y) => x == y,
    }
}

/// The bounds `[v - h, v + h]` of the values that round to `v` at `digits` decimal places
/// (h = 5·10^-(digits+1)), as decimal text; None if `v` is not a decimal number.
pub fn rounding_bounds(v: &str, digits: u32) -> Option<(String, String)> {
    use bigdecimal::BigDecimal;
    use std::str::FromStr;
    let v = BigDecimal::from_str(v.trim()).ok()?;
    let h = BigDecimal::new(5.into(), i64::from(digits) + 1);
    Some((
        (&v - &h).normalized().to_plain_string(),
        (&v + &h).normalized().to_plain_string(),
    ))
}

/// The bounds `[t - h, t + h]` in microseconds of the times that round to `t` at `digits`
/// decimal places of seconds (timestamp(p)); None on overflow.
pub fn rounding_bounds_micros(t: i64, digits: u32) -> Option<(i64, i64)> {
    let h = 10i64.checked_pow(6u32.checked_sub(digits)?)? / 2;
    Some((t.checked_sub(h)?, t.checked_add(h)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_hold_every_value_that_rounds_to_the_constant() {
        assert_eq!(
            rounding_bounds("3", 0),
            Some(("2.5".to_string(), "3.5".to_string()))
        );
        assert_eq!(
            rounding_bounds("-1.25", 2),
            Some(("-1.255".to_string(), "-1.245".to_string()))
        );
        let big = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        let (lo, hi) = rounding_bounds(big, 0).unwrap();
        assert!(lo.ends_with("934.5") && hi.ends_with("935.5"), "{lo} {hi}");
        assert_eq!(rounding_bounds("NaN", 0), None);
        assert_eq!(
            rounding_bounds_micros(1_000_000, 0),
            Some((500_000, 1_500_000))
        );
        assert_eq!(rounding_bounds_micros(0, 3), Some((-500, 500)));
    }

    #[test]
    fn equalities_across_columns_need_the_same_kind_of_comparison() {
        let t = DuneType::parse;
        assert!(same_comparison(&t("varchar(42)"), &t("varchar")));
        assert!(same_comparison(&t("tinyint"), &t("bigint")));
        assert!(same_comparison(&t("uint256"), &t("decimal(38, 0)")));
        assert!(!same_comparison(&t("decimal(10, 2)"), &t("decimal(10, 0)")));
        assert!(same_comparison(
            &t("timestamp(3) with time zone"),
            &t("timestamp with time zone")
        ));
        assert!(!same_comparison(
            &t("timestamp"),
            &t("timestamp with time zone")
        ));
        assert!(!same_comparison(&t("bigint"), &t("double")));
        assert!(!same_comparison(&t("varbinary"), &t("varchar")));
    }

    #[test]
    fn a_column_that_makes_ties_is_sorted_on_dune_only_as_the_last_key() {
        // CI seed 957702864: ORDER BY c0, c1 DESC with c0 timestamp(0) over Dune's
        // milliseconds came back in Dune's order of the milliseconds, not by c1
        let ts = Some(&DuneType::parse("timestamp"));
        assert_eq!(rule(oid::TIMESTAMP, 0, ts, true).sort, Sort::LastKey);
        assert_eq!(rule(oid::TIMESTAMP, -1, ts, true).sort, Sort::Exact);
        assert_eq!(rule(oid::DATE, -1, ts, true).sort, Sort::LastKey);
        let n14_0 = (14 << 16) + 4;
        let double = Some(&DuneType::Double);
        assert_eq!(rule(oid::NUMERIC, n14_0, double, true).sort, Sort::LastKey);
        assert_eq!(rule(oid::NUMERIC, -1, double, true).sort, Sort::Exact);
        let int = Some(&DuneType::Integer);
        assert_eq!(rule(oid::FLOAT8, -1, int, true).sort, Sort::LastKey);
        assert_eq!(rule(oid::NUMERIC, n14_0, int, true).sort, Sort::Exact);
    }

    #[test]
    fn the_issues_inputs_get_the_rules_that_keep_results() {
        let ts = Some(&DuneType::parse("timestamp(3) with time zone"));
        assert_eq!(
            rule(oid::DATE, -1, ts, true).compare,
            Compare::DateOfTimestamp
        );
        // numeric(12,0): typmod = (12 << 16 | 0) + 4
        let n12_0 = (12 << 16) + 4;
        assert_eq!(numeric_scale(n12_0), Some(0));
        assert_eq!(
            rule(oid::NUMERIC, n12_0, Some(&DuneType::Double), true).compare,
            Compare::Rounded { digits: 0 }
        );
        assert_eq!(
            rule(oid::TIMESTAMPTZ, 0, ts, true).compare,
            Compare::Rounded { digits: 0 }
        );
        // digits in a varchar sort as text on Dune: never sorted, never compared as numbers
        assert_eq!(
            rule(oid::NUMERIC, -1, Some(&DuneType::Real), true).compare,
            Compare::Approximate,
            "3.4e38 as numeric is not the real Dune compares"
        );
        let text = Some(&DuneType::parse("varchar"));
        assert_eq!(rule(oid::NUMERIC, -1, text, true).sort, Sort::Never);
        assert_eq!(
            rule(oid::NUMERIC, -1, None, true).sort,
            Sort::Never,
            "unknown: no sort"
        );
        assert_eq!(rule(oid::TEXT, -1, Some(&DuneType::Varbinary), true), NEVER);
        assert_eq!(
            rule(oid::TEXT, -1, text, false),
            NEVER,
            "nondeterministic collation"
        );
        assert_eq!(rule(oid::FLOAT8, -1, None, true).compare, Compare::Never);
        assert_eq!(rule(oid::TIMESTAMPTZ, -1, None, true), NEVER);
    }
}
