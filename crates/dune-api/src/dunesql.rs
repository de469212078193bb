//! DuneSQL statements that read Dune's tables (`dex.trades`) and uploaded tables
//! (`dune.<namespace>.<table>`) for a foreign scan: the columns asked for, the pushed
//! predicates, ORDER BY, LIMIT and OFFSET, and, when the whole query allows it, grouping with
//! aggregates and a join of two tables. DuneSQL is Trino's dialect (API reference §4, "Execute
//! SQL"): names are double-quoted, strings single-quoted with quotes doubled, and every
//! literal is written in the type of the column it is compared with, so that Trino never has
//! to guess (`TIMESTAMP '2024-01-01 00:00:00.000000 UTC'`, `DATE '2024-01-01'`, `0x0a1b`,
//! `1.5E0` for a double, `CAST('…' AS uint256)` for long exact numbers). Which predicates may
//! be written here is decided by the caller (`pg_format::pushdown`'s rules); this module only
//! writes them.

use crate::client::Client;
use crate::error::{Error, NotFound, Result};
use crate::filters::{Filter, Literal, Op, quote_column, quote_text};
use crate::manage::json_of;
use crate::retry::Idempotency;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Write;

/// How a literal compared with a column is written: by the column's DuneSQL type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LiteralType {
    /// varchar: `'text'`.
    Varchar,
    /// tinyint … bigint: digits.
    Integer,
    /// double, real: digits with an exponent (`2.5E0`), which Trino reads as a double.
    Double,
    /// decimal, uint256, int256 (the DuneSQL type name): digits up to 18 of them, else
    /// `CAST('digits' AS <type>)` (a longer bare literal would be a decimal(38) or fail).
    Exact(String),
    /// boolean: `true`, `false`.
    Boolean,
    /// varbinary: `0x…` (`X''` when empty).
    Varbinary,
    /// date: `DATE 'YYYY-MM-DD'`.
    Date,
    /// timestamp(p) [with time zone]: `TIMESTAMP '… UTC'` when zoned.
    Timestamp {
        /// `with time zone`.
        zoned: bool,
    },
    /// Unknown type: numbers as digits, everything else quoted.
    Unknown,
}

/// `value` as a DuneSQL literal of `ty`, appended to `out`. A placeholder (a value not yet
/// known, EXPLAIN only) is written `$n`.
pub fn write_literal(out: &mut String, value: &Literal, ty: &LiteralType) {
    match (value, ty) {
        (Literal::Placeholder(n), _) => {
            let _ = write!(out, "${n}");
        }
        (Literal::Bool(b), _) => out.push_str(if *b { "true" } else { "false" }),
        (Literal::Bytes(b), _) if b.is_empty() => out.push_str("X''"),
        (Literal::Bytes(b), _) => {
            out.push_str("0x");
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
        }
        (Literal::Number(n), LiteralType::Double) if is_plain_number(n) => {
            out.push_str(n);
            if !n.contains(['e', 'E']) {
                out.push_str("E0");
            }
        }
        (Literal::Number(n), LiteralType::Exact(name)) if is_plain_number(n) => {
            // a fraction stays a decimal literal (exact up to 38 digits; past that Trino
            // refuses it): a CAST to the column's type would round it
            let fraction = n.contains('.') && !n.contains(['e', 'E']);
            if n.bytes().filter(u8::is_ascii_digit).count() <= 18 || fraction {
                out.push_str(n);
            } else {
                let _ = write!(out, "CAST({} AS {name})", quote_text(n));
            }
        }
        (Literal::Number(n), LiteralType::Varchar) => out.push_str(&quote_text(n)),
        (Literal::Number(n), _) if is_plain_number(n) => out.push_str(n),
        (Literal::Number(n) | Literal::Text(n), LiteralType::Date) => {
            let _ = write!(out, "DATE {}", quote_text(n));
        }
        (Literal::Number(n) | Literal::Text(n), LiteralType::Timestamp { zoned }) => {
            let mut text = n.clone();
            if text.len() == 10 {
                text.push_str(" 00:00:00"); // a date compared with a timestamp: its midnight
            }
            if *zoned {
                text.push_str(" UTC");
            }
            let _ = write!(out, "TIMESTAMP {}", quote_text(&text));
        }
        (Literal::Number(n) | Literal::Text(n), _) => out.push_str(&quote_text(n)),
    }
}

fn is_plain_number(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    body.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
}

