//! Executing a scan: BeginForeignScan, IterateForeignScan, ReScanForeignScan, EndForeignScan.
//! Each table kind has its executor (`scan/typed.rs` for typed tables, `scan/latest_results.rs`
//! for `dune_latest_results`); these callbacks only pick one, evaluate the plan's parameters
//! and hand over the slot. Rows stream page by page from a helper thread; a scan stops
//! fetching as soon as PostgreSQL stops asking (LIMIT, EXISTS, a cursor closed early), and its
//! state is dropped with the query's memory, on errors too.

mod latest_results;
pub mod typed;

use crate::backend::connection;
use crate::backend::error::{FdwError, FdwResult, OrRaise};
use crate::backend::options;
use crate::fdw::convert::Attr;
use crate::fdw::deparse::{array_datum_elements, datum_infinity, datum_literal};
use crate::fdw::plan::plan_of;
use crate::fdw::scan_plan::{PValue, PlanSource, ScanPlan};
use crate::fdw::table::{Column, Table};
use dune_api::{ClientConfig, Filter, Literal};
use pgrx::prelude::*;
use pgrx::{FromDatum, JsonB, PgList, PgMemoryContexts, pg_sys};
use std::ffi::{c_int, c_void};

/// What every executor is given: the plan, the client settings, one Attr per attribute.
pub struct ScanSetup {
    pub plan: ScanPlan,
    pub config: ClientConfig,
    pub attrs: Vec<Attr>,
}

/// The values of the plan's parameters for one (re)scan, as Dune literals: one for a scalar,
/// the elements for an array (`= ANY($1)`); None when NULL or not representable. Then which
/// are NULL, and which are an infinity or NaN (`deparse::datum_infinity`).
pub struct ParamValues(Vec<Option<Vec<Literal>>>, Vec<bool>, Vec<Option<bool>>);

impl ParamValues {
    /// No parameters (a read whose plan has none).
    pub fn none() -> ParamValues {
        ParamValues(Vec::new(), Vec::new(), Vec::new())
    }

    /// Whether a planned value is a NULL parameter.
    pub fn is_null(&self, v: &PValue) -> bool {
        matches!(v, PValue::Param { index, .. } if self.1.get(*index) == Some(&true))
    }

    /// For a parameter that is an infinity or NaN: Some(true) for -infinity, Some(false) for
    /// +infinity or NaN.
    pub fn infinite(&self, v: &PValue) -> Option<bool> {
        match v {
            PValue::Param { index, .. } => *self.2.get(*index)?,
            PValue::Lit(_) => None,
        }
    }

    /// Whether a top-level filter compares with a NULL parameter: no row can match (every
    /// pushed comparison is strict), so nothing needs reading.
    pub fn null_in_conjunct(&self, planned: &[Filter<PValue>]) -> bool {
        let null = |v: &PValue| matches!(v, PValue::Param { index, .. } if self.1.get(*index) == Some(&true));
        planned.iter().any(|f| match f {
            Filter::Compare { value, .. } => null(value),
            Filter::In { values, .. } => values.iter().any(null) && values.len() == 1,
            _ => false,
        })
    }

    /// A key for this set of values (a rescan with the same values reads the same rows).
    pub fn key(&self) -> String {
        format!("{:?}", self.0)
    }

    /// The literal of a planned value (a scalar parameter's only element).
    pub fn resolve(&self, v: &PValue) -> Option<Literal> {
        match v {
            PValue::Lit(l) => Some(l.clone()),
            PValue::Param { index, .. } => match self.0.get(*index)?.as_deref()? {
                [one] => Some(one.clone()),
                _ => None,
            },
        }
    }

    /// The literals a planned IN-list value stands for: itself, or an array's elements.
    fn elements(&self, v: &PValue) -> Option<Vec<Literal>> {
        match v {
            PValue::Lit(l) => Some(vec![l.clone()]),
            PValue::Param { index, .. } => self.0.get(*index)?.clone(),
        }
    }

