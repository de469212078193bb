//! What the planner decided for a scan, carried to the executor as JSON text in the plan's
//! fdw_private (plain values only, so that plans can be copied and cached).

use crate::fdw::upper::Grouping;
use dune_api::{
    ColumnRef, Condition, Filter, Item, JoinKind, Literal, LiteralType, Op, OrderKey, ResultSource,
    Select,
};
use serde::{Deserialize, Serialize};

/// A value in a pushed-down predicate: known at plan time, or a parameter (a prepared
/// statement's `$1`, or a value from the outer side of a nested loop) evaluated at scan time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PValue {
    Lit(Literal),
    /// Index in the plan's fdw_exprs, and the parameter's type.
    Param {
        index: usize,
        type_oid: u32,
    },
}

impl PValue {
    /// The value as EXPLAIN shows it: a literal as sent, a parameter as `$n`.
    pub fn shown(&self) -> Literal {
        match self {
            PValue::Lit(l) => l.clone(),
            PValue::Param { index, .. } => Literal::Placeholder(index + 1),
        }
    }
}

/// Where the rows of a scan come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PlanSource {
    /// A result of Dune, as the table's options describe it.
    Result(ResultSource),
    /// The latest-results table: the query ids and the parameter set asked for in WHERE.
    LatestResults {
        query_ids: Vec<PValue>,
        params: Option<PValue>,
    },
}

/// What the planner decided for a scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanPlan {
    /// The foreign table's name, for messages.
    pub table: String,
    pub source: PlanSource,
    /// Rows per results request (the table's `fetch_size`), over the server's.
    pub fetch_size: Option<u64>,
    /// Results requests in flight (the table's `fetch_concurrency`), over the server's.
    pub fetch_concurrency: Option<u64>,
    /// `ignore_max_datapoints_per_request` of the table, over the server's.
    pub ignore_max_datapoints: Option<bool>,
    /// The most reads the scan makes in a statement (`max_reads_per_scan`), over the server's.
    pub max_reads_per_scan: Option<u64>,
    /// The Dune columns to request (`retrieved_attrs`); None for all.
    pub columns: Option<Vec<String>>,
    /// Pushed-down predicates, ANDed.
    pub filters: Vec<Filter<PValue>>,
    /// Values for the query's parameters from `param_column = value`: (parameter, value).
    pub param_values: Vec<(String, PValue)>,
    /// Pushed-down ORDER BY: (Dune column, descending).
    pub sort_by: Vec<(String, bool)>,
    /// Pushed-down LIMIT: the rows to read (plus OFFSET, unless `final_limit`).
    pub limit: Option<u64>,
    /// Rows Dune skips first (Dune's `offset`; a final path's OFFSET).
    pub offset: u64,
    /// The scan is the whole query (a final path): no Limit node runs above it, so it must
    /// itself return at most `limit` rows after skipping `offset` matching ones.
    pub final_limit: bool,
    /// The scan is the inner side of a parameterized join: it reads once per outer key, within
    /// `max_reads_per_scan`.
    pub parameterized: bool,
    /// A scan of one of Dune's tables (`dune_table 'dex.trades'`): columns, filters, ORDER BY,
    /// LIMIT and a grouping are written into the DuneSQL the scan runs, not sent as result
    /// filters. (An upload is read with `SELECT *` and the result's filters.)
    #[serde(default)]
    pub statement: Option<Statement>,
}

/// What a scan of a Dune table needs beyond a result read's plan to write its DuneSQL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statement {
    /// The relation as DuneSQL names it (`dex.trades`, `dune.my_team.labels`).
    pub from: String,
    /// Every Dune column the table declares, with how its literals are written.
    pub types: Vec<(String, LiteralType)>,
    /// `require_filter`: the scan must restrict one of these Dune columns (empty: no rule).
    pub require_filter: Vec<String>,
    /// `NULLS FIRST` of each ORDER BY key (`sort_by`'s order).
    pub nulls_first: Vec<bool>,
    /// The foreign table (a grouped scan has no scan relation to take it from).
    pub relid: u32,
    /// Its `schema.name`, for messages.
    #[serde(default)]
    pub qualified: String,
    /// The grouping and aggregates the statement computes (an aggregate pushed down).
    #[serde(default)]
    pub grouping: Option<Grouping>,
    /// The second table the statement joins (a join pushed down); this one is `r1`.
    #[serde(default)]
    pub join: Option<Join>,
    /// `max_age` in ms: read the execution of the same statement that ended this recently.
    #[serde(default)]
    pub max_age_ms: Option<u64>,
}

impl Statement {
    /// The PostgreSQL type and typmod of each output of a grouped or joined statement (its
    /// rows are these, named c1, c2, …); None for a table's own columns.
    pub fn outputs(&self) -> Option<&[(u32, i32)]> {
        match (&self.grouping, &self.join) {
            (Some(g), _) => Some(&g.outputs),
            (None, Some(j)) => Some(&j.outputs),
            (None, None) => None,
        }
    }

    /// How literals compared with `column` are written, for planned filter number `filter`
    /// (a join's filters are on either table).
    pub fn literal_type(&self, filter: usize, column: &str) -> &LiteralType {
        let types = match &self.join {
            Some(j) if j.filter_rels.get(filter) == Some(&1) => &j.right_types,
            _ => &self.types,
        };
        types
            .iter()
            .find(|(c, _)| c == column)
            .map_or(&LiteralType::Unknown, |(_, t)| t)
    }

