//! Executing a scan: BeginForeignScan, IterateForeignScan, ReScanForeignScan, EndForeignScan.
//! Rows stream page by page from a helper thread; the scan stops fetching as soon as
//! PostgreSQL stops asking (LIMIT, EXISTS, a cursor closed early), and its state is dropped
//! with the query's memory, on errors too.

use crate::blocking::Stream;
use crate::connection;
use crate::error::{FdwError, FdwResult, OrRaise};
use crate::fdw::convert::{Attr, ViewRole, cell_datum, parse_typed};
use crate::fdw::deparse::datum_literal;
use crate::fdw::plan::plan_of;
use crate::fdw::scan_plan::{Mode, PValue, PlanSource, ScanPlan};
use crate::fdw::table::Table;
use crate::functions::DEFAULT_WAIT;
use crate::rows::{PAGES_AHEAD, warn_partial};
use dune_client::filters::{Filter, Literal, conjunction, sort_by};
use dune_client::prepare::{Cell, Prepared, Target, prepare};
use dune_client::scan::{ScanEvent, ScanSource, ScanSpec, Started, scan};
use dune_client::values::shorten;
use dune_client::{ClientConfig, ExecState, Read};
use pgrx::datum::Interval;
use pgrx::prelude::*;
use pgrx::{FromDatum, IntoDatum, JsonB, PgList, PgMemoryContexts, pg_sys};
use serde_json::{Map, Value};
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::time::Duration;

unsafe extern "C" {
    fn errcontext_msg(fmt: *const c_char, ...) -> c_int;
}

enum Event {
    /// The rows that follow belong to this query (the latest-results view).
    Query(i64),
    /// A page or notice, as read (the latest-results view, notices).
    Scan(ScanEvent),
    /// A page of a typed table, decoded on the I/O thread for the table's columns.
    Typed(Box<TypedPage>),
}

struct TypedPage {
    execution_id: String,
    partial: bool,
    /// The result's columns (for the check that every declared column is there).
    columns: Vec<String>,
    cells: Prepared,
}

/// Where a conversion is, for the error context of a value that does not fit.
/// Pointers, set per value at no cost; the text is only made if an error needs it.
struct Position {
    table: String,
    column: *const String,
    row: u64,
    /// The NUL-terminated text given to an input function.
    value: *const c_char,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Not started since the scan began or was rescanned.
    Idle,
    Running,
    Done,
}

pub struct ScanState {
    phase: Phase,
    plan: ScanPlan,
    config: ClientConfig,
    attrs: Vec<Attr>,
    param_states: Vec<*mut pg_sys::ExprState>,
    param_types: Vec<pg_sys::Oid>,
    max_age: Option<Duration>,
    started: Started,
    events: Option<Stream<Event>>,
    /// The current page of a typed table, and its next row.
    typed: Option<Box<TypedPage>>,
    typed_row: usize,
    /// The current page of the latest-results view: its columns and remaining rows.
    columns: Vec<String>,
    rows: std::vec::IntoIter<Vec<Value>>,
    execution_id: String,
    query_id: i64,
    params_value: Option<Value>,
    row_number: u64,
    rows_read: u64,
    columns_checked: bool,
    warned_partial: bool,
    position: Position,
}

/// Pops our error context entry however the conversion ends: normally, or by unwinding from
/// an ERROR that pgrx re-raises later (by then our stack frame is gone).
struct ContextGuard(*mut pg_sys::ErrorContextCallback);

impl Drop for ContextGuard {
    fn drop(&mut self) {
        // SAFETY: restores the stack as it was before store() pushed its entry.
        unsafe { pg_sys::error_context_stack = self.0 };
    }
}

