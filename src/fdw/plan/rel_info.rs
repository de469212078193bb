//! The planner's state of one relation, kept on it (`RelOptInfo.fdw_private`) from the first
//! callback that plans it to GetForeignPlan, as postgres_fdw keeps its `PgFdwRelationInfo`:
//! one struct for a scan of a table, a join pushed to Dune and a grouping pushed to Dune,
//! each holding the request or statement as far as it is known.

use crate::fdw::deparse::{Ctx, QueryParam};
use crate::fdw::scan_plan::{ScanPlan, ScanRelation, StatementScan};
use crate::fdw::table::{Column, Table};
use dune_api::{PValue, Performance, ResultRequest, ResultSource, Select};
use pgrx::pg_sys;

/// What the planner knows of a relation.
pub(crate) struct RelInfo {
    /// Which relation it is.
    pub(crate) kind: RelKind,
    /// What its scan reads.
    pub(crate) scan: ScanDraft,
    /// Parameter expressions found in its conditions, to become the plan's fdw_exprs (a
    /// `PValue::Param(n)` is the n-th).
    pub(crate) params: Vec<*mut pg_sys::Node>,
    /// Every qual was translated exactly: a LIMIT may be pushed, and a join or a grouping may
    /// be built on it.
    pub(crate) all_pushed: bool,
    /// The result cache holds the whole result (these columns, unfiltered): reads cost no
    /// request, whatever their filters.
    pub(crate) cached: bool,
}

/// Which relation a [`RelInfo`] describes.
pub(crate) enum RelKind {
    /// A scan of one foreign table, relation `varno` of the query.
    Base { varno: u32, table: Box<Table> },
    /// A join of two relations run on Dune.
    Join,
    /// A grouping run on Dune; `tlist` is the scan's outputs (fdw_scan_tlist).
    Grouped { tlist: Vec<*mut pg_sys::Node> },
}

/// What a relation's scan reads, as far as the planner knows it.
pub(crate) enum ScanDraft {
    /// A query result: the source and what is asked of it (order and rows come with the path).
    Result {
        source: ResultSource,
        request: ResultRequest<PValue>,
        param_values: Vec<QueryParam>,
    },
    /// A DuneSQL statement.
    Statement(StatementDraft),
    /// `dune_latest_results`.
    LatestResults {
        query_ids: Vec<PValue>,
        params: Option<PValue>,
    },
}

/// A statement being planned.
#[derive(Clone)]
pub(crate) struct StatementDraft {
    /// The statement so far (ORDER BY and LIMIT come with the path).
    pub(crate) select: Select<PValue>,
    /// Its relations, in the order of `select.from`.
    pub(crate) relations: Vec<DraftRelation>,
    /// Its rows are the answer (a join, a grouping): nothing is rechecked.
    pub(crate) exact: bool,
    /// The PostgreSQL type and typmod of each output of a positional statement.
    pub(crate) outputs: Option<Vec<(u32, i32)>>,
    /// The first table's `performance`.
    pub(crate) performance: Option<Performance>,
    /// The first table's `max_age`, in ms.
    pub(crate) max_age_ms: Option<u64>,
}

/// A relation of a statement being planned.
#[derive(Clone)]
pub(crate) struct DraftRelation {
    /// Its range-table index in the query.
    pub(crate) varno: u32,
    pub(crate) table: Table,
    /// `require_filter`, as Dune columns.
    pub(crate) require_filter: Vec<String>,
    /// It is an upload.
    pub(crate) upload: bool,
}

impl StatementDraft {
    /// The relation (index in `select.from`) and column a plain column reference `node`
    /// reads, if it is one of the statement's relations.
    ///
    /// # Safety
    /// `node` must be NULL or a valid expression node.
    pub(crate) unsafe fn column(&self, node: *mut pg_sys::Node) -> Option<(usize, &Column)> {
        // SAFETY: as the function requires.
        unsafe { self.ctx(Vec::new()).column_ref(node) }
    }

    /// Deparsing over the statement's relations, with these parameters so far.
    pub(crate) fn ctx(&self, params: Vec<*mut pg_sys::Node>) -> Ctx<'_> {
        let relations: Vec<(u32, &Table)> =
            self.relations.iter().map(|r| (r.varno, &r.table)).collect();
        Ctx::over(&relations, params)
    }
}

impl RelInfo {
    /// The table of a base relation, with its range-table index.
    pub(crate) fn base(&self) -> Option<(u32, &Table)> {
        match &self.kind {
            RelKind::Base { varno, table } => Some((*varno, table)),
            _ => None,
        }
    }

    /// The statement of a relation read by DuneSQL.
    pub(crate) fn statement(&self) -> Option<&StatementDraft> {
        match &self.scan {
            ScanDraft::Statement(s) => Some(s),
            _ => None,
        }
    }
}

/// The RelInfo of `rel`, if dune_fdw planned it.
///
/// # Safety
/// `rel` must be a relation of the planner whose fdw_private, when set, is a RelInfo (every
/// relation dune_fdw plans: base relations of its foreign tables, the join and upper
/// relations it offered paths for).
pub(crate) unsafe fn rel_info<'a>(rel: *mut pg_sys::RelOptInfo) -> Option<&'a RelInfo> {
    // SAFETY: as the function requires; the RelInfo was leaked into the planner's memory
    // context, which outlives the planner callbacks.
    unsafe { ((*rel).fdw_private as *const RelInfo).as_ref() }
}

/// Keeps `info` on `rel` for the callbacks that follow, in the planner's memory context
/// (current in every planner callback), which frees it with the plan's memory.
///
/// # Safety
/// `rel` must be a relation of the planner being planned by dune_fdw.
pub(crate) unsafe fn keep(rel: *mut pg_sys::RelOptInfo, info: RelInfo) {
    let ptr = pgrx::PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(info);
    // SAFETY: as the function requires.
    unsafe { (*rel).fdw_private = ptr as *mut std::ffi::c_void };
}

impl StatementDraft {
    /// The scan of this statement, ordered by `order_by` and limited by (limit, offset);
    /// `final_limit` for a path that is the whole query.
    pub(crate) fn scan(
        &self,
        order_by: Vec<dune_api::OrderKey<PValue>>,
        (limit, offset): (Option<u64>, u64),
        final_limit: bool,
    ) -> ScanPlan {
        let first = &self.relations[0];
        let mut select = self.select.clone();
        select.order_by = order_by;
        select.limit = limit;
        select.offset = offset;
        ScanPlan::Statement(StatementScan {
            table: first.table.name.clone(),
            select,
            relations: self
                .relations
                .iter()
                .map(|r| ScanRelation {
                    relid: r.table.relid.to_u32(),
                    qualified: r.table.qualified.clone(),
                    require_filter: r.require_filter.clone(),
                    upload: r.upload,
                })
                .collect(),
            exact: self.exact,
            outputs: self.outputs.clone(),
            performance: self.performance.clone(),
            max_age_ms: self.max_age_ms,
            final_limit,
            settings: first.table.settings.clone(),
        })
    }
}