    /// A planned filter with its parameters' values; an IN over an empty array matches no
    /// row, sent as `col IS NULL AND col IS NOT NULL`.
    pub fn filter(&self, planned: &Filter<PValue>) -> Option<Filter> {
        Some(match planned {
            Filter::And(parts) => Filter::And(
                parts
                    .iter()
                    .map(|p| self.filter(p))
                    .collect::<Option<_>>()?,
            ),
            Filter::Or(parts) => Filter::Or(
                parts
                    .iter()
                    .map(|p| self.filter(p))
                    .collect::<Option<_>>()?,
            ),
            Filter::In { column, values } => {
                let mut all = Vec::new();
                for v in values {
                    all.extend(self.elements(v)?);
                }
                if all.is_empty() {
                    let null = |negated| Filter::IsNull {
                        column: column.clone(),
                        negated,
                    };
                    return Some(Filter::And(vec![null(false), null(true)]));
                }
                Filter::In {
                    column: column.clone(),
                    values: all,
                }
            }
            other => other.try_map(&mut |v| self.resolve(v))?,
        })
    }

    /// The plan's filters with their parameters' values; None if one is NULL or not
    /// representable (then nothing is pushed, and PostgreSQL filters everything).
    pub fn filters(&self, planned: &[Filter<PValue>]) -> Option<Vec<Filter>> {
        planned.iter().map(|f| self.filter(f)).collect()
    }
}

/// A way of executing a scan of one table kind.
pub trait Executor {
    /// Starts reading, at the first row asked for after begin or a rescan.
    fn start(&mut self, params: &ParamValues) -> FdwResult<()>;
    /// Fills `slot` with the next row and returns true, or returns false at the end.
    ///
    /// # Safety
    /// `node` is the scan being executed and `slot` its scan slot, cleared, with the
    /// relation's descriptor.
    unsafe fn fill(
        &mut self,
        node: *mut pg_sys::ForeignScanState,
        slot: *mut pg_sys::TupleTableSlot,
    ) -> bool;
    /// Forgets what was read (a rescan), stopping the helper thread; keeps what a rescan must
    /// reuse (the execution a scan started).
    fn reset(&mut self);
}

pub struct ScanState {
    /// The foreign table's name, for messages.
    table: String,
    started: bool,
    /// Reads started in this statement (one per rescan with new parameter values).
    reads: u64,
    /// The most reads allowed (`max_reads_per_scan`), for a parameterized scan.
    max_reads: Option<u64>,
    /// The parameter values read so far (a parameterized scan counts distinct ones).
    seen: std::collections::HashSet<String>,
    param_states: Vec<*mut pg_sys::ExprState>,
    param_types: Vec<pg_sys::Oid>,
    exec: Box<dyn Executor>,
}

impl ScanState {
    /// The value of each parameter, as a Dune literal.
    unsafe fn param_values(&self, node: *mut pg_sys::ForeignScanState) -> ParamValues {
        // SAFETY: the ExprStates were built by ExecInitExprList for this node; the expression
        // context is the node's own.
        unsafe {
            let econtext = (*node).ss.ps.ps_ExprContext;
            let mut nulls = Vec::new();
            let mut infinite = Vec::new();
            let values = self
                .param_states
                .iter()
                .zip(&self.param_types)
                .map(|(&state, &ty)| {
                    let mut isnull = false;
                    let d = pg_sys::ExecEvalExpr(state, econtext, &mut isnull);
                    nulls.push(isnull);
                    infinite.push((!isnull).then(|| datum_infinity(d, ty)).flatten());
                    if isnull {
                        return None;
                    }
                    if ty == pg_sys::JSONBOID {
                        let j = JsonB::from_polymorphic_datum(d, false, ty)?;
                        return Some(vec![Literal::Text(j.0.to_string())]);
                    }
                    if pg_sys::get_element_type(ty) != pg_sys::InvalidOid {
                        let (elem, datums) = array_datum_elements(d, ty);
                        return datums.into_iter().map(|e| datum_literal(e, elem)).collect();
                    }
                    datum_literal(d, ty).map(|l| vec![l])
                })
                .collect();
            ParamValues(values, nulls, infinite)
        }
    }
}