/// A column of one of the statement's relations: relation `rel` (0 or 1; only 0 without a
/// join) and the Dune column's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnRef {
    /// Index in [`Select::from`].
    pub rel: usize,
    /// The Dune column.
    pub name: String,
}

/// An aggregate function DuneSQL computes with PostgreSQL's meaning for the types it is
/// pushed for (the caller's rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregate {
    /// `count(*)` or `count(x)`: bigint in both.
    Count,
    /// `sum(x)`.
    Sum,
    /// `min(x)`.
    Min,
    /// `max(x)`.
    Max,
    /// `avg(x)`.
    Avg,
}

impl Aggregate {
    /// The function's DuneSQL name.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Avg => "avg",
        }
    }
}

/// One output column of the statement, named `c<n>` (its position) when grouping or joining,
/// else the column's own name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Item {
    /// A column.
    Column(ColumnRef),
    /// `f(x)`, `f(DISTINCT x)` or `count(*)` (no argument). A sum of bigints stays a bigint
    /// on Trino, which fails past 2^63 rather than answer wrongly.
    Aggregate {
        /// The function.
        func: Aggregate,
        /// Its argument; None for `count(*)`.
        arg: Option<ColumnRef>,
        /// `DISTINCT`.
        distinct: bool,
    },
}

/// How two relations are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinKind {
    /// `JOIN`.
    Inner,
    /// `LEFT JOIN`.
    Left,
    /// `RIGHT JOIN`.
    Right,
    /// `FULL JOIN`.
    Full,
}

/// A predicate over one relation of the statement (`Filter`'s columns are that relation's),
/// or an equality of two columns of the two relations (a join clause).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Condition {
    /// A predicate on relation `rel`.
    On {
        /// Index in [`Select::from`].
        rel: usize,
        /// The predicate.
        filter: Filter,
    },
    /// `left op right`.
    Columns {
        /// A column of one relation.
        left: ColumnRef,
        /// The operator.
        op: Op,
        /// A column of the other.
        right: ColumnRef,
    },
}

/// One key of ORDER BY: an output position (1-based) or a column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderKey {
    /// The column sorted on.
    pub column: ColumnRef,
    /// `DESC`.
    pub descending: bool,
    /// `NULLS FIRST` (Trino's default is `NULLS LAST` in both directions).
    pub nulls_first: bool,
}

/// A DuneSQL `SELECT` over one table or a join of two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Select {
    /// The relations, as DuneSQL names them (`dex.trades`, `dune.my_team.labels`).
    pub from: Vec<String>,
    /// For a join of two: how, and the join clauses (ANDed; empty for a cross join).
    pub join: Option<(JoinKind, Vec<Condition>)>,
    /// The output columns; empty selects a constant (a scan that needs no column).
    pub items: Vec<Item>,
    /// The column types that decide how literals compared with them are written, per
    /// relation: (relation, column, type).
    pub types: Vec<(usize, String, LiteralType)>,
    /// The WHERE clause's predicates, ANDed.
    pub filters: Vec<Condition>,
    /// GROUP BY, as output positions (1-based).
    pub group_by: Vec<usize>,
    /// ORDER BY.
    pub order_by: Vec<OrderKey>,
    /// Rows skipped first.
    pub offset: u64,
    /// The most rows returned.
    pub limit: Option<u64>,
}

impl Select {
    /// Whether output columns are named by position (`c1`, `c2`, …): with a join, a
    /// grouping or aggregates, where the same name could come twice or a function has none.
    pub fn positional(&self) -> bool {
        self.from.len() > 1
            || !self.group_by.is_empty()
            || self
                .items
                .iter()
                .any(|i| matches!(i, Item::Aggregate { .. }))
    }

    /// The name of output column `i` (0-based) in the result.
    pub fn output_name(&self, i: usize) -> String {
        match &self.items[i] {
            Item::Column(c) if !self.positional() => c.name.clone(),
            _ => format!("c{}", i + 1),
        }
    }

    fn column(&self, c: &ColumnRef) -> String {
        if self.from.len() > 1 {
            format!("r{}.{}", c.rel + 1, quote_column(&c.name))
        } else {
            quote_column(&c.name)
        }
    }

    fn literal_type(&self, rel: usize, column: &str) -> &LiteralType {
        self.types
            .iter()
            .find(|(r, c, _)| *r == rel && c == column)
            .map_or(&LiteralType::Unknown, |(_, _, t)| t)
    }

