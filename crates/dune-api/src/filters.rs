//! Building Dune's `filters` and `sort_by` from predicates. Column names are always
//! double-quoted and strings single-quoted with quotes doubled, so that no value or name can
//! change what a filter means.

use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// A comparison operator of Dune's filter language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// The operator as written in a filter.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// The operator with its operands swapped (`5 < x` is `x > 5`).
    pub fn commute(self) -> Op {
        match self {
            Op::Lt => Op::Gt,
            Op::Le => Op::Ge,
            Op::Gt => Op::Lt,
            Op::Ge => Op::Le,
            other => other,
        }
    }
}

/// A literal value in Dune's filter language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Literal {
    /// A number, written as is (digits, sign, point, exponent only).
    Number(String),
    /// A string, single-quoted.
    Text(String),
    /// Bytes, written as bare 0x hex.
    Bytes(Vec<u8>),
    /// `true` or `false`.
    Bool(bool),
    /// A query parameter not yet known, shown as `$n` (EXPLAIN only; never sent).
    Placeholder(usize),
}

/// A predicate over result columns. `V` is the value type: a [`Literal`] once known, or a
/// placeholder (a query parameter) in a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Filter<V = Literal> {
    /// Every one holds.
    And(Vec<Filter<V>>),
    /// One holds at least.
    Or(Vec<Filter<V>>),
    /// `column op value`.
    Compare {
        /// The Dune column.
        column: String,
        /// The operator.
        op: Op,
        /// The value compared with.
        value: V,
    },
    /// `column IN (values)`.
    In {
        /// The Dune column.
        column: String,
        /// The values.
        values: Vec<V>,
    },
    /// `column LIKE 'pattern'`.
    Like {
        /// The Dune column.
        column: String,
        /// The pattern, `%` and `_` as in SQL.
        pattern: String,
    },
    /// `column IS [NOT] NULL`.
    IsNull {
        /// The Dune column.
        column: String,
        /// `IS NOT NULL`.
        negated: bool,
    },
}

/// `"name"`, with `"` doubled.
pub fn quote_column(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, with `'` doubled.
pub fn quote_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn is_number(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    !body.is_empty()
        && body.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
}

impl Literal {
    /// Appends the literal as Dune's filter language writes it (a placeholder as `$n`).
    pub fn render(&self, out: &mut String) {
        match self {
            Literal::Number(n) if is_number(n) => out.push_str(n),
            Literal::Number(n) => out.push_str(&quote_text(n)),
            Literal::Text(t) => out.push_str(&quote_text(t)),
            Literal::Bytes(b) => {
                out.push_str("0x");
                for byte in b {
                    let _ = write!(out, "{byte:02x}");
                }
            }
            Literal::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Literal::Placeholder(n) => {
                let _ = write!(out, "${n}");
            }
        }
    }
}

impl<V> Filter<V> {
    /// The same predicate with each value mapped; None if any value maps to None.
    pub fn try_map<W>(&self, f: &mut dyn FnMut(&V) -> Option<W>) -> Option<Filter<W>> {
        Some(match self {
            Filter::And(p) => Filter::And(p.iter().map(|x| x.try_map(f)).collect::<Option<_>>()?),
            Filter::Or(p) => Filter::Or(p.iter().map(|x| x.try_map(f)).collect::<Option<_>>()?),
            Filter::Compare { column, op, value } => Filter::Compare {
                column: column.clone(),
                op: *op,
                value: f(value)?,
            },
            Filter::In { column, values } => Filter::In {
                column: column.clone(),
                values: values.iter().map(&mut *f).collect::<Option<_>>()?,
            },
            Filter::Like { column, pattern } => Filter::Like {
                column: column.clone(),
                pattern: pattern.clone(),
            },
            Filter::IsNull { column, negated } => Filter::IsNull {
                column: column.clone(),
                negated: *negated,
            },
        })
    }
}

impl Filter {
    /// Appends the filter's text, parenthesised where precedence needs it.
    pub fn render(&self, out: &mut String) {
        match self {
            Filter::And(parts) | Filter::Or(parts) => {
                let sep = if matches!(self, Filter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    let nested = matches!(p, Filter::And(_) | Filter::Or(_));
                    if nested {
                        out.push('(');
                    }
                    p.render(out);
                    if nested {
                        out.push(')');
                    }
                }
            }
            Filter::Compare { column, op, value } => {
                out.push_str(&quote_column(column));
                out.push(' ');
                out.push_str(op.as_str());
                out.push(' ');
                value.render(out);
            }
            Filter::In { column, values } => {
                out.push_str(&quote_column(column));
                out.push_str(" IN (");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.render(out);
                }
                out.push(')');
            }
            Filter::Like { column, pattern } => {
                out.push_str(&quote_column(column));
                out.push_str(" LIKE ");
                out.push_str(&quote_text(pattern));
            }
            Filter::IsNull { column, negated } => {
                out.push_str(&quote_column(column));
                out.push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
        }
    }

    /// The filter's text, as sent in `filters=`.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        self.render(&mut s);
        s
    }
}