/// Whether the row in `slot` satisfies the scan's local quals, as ExecScan will check them (a
/// final path whose filters Dune refused applies its LIMIT and OFFSET to matching rows only).
///
/// # Safety
/// `node` is the scan being executed and `slot` holds one of its rows.
pub unsafe fn quals_hold(
    node: *mut pg_sys::ForeignScanState,
    slot: *mut pg_sys::TupleTableSlot,
) -> bool {
    // SAFETY: what ExecQual does (an inline function, not exported): the qual ExprState built
    // by ExecInitNode for this node, evaluated in the per-tuple memory of its own context.
    unsafe {
        let qual = (*node).ss.ps.qual;
        if qual.is_null() {
            return true;
        }
        let econtext = (*node).ss.ps.ps_ExprContext;
        (*econtext).ecxt_scantuple = slot;
        let old = pg_sys::MemoryContextSwitchTo((*econtext).ecxt_per_tuple_memory);
        let mut isnull = false;
        let eval = (*qual).evalfunc.expect("an initialised ExprState");
        let result = eval(qual, econtext, &mut isnull);
        pg_sys::MemoryContextSwitchTo(old);
        !isnull && result.value() != 0
    }
}

/// The role whose user mapping a scan uses: the plan's checkAsUser (a view's owner), else the
/// current user, as postgres_fdw does.
pub fn role_for(node: *mut pg_sys::ForeignScanState) -> pg_sys::Oid {
    // SAFETY: the plan and estate of a scan being started.
    unsafe {
        let fsplan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
        #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
        let role = {
            // a grouped scan has no scan relation: its base relation's entry (postgres_fdw)
            let rti = match (*fsplan).scan.scanrelid {
                0 => pg_sys::bms_next_member((*fsplan).fs_relids, -1) as pg_sys::Index,
                rti => rti,
            };
            let rte = pg_sys::exec_rt_fetch(rti, (*node).ss.ps.state);
            (*rte).checkAsUser
        };
        #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15")))]
        let role = (*fsplan).checkAsUser;
        if role == pg_sys::InvalidOid {
            pg_sys::GetUserId()
        } else {
            role
        }
    }
}

/// What an executor of `plan` over `table` needs, reading as `role`: the client settings
/// (the table's `ignore_max_datapoints_per_request` over the server's) and one Attr per
/// attribute.
pub fn setup_for(table: &Table, plan: ScanPlan, role: pg_sys::Oid) -> FdwResult<ScanSetup> {
    let mut config = connection::config_for(&table.server, role, false)?;
    if let Some(ignore) = plan.ignore_max_datapoints {
        config.ignore_max_datapoints = ignore;
    }
    let latest = table.is_latest_results();
    let attrs = match plan.statement.as_ref().and_then(|s| s.outputs()) {
        // a grouped or joined scan's rows are its outputs c1, c2, … (fdw_scan_tlist)
        Some(outputs) => outputs
            .iter()
            .enumerate()
            .map(|(i, &(type_oid, typmod))| {
                let name = format!("c{}", i + 1);
                let col = Column {
                    name: name.clone(),
                    remote: name,
                    type_oid: pg_sys::Oid::from(type_oid),
                    typmod,
                    dune: None,
                    dune_name: None,
                    deterministic: true,
                    param: None,
                };
                Attr::new(&col, false)
            })
            .collect(),
        None => table
            .columns
            .iter()
            .map(|c| {
                c.as_ref()
                    .map_or_else(Attr::dropped, |c| Attr::new(c, latest))
            })
            .collect(),
    };
    Ok(ScanSetup {
        plan,
        config,
        attrs,
    })
}

/// The executor for the plan's table kind.
fn executor_for(setup: ScanSetup) -> Box<dyn Executor> {
    match setup.plan.source {
        PlanSource::LatestResults { .. } => Box::new(latest_results::LatestResults::new(setup)),
        PlanSource::Result(_) => Box::new(typed::Typed::new(setup)),
    }
}