    fn write_filter(&self, out: &mut String, rel: usize, f: &Filter) {
        let col = |name: &str| {
            self.column(&ColumnRef {
                rel,
                name: name.to_string(),
            })
        };
        match f {
            Filter::And(parts) | Filter::Or(parts) => {
                let sep = if matches!(f, Filter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                out.push('(');
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    self.write_filter(out, rel, p);
                }
                out.push(')');
            }
            Filter::Compare { column, op, value } => {
                let _ = write!(out, "{} {} ", col(column), op.as_str());
                write_literal(out, value, self.literal_type(rel, column));
            }
            Filter::In { column, values } => {
                let _ = write!(out, "{} IN (", col(column));
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_literal(out, v, self.literal_type(rel, column));
                }
                out.push(')');
            }
            Filter::Like { column, pattern } => {
                let _ = write!(out, "{} LIKE {}", col(column), quote_text(pattern));
            }
            Filter::IsNull { column, negated } => {
                let not = if *negated { " NOT" } else { "" };
                let _ = write!(out, "{} IS{not} NULL", col(column));
            }
        }
    }

    fn write_condition(&self, out: &mut String, c: &Condition) {
        match c {
            Condition::On { rel, filter } => self.write_filter(out, *rel, filter),
            Condition::Columns { left, op, right } => {
                let _ = write!(
                    out,
                    "{} {} {}",
                    self.column(left),
                    op.as_str(),
                    self.column(right)
                );
            }
        }
    }

    fn write_item(&self, out: &mut String, item: &Item) {
        match item {
            Item::Column(c) => out.push_str(&self.column(c)),
            Item::Aggregate {
                func,
                arg,
                distinct,
            } => {
                out.push_str(func.name());
                out.push('(');
                match arg {
                    None => out.push('*'),
                    Some(a) => {
                        if *distinct {
                            out.push_str("DISTINCT ");
                        }
                        out.push_str(&self.column(a));
                    }
                }
                out.push(')');
            }
        }
    }

    /// The statement's text.
    pub fn to_sql(&self) -> String {
        let mut out = String::from("SELECT ");
        if self.items.is_empty() {
            out.push_str("1 AS \"?\"");
        }
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            self.write_item(&mut out, item);
            if self.positional() {
                let _ = write!(out, " AS c{}", i + 1);
            }
        }
        out.push_str(" FROM ");
        match (&self.join, self.from.as_slice()) {
            (Some((kind, on)), [a, b]) => {
                let kind = match kind {
                    JoinKind::Inner => "JOIN",
                    JoinKind::Left => "LEFT JOIN",
                    JoinKind::Right => "RIGHT JOIN",
                    JoinKind::Full => "FULL JOIN",
                };
                let _ = write!(out, "{a} r1 {kind} {b} r2 ON ");
                if on.is_empty() {
                    out.push_str("true");
                }
                for (i, c) in on.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" AND ");
                    }
                    self.write_condition(&mut out, c);
                }
            }
            (_, names) => out.push_str(&names.join(", ")),
        }
        for (i, c) in self.filters.iter().enumerate() {
            out.push_str(if i == 0 { " WHERE " } else { " AND " });
            self.write_condition(&mut out, c);
        }
        for (i, g) in self.group_by.iter().enumerate() {
            out.push_str(if i == 0 { " GROUP BY " } else { ", " });
            let _ = write!(out, "{g}");
        }
        for (i, k) in self.order_by.iter().enumerate() {
            out.push_str(if i == 0 { " ORDER BY " } else { ", " });
            // an output column is sorted by its position, which also works after GROUP BY
            match self
                .items
                .iter()
                .position(|it| *it == Item::Column(k.column.clone()))
            {
                Some(p) if self.positional() => {
                    let _ = write!(out, "{}", p + 1);
                }
                _ => out.push_str(&self.column(&k.column)),
            }
            out.push_str(if k.descending { " DESC" } else { " ASC" });
            out.push_str(if k.nulls_first {
                " NULLS FIRST"
            } else {
                " NULLS LAST"
            });
        }
        if self.offset > 0 {
            let _ = write!(out, " OFFSET {}", self.offset);
        }
        if let Some(n) = self.limit {
            let _ = write!(out, " LIMIT {n}");
        }
        out
    }
}