/// Adds "column, table, row, value" to any error raised while converting a value.
unsafe extern "C-unwind" fn conversion_context(arg: *mut c_void) {
    // SAFETY: arg is the scan's Position, alive for the whole conversion.
    unsafe {
        let p = &*(arg as *const Position);
        if p.column.is_null() || p.value.is_null() {
            return;
        }
        let value = format!("\"{}\"", CStr::from_ptr(p.value).to_string_lossy());
        let text = format!(
            "column \"{}\" of foreign table \"{}\", row {}, value {}",
            *p.column,
            p.table,
            p.row,
            shorten(&value)
        );
        let c = CString::new(text.replace('\0', "")).unwrap_or_default();
        pg_sys::set_errcontext_domain(std::ptr::null());
        errcontext_msg(c"%s".as_ptr(), c.as_ptr());
    }
}

fn to_i64(v: &PValue, resolve: &mut dyn FnMut(&PValue) -> Option<Literal>) -> Option<i64> {
    match resolve(v)? {
        Literal::Number(n) => n.parse().ok(),
        _ => None,
    }
}

impl ScanState {
    /// The value of each parameter, as a Dune literal (None if NULL or not representable).
    unsafe fn param_literals(&self, node: *mut pg_sys::ForeignScanState) -> Vec<Option<Literal>> {
        // SAFETY: the ExprStates were built by ExecInitExprList for this node; the expression
        // context is the node's own.
        unsafe {
            let econtext = (*node).ss.ps.ps_ExprContext;
            self.param_states
                .iter()
                .zip(&self.param_types)
                .map(|(&state, &ty)| {
                    let mut isnull = false;
                    let d = pg_sys::ExecEvalExpr(state, econtext, &mut isnull);
                    if isnull {
                        return None;
                    }
                    if ty == pg_sys::JSONBOID {
                        let j = JsonB::from_polymorphic_datum(d, false, ty)?;
                        return Some(Literal::Text(j.0.to_string()));
                    }
                    datum_literal(d, ty)
                })
                .collect()
        }
    }

    unsafe fn start(&mut self, node: *mut pg_sys::ForeignScanState) -> FdwResult<()> {
        // SAFETY: node is the scan being executed.
        let literals = unsafe { self.param_literals(node) };
        let mut resolve = |v: &PValue| match v {
            PValue::Lit(l) => Some(l.clone()),
            PValue::Param { index, .. } => literals.get(*index).cloned().flatten(),
        };
        let plan = &self.plan;
        let resolved: Vec<Filter> = plan
            .filters
            .iter()
            .filter_map(|f| f.try_map(&mut resolve))
            .collect();
        // A NULL or unrepresentable parameter: push nothing (PostgreSQL filters everything).
        let complete = resolved.len() == plan.filters.len();
        let read = Read {
            columns: plan.fetch.clone(),
            filters: if complete {
                conjunction(&resolved)
            } else {
                None
            },
            sort_by: sort_by(&plan.sort_by),
        };
        let page_size = plan.fetch_size.unwrap_or(self.config.page_size);
        let limit = if complete { plan.limit } else { None };
        let performance = plan.performance.clone();
        let params = plan.params.clone();
        let spec = |source| ScanSpec {
            source,
            read: read.clone(),
            limit,
            page_size,
            wait: DEFAULT_WAIT,
        };
        let specs: Vec<(Option<i64>, ScanSpec)> = match &plan.source {
            PlanSource::Query {
                query_id,
                mode: Mode::Latest,
                ..
            } => vec![(
                None,
                spec(ScanSource::Latest {
                    query_id: *query_id,
                    params,
                    max_age: self.max_age,
                    performance,
                }),
            )],
            PlanSource::Query {
                query_id,
                mode: Mode::Execute,
                ..
            } => {
                vec![(
                    None,
                    spec(ScanSource::Execute {
                        query_id: *query_id,
                        params,
                        performance,
                    }),
                )]
            }
            PlanSource::Sql(sql) => vec![(
                None,
                spec(ScanSource::Sql {
                    sql: sql.clone(),
                    performance,
                }),
            )],
            PlanSource::Execution(id) => vec![(None, spec(ScanSource::Execution(id.clone())))],
            PlanSource::LatestResults {
                query_ids,
                params: wanted,
            } => {
                let params = match wanted {
                    None => None,
                    Some(v) => match resolve(v) {
                        Some(Literal::Text(json)) => {
                            Some(serde_json::from_str::<Value>(&json).map_err(|e| {
                                FdwError::InvalidArgument(format!(
                                    "params is not a JSON object: {e}"
                                ))
                            })?)
                        }
                        _ => {
                            return {
                                self.finish_empty();
                                Ok(())
                            };
                        }
                    },
                };
                self.params_value = params.clone();
                let mut out = Vec::new();
                for v in query_ids {
                    let Some(id) = to_i64(v, &mut resolve) else {
                        continue;
                    };
                    let source = ScanSource::Latest {
                        query_id: id,
                        params: params.clone(),
                        max_age: None,
                        performance: None,
                    };
                    out.push((
                        Some(id),
                        ScanSpec {
                            read: Read::default(),
                            ..spec(source)
                        },
                    ));
                }
                out
            }
        };
        let started = self.started.clone();
        let targets: Vec<(Option<String>, Target)> = self
            .attrs
            .iter()
            .map(|a| (a.remote.clone(), a.target))
            .collect();
        let events = Stream::start(self.config.clone(), PAGES_AHEAD, move |client, out| {
            for (query_id, spec) in specs {
                let started = if query_id.is_some() {
                    Started::default()
                } else {
                    started.clone()
                };
                if let Some(id) = query_id
                    && !out.emit(Event::Query(id))
                {
                    return Ok(());
                }
                let mut open = true;
                scan(client, &spec, &started, &mut |ev| {
                    open = match ev {
                        ScanEvent::Page(page) if query_id.is_none() => {
                            out.emit(Event::Typed(Box::new(typed_page(*page, &targets))))
                        }
                        other => out.emit(Event::Scan(other)),
                    };
                    open
                })?;
                if !open {
                    break;
                }
            }
            Ok(())
        })?;
        self.events = Some(events);
        Ok(())
    }