#[pg_guard]
pub extern "C-unwind" fn begin_foreign_scan(node: *mut pg_sys::ForeignScanState, eflags: c_int) {
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int != 0 {
        return; // a plain EXPLAIN makes no API call
    }
    // SAFETY: the executor hands us a ForeignScanState of a plan made by get_foreign_plan;
    // the state is leaked into the query's memory context (CurrentMemoryContext here), which
    // drops it when the query ends or fails.
    unsafe {
        let fsplan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
        let plan = plan_of(fsplan);
        let rel = (*node).ss.ss_currentRelation;
        let relid = match &plan.statement {
            // a grouped scan has no scan relation
            Some(s) if rel.is_null() => pg_sys::Oid::from(s.relid),
            _ => (*rel).rd_id,
        };
        let table = Table::load(relid).or_raise();
        // an upload's declared columns are checked before its DuneSQL runs (and is billed)
        if plan.statement.is_none() {
            crate::fdw::modify::check_read_columns(&table, role_for(node)).or_raise();
        }
        // a Dune table's scan runs one execution per distinct parameter values (a LATERAL
        // subquery's, a correlated subquery's): bounded as a parameterized scan's reads are
        let max_reads = match plan.max_reads_per_scan {
            _ if !plan.parameterized && plan.statement.is_none() => None,
            Some(n) => Some(n),
            None => Some(options::max_reads_per_scan(&table.server.options).or_raise()),
        };
        let plan_name = plan.table.clone();
        let setup = setup_for(&table, plan, role_for(node)).or_raise();
        let exprs = PgList::<pg_sys::Node>::from_pg((*fsplan).fdw_exprs);
        let param_types = exprs.iter_ptr().map(|e| pg_sys::exprType(e)).collect();
        let states = pg_sys::ExecInitExprList((*fsplan).fdw_exprs, node as *mut pg_sys::PlanState);
        let param_states = PgList::<pg_sys::ExprState>::from_pg(states)
            .iter_ptr()
            .collect();
        let state = ScanState {
            table: plan_name.clone(),
            started: false,
            reads: 0,
            max_reads,
            seen: Default::default(),
            param_states,
            param_types,
            exec: executor_for(setup),
        };
        let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
        (*node).fdw_state = ptr as *mut c_void;
    }
}

#[pg_guard]
pub extern "C-unwind" fn iterate_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
) -> *mut pg_sys::TupleTableSlot {
    // SAFETY: fdw_state was set by begin_foreign_scan (not EXPLAIN-only, or we would not be
    // iterating); the slot is the node's scan slot.
    unsafe {
        let slot = (*node).ss.ss_ScanTupleSlot;
        pg_sys::ExecClearTuple(slot);
        let state = &mut *((*node).fdw_state as *mut ScanState);
        if !state.started {
            state.started = true;
            let params = state.param_values(node);
            if let Some(max) = state.max_reads
                && state.seen.insert(params.key())
            {
                state.reads += 1;
                if state.reads > max {
                    FdwError::TooManyReads {
                        table: state.table.clone(),
                        max,
                    }
                    .raise();
                }
            }
            state.exec.start(&params).or_raise();
        }
        state.exec.fill(node, slot);
        slot
    }
}

#[pg_guard]
pub extern "C-unwind" fn rescan_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    // SAFETY: fdw_state was set by begin_foreign_scan.
    unsafe {
        if let Some(state) = ((*node).fdw_state as *mut ScanState).as_mut() {
            state.exec.reset();
            state.started = false;
        }
    }
}

#[pg_guard]
pub extern "C-unwind" fn end_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    // SAFETY: fdw_state is NULL (EXPLAIN only) or set by begin_foreign_scan; the memory
    // itself goes with the query's context.
    unsafe {
        if let Some(state) = ((*node).fdw_state as *mut ScanState).as_mut() {
            state.exec.reset();
        }
    }
}
