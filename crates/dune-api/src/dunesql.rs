//! DuneSQL text: a [`Select`] rendered, and the catalog of Dune's tables it reads
//! (`/v1/datasets`, API reference §16). DuneSQL is Trino's dialect (§4, "Execute SQL"): names
//! are double-quoted, strings single-quoted with quotes doubled, and every literal is written
//! in the type of what it is compared with, so that Trino never has to guess
//! (`TIMESTAMP '2024-01-01 00:00:00.000000 UTC'`, `DATE '2024-01-01'`, `0x0a1b`, `1.5E0` for a
//! double, `CAST('…' AS uint256)` for long exact numbers). A type name reaches the text only as
//! [`DuneType`] writes it, never as a user wrote it.

use crate::client::Client;
use crate::dune_type::DuneType;
use crate::error::{Error, NotFound, Result};
use crate::filters::{Literal, quote_column, quote_text};
use crate::manage::json_of;
use crate::retry::Idempotency;
use crate::statement::{ColumnRef, Expr, JoinKind, Select};
use serde_json::Value;
use std::fmt::Write;

/// `value` as a DuneSQL literal of type `ty` (None: not known, numbers as digits and
/// everything else quoted), appended to `out`. A placeholder (a value not yet known, EXPLAIN
/// only) is written `$n`.
pub fn write_literal(out: &mut String, value: &Literal, ty: Option<&DuneType>) {
    use DuneType as T;
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
        (Literal::Number(n), Some(T::Double | T::Real)) if is_plain_number(n) => {
            out.push_str(n);
            if !n.contains(['e', 'E']) {
                out.push_str("E0");
            }
        }
        (Literal::Number(n), Some(t)) if t.is_exact_number() && is_plain_number(n) => {
            // a fraction stays a decimal literal (exact up to 38 digits; past that Trino
            // refuses it): a CAST to the column's type would round it
            let fraction = n.contains('.') && !n.contains(['e', 'E']);
            if n.bytes().filter(u8::is_ascii_digit).count() <= 18 || fraction {
                out.push_str(n);
            } else {
                let _ = write!(out, "CAST({} AS {t})", quote_text(n));
            }
        }
        (Literal::Number(n), Some(t)) if t.is_text() => out.push_str(&quote_text(n)),
        (Literal::Number(n), _) if is_plain_number(n) => out.push_str(n),
        (Literal::Number(n) | Literal::Text(n), Some(T::Date)) => {
            let _ = write!(out, "DATE {}", quote_text(n));
        }
        (Literal::Number(n) | Literal::Text(n), Some(T::Timestamp { zoned, .. })) => {
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

impl Select {
    fn column(&self, c: &ColumnRef) -> String {
        if self.from.len() > 1 {
            format!("r{}.{}", c.rel + 1, quote_column(&c.name))
        } else {
            quote_column(&c.name)
        }
    }

    fn write_list(&self, out: &mut String, parts: &[Expr], sep: &str) {
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            self.write_expr(out, p);
        }
    }

    /// Appends an expression; AND, OR, NOT and operators are parenthesised.
    fn write_expr(&self, out: &mut String, x: &Expr) {
        let e = x;
        match e {
            Expr::Column(c) => out.push_str(&self.column(c)),
            Expr::Value { value, ty } => write_literal(out, value, ty.as_ref()),
            Expr::Compare { left, op, right } => {
                self.write_expr(out, left);
                let _ = write!(out, " {} ", op.as_str());
                self.write_expr(out, right);
            }
            Expr::In { expr, values, ty } => {
                self.write_expr(out, expr);
                out.push_str(" IN (");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_literal(out, v, ty.as_ref());
                }
                out.push(')');
            }
            Expr::Like { expr, pattern } => {
                self.write_expr(out, expr);
                let _ = write!(out, " LIKE {}", quote_text(pattern));
            }
            Expr::IsNull { expr, negated } => {
                self.write_expr(out, expr);
                out.push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Expr::And(parts) | Expr::Or(parts) if parts.is_empty() => {
                out.push_str(if matches!(e, Expr::And(_)) {
                    "true"
                } else {
                    "false"
                })
            }
            Expr::And(parts) | Expr::Or(parts) => {
                let sep = if matches!(e, Expr::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                out.push('(');
                self.write_list(out, parts, sep);
                out.push(')');
            }
            Expr::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Expr::Call { .. }
            | Expr::Arith { .. }
            | Expr::Negate(_)
            | Expr::Not(_)
            | Expr::Distinct { .. }
            | Expr::Case { .. }
            | Expr::Cast { .. } => self.write_compound(out, e),
            Expr::Aggregate {
                func,
                arg,
                distinct,
                filter,
            } => {
                let _ = write!(out, "{}(", func.name());
                match arg {
                    None => out.push('*'),
                    Some(a) => {
                        if *distinct {
                            out.push_str("DISTINCT ");
                        }
                        self.write_expr(out, a);
                    }
                }
                out.push(')');
                if let Some(c) = filter {
                    out.push_str(" FILTER (WHERE ");
                    self.write_expr(out, c);
                    out.push(')');
                }
            }
        }
    }

    /// Appends a function call, an operator, NOT, IS DISTINCT FROM, CASE or CAST.
    fn write_compound(&self, out: &mut String, x: &Expr) {
        match x {
            Expr::Call { func, args } => {
                let _ = write!(out, "{}(", func.name());
                self.write_list(out, args, ", ");
                out.push(')');
            }
            Expr::Arith { left, op, right } => {
                out.push('(');
                self.write_expr(out, left);
                let _ = write!(out, " {} ", op.as_str());
                self.write_expr(out, right);
                out.push(')');
            }
            Expr::Negate(e) | Expr::Not(e) => {
                out.push_str(if matches!(x, Expr::Not(_)) {
                    "(NOT "
                } else {
                    "(- "
                });
                self.write_expr(out, e);
                out.push(')');
            }
            Expr::Distinct {
                left,
                right,
                negated,
            } => {
                self.write_expr(out, left);
                out.push_str(if *negated {
                    " IS NOT DISTINCT FROM "
                } else {
                    " IS DISTINCT FROM "
                });
                self.write_expr(out, right);
            }
            Expr::Case { whens, otherwise } => {
                out.push_str("CASE");
                for (c, v) in whens {
                    out.push_str(" WHEN ");
                    self.write_expr(out, c);
                    out.push_str(" THEN ");
                    self.write_expr(out, v);
                }
                if let Some(o) = otherwise {
                    out.push_str(" ELSE ");
                    self.write_expr(out, o);
                }
                out.push_str(" END");
            }
            Expr::Cast { expr, ty } => {
                out.push_str("CAST(");
                self.write_expr(out, expr);
                let _ = write!(out, " AS {ty})");
            }
            _ => unreachable!("write_expr writes the others"),
        }
    }

    fn write_from(&self, out: &mut String) {
        out.push_str(" FROM ");
        let [first, rest @ ..] = self.from.as_slice() else {
            return;
        };
        if rest.is_empty() {
            out.push_str(first);
            return;
        }
        let _ = write!(out, "{first} r1");
        for (i, name) in rest.iter().enumerate() {
            let join = self.joins.get(i);
            let kind = match join.map(|j| j.kind) {
                Some(JoinKind::Inner) | None => "JOIN",
                Some(JoinKind::Left) => "LEFT JOIN",
                Some(JoinKind::Right) => "RIGHT JOIN",
                Some(JoinKind::Full) => "FULL JOIN",
            };
            let _ = write!(out, " {kind} {name} r{} ON ", i + 2);
            match join.map(|j| j.on.as_slice()) {
                None | Some([]) => out.push_str("true"),
                Some(on) => self.write_list(out, on, " AND "),
            }
        }
    }

    fn write_order(&self, out: &mut String) {
        for (i, k) in self.order_by.iter().enumerate() {
            out.push_str(if i == 0 { " ORDER BY " } else { ", " });
            // an output is sorted by its position, which also works after GROUP BY
            match self.items.iter().position(|it| *it == k.expr) {
                Some(p) if self.positional() => {
                    let _ = write!(out, "{}", p + 1);
                }
                _ => self.write_expr(out, &k.expr),
            }
            out.push_str(if k.descending { " DESC" } else { " ASC" });
            out.push_str(if k.nulls_first {
                " NULLS FIRST"
            } else {
                " NULLS LAST"
            });
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
            self.write_expr(&mut out, item);
            if self.positional() {
                let _ = write!(out, " AS c{}", i + 1);
            }
        }
        self.write_from(&mut out);
        let clauses = [(" WHERE ", &self.filters), (" HAVING ", &self.having)];
        for (n, (word, conds)) in clauses.into_iter().enumerate() {
            if n == 1 {
                for (i, g) in self.group_by.iter().enumerate() {
                    out.push_str(if i == 0 { " GROUP BY " } else { ", " });
                    let _ = write!(out, "{g}");
                }
            }
            if !conds.is_empty() {
                out.push_str(word);
                self.write_list(&mut out, conds, " AND ");
            }
        }
        self.write_order(&mut out);
        if self.offset > 0 {
            let _ = write!(out, " OFFSET {}", self.offset);
        }
        if let Some(n) = self.limit {
            let _ = write!(out, " LIMIT {n}");
        }
        out
    }
}

/// The `columns` of a catalog entry (a dataset, an upload): (name, type as Dune spells it,
/// `nullable` when said), those without a name or a type left out.
pub(crate) fn catalog_columns(v: &Value) -> Vec<(String, String, Option<bool>)> {
    let Some(cols) = v.get("columns").and_then(Value::as_array) else {
        return Vec::new();
    };
    cols.iter()
        .filter_map(|c| {
            Some((
                c.get("name")?.as_str()?.to_string(),
                c.get("type")?.as_str()?.to_string(),
                c.get("nullable").and_then(Value::as_bool),
            ))
        })
        .collect()
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
    /// (name, type as Dune spells it) of each column, in Dune's order.
    pub columns: Vec<(String, String)>,
}

impl Dataset {
    /// Reads one dataset object (`{full_name, type, columns: [{name, type}]}`); None when it
    /// has no name.
    pub fn from_json(v: &Value) -> Option<Dataset> {
        let columns = catalog_columns(v)
            .into_iter()
            .map(|(name, ty, _)| (name, ty))
            .collect();
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
    use crate::filters::Op;
    use crate::statement::{Aggregate, Join, OrderKey};

    fn text(s: &str) -> Literal {
        Literal::Text(s.into())
    }

    #[test]
    fn literals_are_typed_by_what_they_are_compared_with() {
        let ts = |zoned| DuneType::Timestamp {
            precision: Some(3),
            zoned,
        };
        let cases: Vec<(Literal, Option<DuneType>, &str)> = vec![
            (
                text("o'k"),
                Some(DuneType::Varchar { length: None }),
                "'o''k'",
            ),
            (
                text("2024-01-02 03:04:05.000000"),
                Some(ts(true)),
                "TIMESTAMP '2024-01-02 03:04:05.000000 UTC'",
            ),
            (
                text("2024-01-02"),
                Some(ts(false)),
                "TIMESTAMP '2024-01-02 00:00:00'",
            ),
            (
                text("2024-01-02"),
                Some(DuneType::Date),
                "DATE '2024-01-02'",
            ),
            (
                Literal::Bytes(vec![0, 0xab]),
                Some(DuneType::Varbinary),
                "0x00ab",
            ),
            (Literal::Bytes(vec![]), Some(DuneType::Varbinary), "X''"),
            (
                Literal::Number("2.5".into()),
                Some(DuneType::Double),
                "2.5E0",
            ),
            (
                Literal::Number("-1e300".into()),
                Some(DuneType::Double),
                "-1e300",
            ),
            (Literal::Number("42".into()), Some(DuneType::Bigint), "42"),
            (
                Literal::Number("42".into()),
                Some(DuneType::Varchar { length: None }),
                "'42'",
            ),
            (
                Literal::Number("1234567890123456789012".into()),
                Some(DuneType::Uint256),
                "CAST('1234567890123456789012' AS uint256)",
            ),
            (
                Literal::Number("123456789012345678".into()),
                Some(DuneType::Uint256),
                "123456789012345678",
            ),
            (
                Literal::Number("123456789012345678.5".into()),
                Some(DuneType::parse("decimal(38,0)")),
                "123456789012345678.5",
            ),
            (
                Literal::Number("1234567890123456789012".into()),
                Some(DuneType::parse("DECIMAL(38,0)")),
                "CAST('1234567890123456789012' AS decimal(38, 0))",
            ),
            (
                Literal::Number("1234567890123456789012".into()),
                Some(DuneType::parse("uint256) OR true --")),
                "1234567890123456789012",
            ),
            (Literal::Number("7 OR 1=1".into()), None, "'7 OR 1=1'"),
            (Literal::Bool(true), Some(DuneType::Boolean), "true"),
            (Literal::Placeholder(2), None, "$2"),
        ];
        for (lit, ty, want) in cases {
            let mut out = String::new();
            write_literal(&mut out, &lit, ty.as_ref());
            assert_eq!(out, want, "{lit:?} as {ty:?}");
        }
    }

    fn value(l: Literal, ty: DuneType) -> Expr {
        Expr::Value {
            value: l,
            ty: Some(ty),
        }
    }

    #[test]
    fn a_scan_writes_columns_filters_order_and_limit() {
        let ts = DuneType::parse("timestamp(3) with time zone");
        let mut s = Select::from(
            "dex.trades",
            vec![Expr::column(0, "project"), Expr::column(0, "amount_usd")],
        );
        s.filters = vec![
            Expr::compare(
                Expr::column(0, "block_time"),
                Op::Ge,
                value(text("2024-01-01 00:00:00.000000"), ts),
            ),
            Expr::Or(vec![
                Expr::is_null(Expr::column(0, "project"), false),
                Expr::Like {
                    expr: Box::new(Expr::column(0, "project")),
                    pattern: "uni%".into(),
                },
            ]),
        ];
        s.order_by = vec![OrderKey {
            expr: Expr::column(0, "amount_usd"),
            descending: true,
            nulls_first: true,
        }];
        s.offset = 5;
        s.limit = Some(10);
        assert_eq!(
            s.to_sql(),
            "SELECT \"project\", \"amount_usd\" FROM dex.trades WHERE \"block_time\" >= TIMESTAMP '2024-01-01 00:00:00.000000 UTC' AND (\"project\" IS NULL OR \"project\" LIKE 'uni%') ORDER BY \"amount_usd\" DESC NULLS FIRST OFFSET 5 LIMIT 10"
        );
        assert_eq!(s.output_name(1), "amount_usd");
    }

    #[test]
    fn grouping_and_joins_name_outputs_by_position() {
        let mut s = Select::from(
            "dex.trades",
            vec![
                Expr::column(1, "symbol"),
                Expr::Aggregate {
                    func: Aggregate::Sum,
                    arg: Some(Box::new(Expr::column(0, "token_bought_amount_raw"))),
                    distinct: false,
                    filter: None,
                },
                Expr::Aggregate {
                    func: Aggregate::Count,
                    arg: None,
                    distinct: false,
                    filter: Some(Box::new(Expr::compare(
                        Expr::column(1, "decimals"),
                        Op::Eq,
                        value(Literal::Number("18".into()), DuneType::Integer),
                    ))),
                },
            ],
        );
        s.from.push("tokens.erc20".into());
        s.joins = vec![Join {
            kind: JoinKind::Left,
            on: vec![Expr::compare(
                Expr::column(0, "token_bought_address"),
                Op::Eq,
                Expr::column(1, "contract_address"),
            )],
        }];
        s.group_by = vec![1];
        s.having = vec![Expr::compare(
            s.items[2].clone(),
            Op::Gt,
            value(Literal::Number("5".into()), DuneType::Bigint),
        )];
        s.order_by = vec![OrderKey {
            expr: Expr::column(1, "symbol"),
            descending: false,
            nulls_first: false,
        }];
        assert_eq!(
            s.to_sql(),
            "SELECT r2.\"symbol\" AS c1, sum(r1.\"token_bought_amount_raw\") AS c2, count(*) FILTER (WHERE r2.\"decimals\" = 18) AS c3 FROM dex.trades r1 LEFT JOIN tokens.erc20 r2 ON r1.\"token_bought_address\" = r2.\"contract_address\" GROUP BY 1 HAVING count(*) FILTER (WHERE r2.\"decimals\" = 18) > 5 ORDER BY 1 ASC NULLS LAST"
        );
        assert_eq!(s.output_name(0), "c1");
        s.from.push("dune.team.labels".into());
        s.joins.push(Join {
            kind: JoinKind::Inner,
            on: vec![],
        });
        assert!(
            s.to_sql()
                .contains(" JOIN dune.team.labels r3 ON true GROUP BY")
        );
    }
}