    fn finish_empty(&mut self) {
        self.events = None;
    }

    /// Every Dune column the table reads must be in the result (checked on the first page).
    fn check_columns(&mut self, names: &[String]) -> FdwResult<()> {
        self.columns_checked = true;
        if matches!(self.plan.source, PlanSource::LatestResults { .. }) || names.is_empty() {
            return Ok(());
        }
        let wanted: Vec<&String> = match &self.plan.fetch {
            Some(f) => f.iter().collect(),
            None => self
                .attrs
                .iter()
                .filter_map(|a| a.remote.as_ref())
                .collect(),
        };
        for w in wanted {
            if !names.contains(w) {
                return Err(FdwError::NoSuchColumn {
                    table: self.plan.table.clone(),
                    column: w.clone(),
                    available: names.to_vec(),
                });
            }
        }
        Ok(())
    }

    /// Pushes the conversion error context for the duration of `f`.
    unsafe fn with_context<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        // SAFETY: the entry lives on this stack frame; ContextGuard pops it however `f` ends.
        unsafe {
            let mut cb = pg_sys::ErrorContextCallback {
                previous: pg_sys::error_context_stack,
                callback: Some(conversion_context),
                arg: &mut self.position as *mut Position as *mut c_void,
            };
            let _restore = ContextGuard(cb.previous);
            pg_sys::error_context_stack = &mut cb;
            f(self)
        }
    }

    /// Fills the slot with the next row of the current typed page.
    unsafe fn store_typed(
        &mut self,
        slot: *mut pg_sys::TupleTableSlot,
        page: &TypedPage,
        row: usize,
    ) {
        self.rows_read += 1;
        // SAFETY: the slot's arrays have one entry per attribute of its descriptor, which is the
        // relation's; the page has one cell per attribute and row.
        unsafe {
            let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
            let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
            let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
            let width = page.cells.width;
            let cells = &page.cells.cells[row * width..(row + 1) * width];
            self.with_context(|state| {
                state.position.row = state.rows_read;
                for (i, &cell) in cells.iter().enumerate().take(natts) {
                    let attr = &state.attrs[i];
                    if let Cell::Bad(k) = cell {
                        // our message names table, column, row and value: no context line
                        state.position.value = std::ptr::null();
                        let (problem, value) = page.cells.problems[k as usize].clone();

                        FdwError::BadValue {
                            table: state.plan.table.clone(),
                            column: attr.name.clone(),
                            row: state.rows_read,
                            value,
                            problem,
                        }
                        .raise();
                    }
                    if let Cell::Bytes { start, .. } = cell {
                        state.position.column = &attr.name;
                        state.position.value = page.cells.arena.as_ptr().add(start as usize).cast();
                    }
                    let datum = cell_datum(attr, &page.cells, cell);
                    nulls[i] = datum.is_none();
                    values[i] = datum.unwrap_or(pg_sys::Datum::from(0));
                }
            });
            pg_sys::ExecStoreVirtualTuple(slot);
        }
    }

    /// Fills the slot with one row of the latest-results view.
    unsafe fn store_view(&mut self, slot: *mut pg_sys::TupleTableSlot, row: Vec<Value>) {
        self.row_number += 1;
        self.rows_read += 1;
        // SAFETY: as for store_typed.
        unsafe {
            let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
            let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
            let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
            for i in 0..natts.min(self.attrs.len()) {
                let datum = match self.attrs[i].role {
                    Some(ViewRole::QueryId) => self.query_id.into_datum(),
                    Some(ViewRole::Params) => self
                        .params_value
                        .clone()
                        .and_then(|v| JsonB(v).into_datum()),
                    Some(ViewRole::ExecutionId) => self.execution_id.as_str().into_datum(),
                    Some(ViewRole::RowNumber) => (self.row_number as i64).into_datum(),
                    Some(ViewRole::Row) => {
                        let object: Map<String, Value> = self
                            .columns
                            .iter()
                            .cloned()
                            .zip(row.iter().cloned())
                            .collect();
                        JsonB(Value::Object(object)).into_datum()
                    }
                    None => None,
                };
                nulls[i] = datum.is_none();
                values[i] = datum.unwrap_or(pg_sys::Datum::from(0));
            }
            pg_sys::ExecStoreVirtualTuple(slot);
        }
    }
}