/// The conjunction of `parts` as one filter text, or None when there are none.
pub fn conjunction(parts: &[Filter]) -> Option<String> {
    match parts {
        [] => None,
        [one] => Some(one.to_text()),
        many => Some(Filter::And(many.to_vec()).to_text()),
    }
}

/// The most bytes of filter text one request carries (before URL encoding, which at most
/// triples it): requests stay well under the request-line limits of HTTP front ends (8 KiB
/// is common), which answer 414 or 431 past them.
pub const MAX_FILTERS_BYTES: usize = 2048;

/// The filters of `parts` that fit in [`MAX_FILTERS_BYTES`] together, in order (a filter that
/// would pass the bound is left out, and smaller ones after it may still fit), and whether any
/// was left out. `shown` renders a filter as it will be sent (a planned value as its `$n`);
/// what is left out is applied by the caller (PostgreSQL rechecks every qual).
pub fn within_bound<T>(parts: Vec<T>, shown: impl Fn(&T) -> Option<Filter>) -> (Vec<T>, bool) {
    let mut sent: Vec<Filter> = Vec::new();
    let mut kept = Vec::new();
    let mut dropped = false;
    for part in parts {
        let Some(text) = shown(&part) else {
            dropped = true;
            continue;
        };
        sent.push(text);
        if conjunction(&sent).is_some_and(|t| t.len() > MAX_FILTERS_BYTES) {
            sent.pop();
            dropped = true;
        } else {
            kept.push(part);
        }
    }
    (kept, dropped)
}

/// `sort_by` from (column, descending) pairs.
pub fn sort_by(keys: &[(String, bool)]) -> Option<String> {
    if keys.is_empty() {
        return None;
    }
    Some(
        keys.iter()
            .map(|(c, desc)| format!("{} {}", quote_column(c), if *desc { "desc" } else { "asc" }))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_filters_are_left_out_and_short_ones_kept() {
        let long = Filter::In {
            column: "project".into(),
            values: (0..3000).map(|i| Literal::Text(format!("p{i}"))).collect(),
        };
        let short = Filter::IsNull {
            column: "x".into(),
            negated: true,
        };
        let same = |f: &Filter| Some(f.clone());
        let (kept, dropped) = within_bound(vec![long, short.clone()], same);
        assert!(dropped);
        assert_eq!(kept, vec![short.clone()]);
        assert_eq!(
            within_bound(vec![short.clone()], same),
            (vec![short], false)
        );
    }

    #[test]
    fn names_and_strings_cannot_escape_their_quotes() {
        let f = Filter::And(vec![
            Filter::Compare {
                column: "we\"ird col".into(),
                op: Op::Eq,
                value: Literal::Text("it's' OR 1=1 --".into()),
            },
            Filter::Or(vec![
                Filter::IsNull {
                    column: "a".into(),
                    negated: false,
                },
                Filter::In {
                    column: "b".into(),
                    values: vec![
                        Literal::Number("1".into()),
                        Literal::Bytes(vec![0xde, 0xad]),
                    ],
                },
            ]),
            Filter::Like {
                column: "t".into(),
                pattern: "50%' x".into(),
            },
        ]);
        assert_eq!(
            f.to_text(),
            r#""we""ird col" = 'it''s'' OR 1=1 --' AND ("a" IS NULL OR "b" IN (1, 0xdead)) AND "t" LIKE '50%'' x'"#
        );
    }

    #[test]
    fn numbers_that_are_not_numbers_are_quoted() {
        let mut s = String::new();
        Literal::Number("1 OR 1=1".into()).render(&mut s);
        assert_eq!(s, "'1 OR 1=1'");
        assert_eq!(
            sort_by(&[("x".into(), true), ("y".into(), false)]).unwrap(),
            "\"x\" desc, \"y\" asc"
        );
    }
}