/// Where a `dune_table` option points: one of Dune's tables or an uploaded table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DuneRelation {
    /// A table of Dune's catalog (`dex.trades`): read only.
    Dataset {
        /// Its schema (`dex`).
        schema: String,
        /// Its name (`trades`).
        table: String,
    },
    /// An uploaded table, `dune.<namespace>.<table>`: read, appended to, cleared.
    Upload(crate::TableName),
}

impl DuneRelation {
    /// The name DuneSQL reads it by.
    pub fn sql_name(&self) -> String {
        match self {
            DuneRelation::Dataset { schema, table } => format!("{schema}.{table}"),
            DuneRelation::Upload(t) => t.to_string(),
        }
    }
}

/// A table of Dune's catalog as `GET /v1/datasets/{slug}` describes it (API reference §16).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `dex.trades`, `dune.my_team.labels`.
    pub full_name: String,
    /// `spell`, `decoded_table`, `uploaded_table`, … as Dune says.
    pub kind: String,
    /// (name, DuneSQL type) of each column, in Dune's order.
    pub columns: Vec<(String, String)>,
}

impl Dataset {
    /// Reads one dataset object (`{full_name, type, columns: [{name, type}]}`); None when it
    /// has no name.
    pub fn from_json(v: &Value) -> Option<Dataset> {
        let columns = v
            .get("columns")
            .and_then(Value::as_array)
            .map(|cols| {
                cols.iter()
                    .filter_map(|c| {
                        Some((
                            c.get("name")?.as_str()?.to_string(),
                            c.get("type")?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Dataset {
            full_name: v.get("full_name")?.as_str()?.to_string(),
            kind: v
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            columns,
        })
    }
}

/// The most datasets one list request asks for (§16: limit ≤ 250).
const DATASETS_PAGE: usize = 250;

impl Client {
    /// `GET /v1/datasets/{slug}`: one table of Dune's catalog with its columns; NotFound
    /// (`Table`) when Dune does not know it. Costs no credits; a Read key may ask.
    pub fn dataset(&self, slug: &str) -> Result<Dataset> {
        let url = self.http.url(&format!("/datasets/{slug}"));
        let reply = self
            .http
            .send("GET", &url, None, Idempotency::Safe, NotFound::Table)?;
        let v = json_of(&reply.body, "dataset")?;
        Dataset::from_json(&v).ok_or_else(|| {
            Error::InvalidResponse(format!("dataset {slug}: no full_name in Dune's answer"))
        })
    }

    /// `GET /v1/datasets` page by page: every dataset whose full name starts with `prefix`
    /// (`dex.`), at most `max`. The list carries each table's columns (§16).
    pub fn list_datasets(&self, prefix: &str, max: usize) -> Result<Vec<Dataset>> {
        let mut out = Vec::new();
        let mut offset = 0usize;
        loop {
            let url = format!(
                "{}?limit={DATASETS_PAGE}&offset={offset}",
                self.http.url("/datasets")
            );
            let reply = self
                .http
                .send("GET", &url, None, Idempotency::Safe, NotFound::Table)?;
            let v = json_of(&reply.body, "list datasets")?;
            let page = v
                .get("datasets")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let n = page.len();
            out.extend(
                page.iter()
                    .filter_map(Dataset::from_json)
                    .filter(|d| d.full_name.starts_with(prefix)),
            );
            offset += n;
            let total = v.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
            if n == 0 || offset >= total || out.len() >= max {
                out.truncate(max);
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Literal {
        Literal::Text(s.into())
    }

    #[test]
    fn literals_are_typed_by_their_column() {
        let cases: Vec<(Literal, LiteralType, &str)> = vec![
            (text("o'k"), LiteralType::Varchar, "'o''k'"),
            (
                text("2024-01-02 03:04:05.000000"),
                LiteralType::Timestamp { zoned: true },
                "TIMESTAMP '2024-01-02 03:04:05.000000 UTC'",
            ),
            (
                text("2024-01-02"),
                LiteralType::Timestamp { zoned: false },
                "TIMESTAMP '2024-01-02 00:00:00'",
            ),
            (text("2024-01-02"), LiteralType::Date, "DATE '2024-01-02'"),
            (
                Literal::Bytes(vec![0, 0xab]),
                LiteralType::Varbinary,
                "0x00ab",
            ),
            (Literal::Bytes(vec![]), LiteralType::Varbinary, "X''"),
            (Literal::Number("2.5".into()), LiteralType::Double, "2.5E0"),
            (
                Literal::Number("-1e300".into()),
                LiteralType::Double,
                "-1e300",
            ),
            (Literal::Number("42".into()), LiteralType::Integer, "42"),
            (Literal::Number("42".into()), LiteralType::Varchar, "'42'"),
            (
                Literal::Number("1234567890123456789012".into()),
                LiteralType::Exact("uint256".into()),
                "CAST('1234567890123456789012' AS uint256)",
            ),
            (
                Literal::Number("123456789012345678".into()),
                LiteralType::Exact("uint256".into()),
                "123456789012345678",
            ),
            (
                Literal::Number("123456789012345678.5".into()),
                LiteralType::Exact("decimal(38, 0)".into()),
                "123456789012345678.5",
            ),
            (
                Literal::Number("123456789012345678.5".into()),
                LiteralType::Exact("decimal(38, 0)".into()),
                "123456789012345678.5",
            ),
            (Literal::Bool(true), LiteralType::Boolean, "true"),
            (Literal::Placeholder(2), LiteralType::Varchar, "$2"),
        ];
        for (lit, ty, want) in cases {
            let mut out = String::new();
            write_literal(&mut out, &lit, &ty);
            assert_eq!(out, want, "{lit:?} as {ty:?}");
        }
    }

    fn col(rel: usize, name: &str) -> ColumnRef {
        ColumnRef {
            rel,
            name: name.into(),
        }
    }

    #[test]
    fn a_scan_writes_columns_filters_order_and_limit() {
        let s = Select {
            from: vec!["dex.trades".into()],
            join: None,
            items: vec![
                Item::Column(col(0, "project")),
                Item::Column(col(0, "amount_usd")),
            ],
            types: vec![(
                0,
                "block_time".into(),
                LiteralType::Timestamp { zoned: true },
            )],
            filters: vec![
                Condition::On {
                    rel: 0,
                    filter: Filter::Compare {
                        column: "block_time".into(),
                        op: Op::Ge,
                        value: text("2024-01-01 00:00:00.000000"),
                    },
                },
                Condition::On {
                    rel: 0,
                    filter: Filter::Or(vec![
                        Filter::IsNull {
                            column: "project".into(),
                            negated: false,
                        },
                        Filter::Like {
                            column: "project".into(),
                            pattern: "uni%".into(),
                        },
                    ]),
                },
            ],
            group_by: vec![],
            order_by: vec![OrderKey {
                column: col(0, "amount_usd"),
                descending: true,
                nulls_first: true,
            }],
            offset: 5,
            limit: Some(10),
        };
        assert_eq!(
            s.to_sql(),
            "SELECT \"project\", \"amount_usd\" FROM dex.trades WHERE \"block_time\" >= TIMESTAMP '2024-01-01 00:00:00.000000 UTC' AND (\"project\" IS NULL OR \"project\" LIKE 'uni%') ORDER BY \"amount_usd\" DESC NULLS FIRST OFFSET 5 LIMIT 10"
        );
        assert_eq!(s.output_name(1), "amount_usd");
    }

    #[test]
    fn grouping_and_joins_name_outputs_by_position() {
        let s = Select {
            from: vec!["dex.trades".into(), "tokens.erc20".into()],
            join: Some((
                JoinKind::Left,
                vec![Condition::Columns {
                    left: col(0, "token_bought_address"),
                    op: Op::Eq,
                    right: col(1, "contract_address"),
                }],
            )),
            items: vec![
                Item::Column(col(1, "symbol")),
                Item::Aggregate {
                    func: Aggregate::Sum,
                    arg: Some(col(0, "token_bought_amount_raw")),
                    distinct: false,
                },
                Item::Aggregate {
                    func: Aggregate::Count,
                    arg: None,
                    distinct: false,
                },
            ],
            types: vec![],
            filters: vec![],
            group_by: vec![1],
            order_by: vec![OrderKey {
                column: col(1, "symbol"),
                descending: false,
                nulls_first: false,
            }],
            offset: 0,
            limit: None,
        };
        assert_eq!(
            s.to_sql(),
            "SELECT r2.\"symbol\" AS c1, sum(r1.\"token_bought_amount_raw\") AS c2, count(*) AS c3 FROM dex.trades r1 LEFT JOIN tokens.erc20 r2 ON r1.\"token_bought_address\" = r2.\"contract_address\" GROUP BY 1 ORDER BY 1 ASC NULLS LAST"
        );
        assert_eq!(s.output_name(0), "c1");
    }
}