    /// Its rows are exactly the answer (grouped or joined): PostgreSQL has no qual left to
    /// check, so every planned filter must be sent.
    pub fn exact(&self) -> bool {
        self.grouping.is_some() || self.join.is_some()
    }
}

/// A join of two Dune tables written into the DuneSQL (`join.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Join {
    /// INNER or LEFT.
    pub kind: JoinKind,
    /// The second table, as DuneSQL names it (`r2`).
    pub right: String,
    /// The second foreign table's name, for messages.
    pub right_table: String,
    /// Its columns' literal types.
    pub right_types: Vec<(String, LiteralType)>,
    /// Its `require_filter`.
    pub right_require: Vec<String>,
    /// The join clauses (equalities of a column of each).
    pub clauses: Vec<Condition>,
    /// For each planned filter, the table it is on (0 or 1); a LEFT join's filters on the
    /// second table go into ON.
    pub filter_rels: Vec<usize>,
    /// The output columns.
    pub items: Vec<Item>,
    /// Each output's PostgreSQL type and typmod.
    pub outputs: Vec<(u32, i32)>,
}

/// Whether `f` keeps only some values of one of `columns` (a comparison other than `<>`, an
/// IN list, LIKE, IS NULL; an AND with one such part; an OR whose parts all are).
pub fn restricts(f: &Filter, columns: &[String]) -> bool {
    match f {
        Filter::And(parts) => parts.iter().any(|p| restricts(p, columns)),
        Filter::Or(parts) => !parts.is_empty() && parts.iter().all(|p| restricts(p, columns)),
        Filter::Compare { column, op, .. } => *op != Op::Ne && columns.contains(column),
        Filter::In { column, .. } | Filter::Like { column, .. } => columns.contains(column),
        Filter::IsNull { column, negated } => !negated && columns.contains(column),
    }
}

impl ScanPlan {
    /// The DuneSQL `SELECT` of a Dune table's scan, given the filters that are sent (values
    /// known, or `$n` placeholders for EXPLAIN); `complete` says every planned filter is
    /// among them, without which ORDER BY is kept but LIMIT and OFFSET are left to the scan.
    pub fn select(&self, stmt: &Statement, filters: Vec<Filter>, complete: bool) -> Select {
        let columns: Vec<&String> = match &self.columns {
            Some(c) => c.iter().collect(),
            None => stmt.types.iter().map(|(c, _)| c).collect(),
        };
        let column = |name: &String| ColumnRef {
            rel: 0,
            name: name.clone(),
        };
        let (items, group_by) = match (&stmt.grouping, &stmt.join) {
            (Some(g), _) => (g.items.clone(), g.group_by.clone()),
            (None, Some(j)) => (j.items.clone(), Vec::new()),
            (None, None) => (
                columns
                    .into_iter()
                    .map(|c| Item::Column(column(c)))
                    .collect(),
                Vec::new(),
            ),
        };
        let mut types: Vec<_> = stmt
            .types
            .iter()
            .map(|(c, t)| (0, c.clone(), t.clone()))
            .collect();
        let mut from = vec![stmt.from.clone()];
        let mut join = None;
        let mut conditions = Vec::new();
        for (i, filter) in filters.into_iter().enumerate() {
            let rel = stmt
                .join
                .as_ref()
                .and_then(|j| j.filter_rels.get(i).copied())
                .unwrap_or(0);
            conditions.push(Condition::On { rel, filter });
        }
        if let Some(j) = &stmt.join {
            from.push(j.right.clone());
            types.extend(j.right_types.iter().map(|(c, t)| (1, c.clone(), t.clone())));
            let mut on = j.clauses.clone();
            // LEFT JOIN: the second table's filters choose the rows it joins, in ON
            if j.kind == JoinKind::Left {
                let (inner, outer): (Vec<_>, Vec<_>) = conditions
                    .into_iter()
                    .partition(|c| matches!(c, Condition::On { rel: 1, .. }));
                on.extend(inner);
                conditions = outer;
            }
            join = Some((j.kind, on));
        }
        Select {
            from,
            join,
            items,
            types,
            filters: conditions,
            group_by,
            order_by: self
                .sort_by
                .iter()
                .enumerate()
                .map(|(i, (c, descending))| OrderKey {
                    column: column(c),
                    descending: *descending,
                    nulls_first: stmt.nulls_first.get(i).copied().unwrap_or(false),
                })
                .collect(),
            offset: if complete && self.final_limit {
                self.offset
            } else {
                0
            },
            limit: self.limit.filter(|_| complete),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plans serialize")
    }

    pub fn from_json(s: &str) -> ScanPlan {
        serde_json::from_str(s).expect("plans written by this version of dune_fdw")
    }
}

/// A parameter value as Dune takes it: text as is, numbers in their digits, booleans as
/// true/false, timestamps without a zero fraction (Dune's datetime parameters are
/// `YYYY-MM-DD hh:mm:ss`, API reference §8), and a date as its midnight.
pub fn param_text(value: &Literal, date: bool) -> String {
    match value {
        Literal::Text(t) if date => format!("{t} 00:00:00"),
        Literal::Text(t) => t.strip_suffix(".000000").unwrap_or(t).to_string(),
        Literal::Number(n) => n.clone(),
        Literal::Bool(b) => b.to_string(),
        Literal::Bytes(b) => format!(
            "0x{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
        Literal::Placeholder(n) => format!("${n}"),
    }
}
