//! What the planner decided for a scan, carried to the executor as JSON text in the plan's
//! fdw_private (plain values only, so that plans can be copied and cached): one variant per
//! kind of scan, each with what its executor needs and nothing else.

use crate::backend::options::Settings;
use crate::fdw::deparse::QueryParam;
use crate::fdw::table::Table;
use dune_api::{PValue, Performance, ResultRequest, ResultSource, Select};
use serde::{Deserialize, Serialize};

/// A scan, by kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ScanPlan {
    /// A query result (a query's latest result, a new execution, raw SQL, an execution) read
    /// with Dune's result filters.
    Result(ResultScan),
    /// A DuneSQL statement over Dune's tables and uploads: a table's scan, a join, a grouping.
    Statement(StatementScan),
    /// `dune_latest_results`: the latest results of the queries WHERE names.
    LatestResults(LatestScan),
}

/// A read of a query result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultScan {
    /// The foreign table's name, for messages.
    pub table: String,
    /// The foreign table.
    pub relid: u32,
    /// What is read.
    pub source: ResultSource,
    /// Columns, filters, order and rows asked of Dune.
    pub request: ResultRequest<PValue>,
    /// Values of the query's parameters from `param_column = value` quals.
    pub param_values: Vec<QueryParam>,
    /// The scan is the whole query (a final path): no Limit node runs above it, so it must
    /// itself return at most `request.limit` rows after skipping `request.offset` matching
    /// ones when Dune could not.
    pub final_limit: bool,
    /// The scan is the inner side of a parameterized join: it reads once per outer key, within
    /// `max_reads_per_scan`.
    pub parameterized: bool,
    /// The table's settings.
    pub settings: Settings,
}

/// A relation of a statement, as its rules and checks need it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanRelation {
    /// The foreign table.
    pub relid: u32,
    /// Its `schema.name`, for messages.
    pub qualified: String,
    /// `require_filter`: the statement must restrict one of these Dune columns of it.
    pub require_filter: Vec<String>,
    /// It is an upload (its declared columns are checked against Dune's before running).
    pub upload: bool,
}

/// A DuneSQL statement's scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatementScan {
    /// The first foreign table's name, for messages.
    pub table: String,
    /// The statement, values as literals or parameters.
    pub select: Select<PValue>,
    /// Its relations, in the order of `select.from`.
    pub relations: Vec<ScanRelation>,
    /// Its rows are exactly the answer (grouped or joined): PostgreSQL has no qual left to
    /// check, so every planned condition must be sent.
    pub exact: bool,
    /// The PostgreSQL type and typmod of each output of a positional statement (its rows are
    /// these, named c1, c2, …); None when its rows are the first table's columns.
    pub outputs: Option<Vec<(u32, i32)>>,
    /// The tier it runs on (`performance`).
    pub performance: Option<Performance>,
    /// `max_age` in ms: read the execution of the same statement that ended this recently.
    pub max_age_ms: Option<u64>,
    /// The scan is the whole query (see [`ResultScan::final_limit`]).
    pub final_limit: bool,
    /// The first table's settings.
    pub settings: Settings,
}

/// A scan of `dune_latest_results`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatestScan {
    /// The foreign table's name, for messages.
    pub table: String,
    /// The foreign table.
    pub relid: u32,
    /// The query ids asked for (`query_id = …` or `IN (…)`).
    pub query_ids: Vec<PValue>,
    /// The parameter set asked for (`params = …`).
    pub params: Option<PValue>,
    /// The table's settings.
    pub settings: Settings,
}

impl ResultScan {
    /// A plain read of `source` for `table` asking `request` (no parameter values, not
    /// parameterized, under PostgreSQL's Limit node if any).
    pub fn new(table: &Table, source: ResultSource, request: ResultRequest<PValue>) -> ResultScan {
        ResultScan {
            table: table.name.clone(),
            relid: table.relid.to_u32(),
            source,
            request,
            param_values: Vec::new(),
            final_limit: false,
            parameterized: false,
            settings: table.settings.clone(),
        }
    }
}

impl ScanPlan {
    /// The foreign table the scan reads (a statement's first).
    pub fn relid(&self) -> u32 {
        match self {
            ScanPlan::Result(r) => r.relid,
            ScanPlan::Statement(s) => s.relations[0].relid,
            ScanPlan::LatestResults(l) => l.relid,
        }
    }

    /// The foreign table's name, for messages.
    pub fn table(&self) -> &str {
        match self {
            ScanPlan::Result(r) => &r.table,
            ScanPlan::Statement(s) => &s.table,
            ScanPlan::LatestResults(l) => &l.table,
        }
    }

    /// The settings of the (first) table.
    pub fn settings(&self) -> &Settings {
        match self {
            ScanPlan::Result(r) => &r.settings,
            ScanPlan::Statement(s) => &s.settings,
            ScanPlan::LatestResults(l) => &l.settings,
        }
    }

    /// The most reads the scan makes in a statement: a parameterized read of a result, and
    /// every statement (each parameter set is one execution), are bounded by
    /// `max_reads_per_scan`.
    pub fn max_reads(&self) -> Option<u64> {
        match self {
            ScanPlan::Result(r) if !r.parameterized => None,
            ScanPlan::LatestResults(_) => None,
            other => Some(other.settings().max_reads_per_scan),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plans serialize")
    }

    pub fn from_json(s: &str) -> ScanPlan {
        serde_json::from_str(s).expect("plans written by this version of dune_fdw")
    }
}