/// Decodes a page for the table's columns (on the I/O thread).
fn typed_page(page: dune_client::Page, targets: &[(Option<String>, Target)]) -> TypedPage {
    TypedPage {
        partial: page.state == ExecState::CompletedPartial,
        cells: prepare(&page.rows, targets),
        columns: page.metadata.map(|m| m.column_names).unwrap_or_default(),
        execution_id: page.execution_id,
    }
}

fn interval_duration(text: &str) -> FdwResult<Duration> {
    let d = parse_typed(pg_sys::INTERVALOID, text);
    // SAFETY: parse_typed returned an interval datum.
    let i = unsafe { Interval::from_polymorphic_datum(d, false, pg_sys::INTERVALOID) }
        .ok_or_else(|| FdwError::InvalidArgument(format!("max_age is not an interval: {text}")))?;
    crate::functions::wait_of(i)
}

fn role_for(node: *mut pg_sys::ForeignScanState) -> pg_sys::Oid {
    // SAFETY: the plan and estate of a scan being started.
    unsafe {
        let fsplan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
        #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
        let role = {
            let rte = pg_sys::exec_rt_fetch((*fsplan).scan.scanrelid, (*node).ss.ps.state);
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
        let relid = (*(*node).ss.ss_currentRelation).rd_id;
        let table = Table::load(relid).or_raise();
        let config = connection::config_for(&table.server, role_for(node), false).or_raise();
        let view = table.is_latest_view();
        let attrs = table
            .columns
            .iter()
            .map(|c| {
                c.as_ref()
                    .map_or_else(Attr::dropped, |c| Attr::new(c, view))
            })
            .collect();
        let exprs = PgList::<pg_sys::Node>::from_pg((*fsplan).fdw_exprs);
        let param_types = exprs.iter_ptr().map(|e| pg_sys::exprType(e)).collect();
        let states = pg_sys::ExecInitExprList((*fsplan).fdw_exprs, node as *mut pg_sys::PlanState);
        let param_states = PgList::<pg_sys::ExprState>::from_pg(states)
            .iter_ptr()
            .collect();
        let max_age = match &plan.source {
            PlanSource::Query {
                max_age: Some(text),
                ..
            } => Some(interval_duration(text).or_raise()),
            _ => None,
        };
        let state = ScanState {
            phase: Phase::Idle,
            position: Position {
                table: plan.table.clone(),
                column: std::ptr::null(),
                row: 0,
                value: std::ptr::null(),
            },
            plan,
            config,
            attrs,
            param_states,
            param_types,
            max_age,
            started: Started::default(),
            events: None,
            typed: None,
            typed_row: 0,
            columns: Vec::new(),
            rows: Vec::new().into_iter(),
            execution_id: String::new(),
            query_id: 0,
            params_value: None,
            row_number: 0,
            rows_read: 0,
            columns_checked: false,
            warned_partial: false,
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
        if state.phase == Phase::Idle {
            state.phase = Phase::Running;
            state.start(node).or_raise();
        }
        loop {
            // a finished page is dropped here, on the backend, as a few large blocks
            if let Some(page) = state.typed.take()
                && state.typed_row < page.cells.rows()
            {
                let row = state.typed_row;
                state.typed_row += 1;
                state.store_typed(slot, &page, row);
                state.typed = Some(page);
                return slot;
            }

            if let Some(row) = state.rows.next() {
                state.store_view(slot, row);
                return slot;
            }
            let Some(events) = state.events.as_mut() else {
                state.phase = Phase::Done;
                return slot;
            };
            match events.next() {
                None => {
                    state.events = None;
                    state.phase = Phase::Done;
                    return slot;
                }
                Some(Ok(Event::Query(id))) => {
                    state.query_id = id;
                    state.row_number = 0;
                }
                Some(Ok(Event::Scan(ScanEvent::Notice(text)))) => pgrx::notice!("{text}"),
                Some(Ok(Event::Typed(page))) => {
                    if !state.columns_checked {
                        state.check_columns(&page.columns).or_raise();
                    }
                    if page.partial {
                        warn_partial(&page.execution_id, &mut state.warned_partial);
                    }
                    if let Ok(mut s) = state.started.lock() {
                        s.get_or_insert_with(|| page.execution_id.clone());
                    }
                    state.typed = Some(page);
                    state.typed_row = 0;
                }
                Some(Ok(Event::Scan(ScanEvent::Page(page)))) => {
                    // a page of the latest-results view: each row becomes a jsonb value
                    if page.state == ExecState::CompletedPartial {
                        warn_partial(&page.execution_id, &mut state.warned_partial);
                    }
                    let rows = page.rows.parse();
                    state.execution_id = page.execution_id;
                    state.columns = rows.columns;
                    state.rows = rows.values.into_iter();
                }

                Some(Err(e)) => FdwError::from(e).raise(),
            }
        }
    }
}

#[pg_guard]
pub extern "C-unwind" fn rescan_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    // SAFETY: fdw_state was set by begin_foreign_scan.
    unsafe {
        if let Some(state) = ((*node).fdw_state as *mut ScanState).as_mut() {
            state.events = None; // stops the helper thread
            state.phase = Phase::Idle;
            state.typed = None;
            state.rows = Vec::new().into_iter();
            state.row_number = 0;
            state.rows_read = 0;
            state.columns_checked = false;
        }
    }
}

#[pg_guard]
pub extern "C-unwind" fn end_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    // SAFETY: fdw_state is NULL (EXPLAIN only) or set by begin_foreign_scan; the memory
    // itself goes with the query's context.
    unsafe {
        if let Some(state) = ((*node).fdw_state as *mut ScanState).as_mut() {
            state.events = None;
            state.typed = None;
            state.rows = Vec::new().into_iter();
        }
    }
}
