//! The executor of typed foreign tables: each page is decoded on the I/O thread for the
//! table's columns (`pg_format::prepare`), and the backend only builds datums, with the
//! conversion error context set (`convert::ConversionLocation`).

use super::{Executor, ParamValues, ScanSetup, quals_hold};
use crate::backend::blocking::Stream;
use crate::backend::error::{FdwError, FdwResult};
use crate::backend::jsonb::PAGES_AHEAD;
use crate::backend::progress::PartialWarning;
use crate::backend::waits::DEFAULT_WAIT;
use crate::fdw::convert::{ConversionLocation, cell_datum};
use crate::fdw::scan_plan::{PValue, PlanSource, Statement, param_text, restricts};
use dune_api::{
    ExecState, ExecutionId, Filter, LiteralType, Op, Read, ReadEvent, ReadSpec, ResultCache,
    ResultSource, Sql, Started, conjunction, read, sort_by, within_bound,
};
use pg_format::{Cell, Prepared, Target, prepare};
use pgrx::pg_sys;
use std::ffi::CString;

enum Event {
    Page(Box<TypedPage>),
    Notice(String),
    /// Dune refused the filters: the pages that follow hold every row.
    Unfiltered,
}

/// The LIMIT and OFFSET a final-path scan applies itself after Dune refused its filters.
#[derive(Debug, Clone, Copy)]
struct LocalLimit {
    skip: u64,
    left: u64,
}

/// A page decoded for the table's columns.
struct TypedPage {
    execution_id: String,
    partial: bool,
    /// The result's columns (for the check that every declared column is there).
    columns: Vec<String>,
    /// Dune's `total_row_count` of the read (ANALYZE's row count).
    total: Option<u64>,
    cells: Prepared,
}

pub struct Typed {
    setup: ScanSetup,
    /// The execution read, kept across rescans so that a rescan does not run the query again.
    started: Started,
    events: Option<Stream<Event>>,
    /// The current page, and its next row.
    page: Option<Box<TypedPage>>,
    row: usize,
    rows_read: u64,
    columns_checked: bool,
    partial: PartialWarning,
    location: ConversionLocation,
    /// ANALYZE: read a sample of this many rows (Dune's `sample_count`) instead of the plan.
    sample: Option<u64>,
    /// The row count of the result, as the first page said.
    total: Option<u64>,
    /// The source of the last read (with its parameter values).
    read_source: Option<ResultSource>,
    /// What each parameter column returns, by attribute (None: NULL, or not one).
    param_texts: Vec<Option<CString>>,
    local_limit: Option<LocalLimit>,
}

impl Typed {
    pub fn new(setup: ScanSetup) -> Typed {
        Typed {
            location: ConversionLocation::new(&setup.plan.table),
            setup,
            started: Started::default(),
            events: None,
            page: None,
            row: 0,
            rows_read: 0,
            columns_checked: false,
            partial: PartialWarning::default(),
            local_limit: None,
            sample: None,
            total: None,
            read_source: None,
            param_texts: Vec::new(),
        }
    }

    /// An executor that reads a sample of about `rows` rows of the table's result (Dune's
    /// `sample_count`: one request, datapoints = the sample's cells), for ANALYZE.
    pub fn sampling(setup: ScanSetup, rows: u64) -> Typed {
        Typed {
            sample: Some(rows),
            ..Typed::new(setup)
        }
    }

    /// The result's row count, known once the first page came.
    pub fn total_rows(&self) -> Option<u64> {
        self.total
    }

    /// What to read for these parameter values: the plan's columns, filters, sort and limit
    /// (the filters only when every parameter has a value, within the request-size bound;
    /// the limit only when every filter is sent), with the query parameters that parameter
    /// columns were given. None when a parameter column is compared with NULL (no row).
    fn spec(&self, params: &ParamValues) -> FdwResult<Option<ReadSpec>> {
        let plan = &self.setup.plan;
        let PlanSource::Result(source) = &plan.source else {
            unreachable!("typed tables read a result")
        };
        // a grouped statement answers even when no row matches (count(*) is 0), and a LEFT
        // JOIN's left rows come whatever its second table's filters keep
        if let Some(stmt) = plan.statement.as_ref().filter(|s| s.exact()) {
            return self.statement_spec(stmt, source, params).map(Some);
        }
        // `x = NULL` (a NULL outer key, a NULL parameter): no row, nothing to read
        if params.null_in_conjunct(&plan.filters) {
            return Ok(None);
        }
        if let Some(stmt) = &plan.statement {
            return self.statement_spec(stmt, source, params).map(Some);
        }
        // a parameter without a value, or filters past the request-size bound: the limit can
        // no longer be applied by Dune
        let (filters, complete) = match params.filters(&plan.filters) {
            Some(all) => {
                let (kept, dropped) = within_bound(all, |f| Some(f.clone()));
                (kept, !dropped)
            }
            None => (Vec::new(), false),
        };
        let Some(source) = self.with_param_values(source, params) else {
            return Ok(None);
        };
        Ok(Some(ReadSpec {
            source,
            read: Read {
                columns: plan.columns.clone(),
                filters: conjunction(&filters),
                sort_by: sort_by(&plan.sort_by),
                sample_count: self.sample,
            },
            limit: plan.limit.filter(|_| complete),
            offset: if complete { plan.offset } else { 0 },
            page_size: plan.fetch_size.unwrap_or(self.setup.config.page_size),
            concurrency: plan
                .fetch_concurrency
                .map_or(self.setup.config.fetch_concurrency, |n| n as usize),
            wait: DEFAULT_WAIT,
        }))
    }

    /// The read of a Dune table's scan: one DuneSQL statement with the plan's columns, the
    /// filters whose values are known (each conjunct on its own: one that cannot be sent only
    /// widens the statement, and then LIMIT and OFFSET are applied here), ORDER BY and LIMIT.
    /// `require_filter` is checked on what is sent, before anything is.
    fn statement_spec(
        &self,
        stmt: &Statement,
        source: &ResultSource,
        params: &ParamValues,
    ) -> FdwResult<ReadSpec> {
        let plan = &self.setup.plan;
        let mut sent = Vec::new();
        for (i, f) in plan.filters.iter().enumerate() {
            match resolve(f, params, &|c| stmt.literal_type(i, c)) {
                Some(f) => sent.push(f),
                // a grouped statement must see exactly the rows the quals keep: a value DuneSQL
                // cannot hold is an error
                None if stmt.exact() => {
                    return Err(FdwError::InvalidArgument(format!(
                        "a value compared in the grouped or joined query over foreign table \"{}\" cannot be written in DuneSQL (an infinity or NaN compared with a double, or a date past year 9999): nothing was run",
                        plan.table
                    )));
                }
                None => {}
            }
        }
        let complete = sent.len() == plan.filters.len();
        check_required(stmt, &sent)?;
        let select = plan.select(stmt, sent, complete);
        let performance = match source {
            ResultSource::Sql { performance, .. } => performance.clone(),
            _ => None,
        };
        let sql = select.to_sql();
        let source = match self.recent_execution(stmt, &sql) {
            Some(id) => ResultSource::Execution(ExecutionId::try_from(id.as_str())?),
            None => ResultSource::Sql {
                sql: Sql::try_from(sql.as_str())?,
                performance,
            },
        };
        Ok(ReadSpec {
            source,
            read: Read::default(),
            limit: select.limit,
            offset: 0,
            page_size: plan.fetch_size.unwrap_or(self.setup.config.page_size),
            concurrency: plan
                .fetch_concurrency
                .map_or(self.setup.config.fetch_concurrency, |n| n as usize),
            wait: DEFAULT_WAIT,
        })
    }

    /// With `max_age`: the execution of the same DuneSQL that ended within it, as the result
    /// cache remembers it (nothing without the cache).
    fn recent_execution(&self, stmt: &Statement, sql: &str) -> Option<String> {
        let max_age = stmt.max_age_ms? as i64;
        let settings = self.setup.config.cache.as_ref()?;
        let seen = ResultCache::for_account(settings, &self.setup.config).statement_seen(sql)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_millis() as i64;
        (now - seen.ended_ms <= max_age).then_some(seen.execution_id)
    }

    /// `source` with the values parameter columns were given (over the table's `params`);
    /// None if one is NULL.
    fn with_param_values(
        &self,
        source: &ResultSource,
        params: &ParamValues,
    ) -> Option<ResultSource> {
        let given = &self.setup.plan.param_values;
        if given.is_empty() {
            return Some(source.clone());
        }
        let mut values = Vec::new();
        for (name, v) in given {
            // a date (the column's type, or the value's) is sent as its midnight
            let date = matches!(v, PValue::Param { type_oid, .. } if *type_oid == u32::from(pg_sys::DATEOID))
                || self
                    .setup
                    .attrs
                    .iter()
                    .any(|a| a.param.as_deref() == Some(name.as_str()) && a.target == Target::Date);
            values.push((name.clone(), param_text(&params.resolve(v)?, date)));
        }
        Some(source.with_params(&values))
    }

    /// The text each parameter column returns: the value it was given, else the table's
    /// `params`, else NULL (Dune's default, unknown here).
    fn param_column_texts(&self, source: &ResultSource) -> Vec<Option<CString>> {
        let given = source.params();
        self.setup
            .attrs
            .iter()
            .map(|a| {
                let name = a.param.as_ref()?;
                let v = given?.as_map().get(name)?;
                let mut text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                // Dune's datetimes are UTC: said so, whatever the session's TimeZone
                if a.type_oid == pg_sys::TIMESTAMPTZOID {
                    text.push_str("+00");
                }
                CString::new(text).ok()
            })
            .collect()
    }

    /// Every Dune column the table reads must be in the result (checked on the first page).
    fn check_columns(&mut self, names: &[String]) -> FdwResult<()> {
        self.columns_checked = true;
        if names.is_empty() {
            return Ok(());
        }
        let wanted: Vec<&String> = match &self.setup.plan.columns {
            Some(f) => f.iter().collect(),
            None => self
                .setup
                .attrs
                .iter()
                .filter_map(|a| a.remote.as_ref())
                .collect(),
        };
        match wanted.into_iter().find(|w| !names.contains(w)) {
            Some(missing) => Err(FdwError::NoSuchColumn {
                table: self.setup.plan.table.clone(),
                column: missing.clone(),
                available: names.to_vec(),
            }),
            None => Ok(()),
        }
    }

    /// Takes in a page: checks the columns once, warns once of a partial result, and
    /// remembers the execution for rescans.
    fn take_page(&mut self, page: Box<TypedPage>) -> FdwResult<()> {
        if !self.columns_checked {
            self.check_columns(&page.columns)?;
        }
        if page.partial {
            self.partial.warn(&page.execution_id);
        }
        if self.total.is_none() {
            self.total = page.total;
        }
        if let Ok(mut s) = self.started.lock()
            && s.is_none()
        {
            *s = ExecutionId::try_from(page.execution_id.as_str()).ok();
        }
        self.page = Some(page);
        self.row = 0;
        Ok(())
    }

    /// Fills the slot with row `row` of `page`.
    unsafe fn store(&mut self, slot: *mut pg_sys::TupleTableSlot, page: &TypedPage, row: usize) {
        self.rows_read += 1;
        // SAFETY: the slot's arrays have one entry per attribute of its descriptor, which is the
        // relation's; the page has one cell per attribute and row.
        unsafe {
            let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
            let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
            let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
            let width = page.cells.width;
            let cells = &page.cells.cells[row * width..(row + 1) * width];
            let (attrs, table, rows_read) =
                (&self.setup.attrs, &self.setup.plan.table, self.rows_read);
            let param_texts = &self.param_texts;
            self.location.enter(|at| {
                at.row = rows_read;
                for (i, &cell) in cells.iter().enumerate().take(natts) {
                    let attr = &attrs[i];
                    if let Cell::Bad(k) = cell {
                        // our message names table, column, row and value: no context line
                        at.value = std::ptr::null();
                        let (problem, value) = page.cells.problems[k as usize].clone();
                        FdwError::BadValue {
                            table: table.clone(),
                            column: attr.name.clone(),
                            row: rows_read,
                            value,
                            problem,
                        }
                        .raise();
                    }
                    if let Cell::Bytes { start, .. } = cell {
                        at.column = &attr.name;
                        at.value = page.cells.arena.as_ptr().add(start as usize).cast();
                    }
                    let datum = cell_datum(attr, &page.cells, cell);
                    nulls[i] = datum.is_none();
                    values[i] = datum.unwrap_or(pg_sys::Datum::from(0));
                }
                for (i, text) in param_texts.iter().enumerate().take(natts) {
                    if let Some(text) = text {
                        nulls[i] = false;
                        values[i] = attrs[i].datum_from_text(text);
                    }
                }
            });
            pg_sys::ExecStoreVirtualTuple(slot);
        }
    }
}

impl Typed {
    /// The rows that follow are not limited by Dune: a final path limits them itself.
    fn unfiltered(&mut self) {
        let plan = &self.setup.plan;
        if plan.final_limit
            && let Some(count) = plan.limit
        {
            self.local_limit = Some(LocalLimit {
                skip: plan.offset,
                left: count,
            });
        }
    }

    /// Whether the row just stored is returned (Some(true)), skipped (Some(false)), or the
    /// scan is over (None), when a final path limits its rows itself.
    unsafe fn counted(
        &mut self,
        node: *mut pg_sys::ForeignScanState,
        slot: *mut pg_sys::TupleTableSlot,
    ) -> Option<bool> {
        let Some(l) = self.local_limit.as_mut() else {
            return Some(true);
        };
        // SAFETY: the caller's node and a slot holding one of its rows.
        if !unsafe { quals_hold(node, slot) } {
            return Some(false);
        }
        if l.skip > 0 {
            l.skip -= 1;
            return Some(false);
        }
        if l.left == 0 {
            return None;
        }
        l.left -= 1;
        Some(true)
    }
}

/// Decodes a page for the table's columns (on the I/O thread).
/// `require_filter`: each table of the statement whose rule names columns must have a sent
/// filter restricting one of them (a join's filters are tagged with their table).
fn check_required(stmt: &Statement, sent: &[Filter]) -> FdwResult<()> {
    let mut rules = vec![(0, stmt.qualified.clone(), &stmt.require_filter)];
    if let Some(j) = &stmt.join {
        rules.push((1, j.right_table.clone(), &j.right_require));
    }
    for (rel, table, required) in rules {
        let on_rel = |i: usize| stmt.join.as_ref().map_or(0, |j| j.filter_rels[i]) == rel;
        let restricted = sent
            .iter()
            .enumerate()
            .any(|(i, f)| on_rel(i) && restricts(f, required));
        if !required.is_empty() && !restricted {
            return Err(FdwError::FilterRequired {
                table,
                columns: required.clone(),
            });
        }
    }
    Ok(())
}

/// A comparison with an infinity or NaN parameter, on a column whose Dune type holds only
/// finite values (any but double): `x < +infinity`, `x <= +infinity`, `x <> ±infinity` and
/// `x > -infinity`, `x >= -infinity` keep every non-NULL row (`x IS NOT NULL`); the others keep
/// none (`x IS NULL AND x IS NOT NULL`). PostgreSQL orders NaN above every number, as
/// +infinity.
fn infinite_bound<'a>(
    f: &Filter<PValue>,
    params: &ParamValues,
    ty: &dyn Fn(&str) -> &'a LiteralType,
) -> Option<Filter> {
    let Filter::Compare { column, op, value } = f else {
        return None;
    };
    if matches!(ty(column), LiteralType::Double | LiteralType::Unknown) {
        return None;
    }
    let negative = params.infinite(value)?;
    let every = matches!(
        (negative, op),
        (false, Op::Lt | Op::Le | Op::Ne) | (true, Op::Gt | Op::Ge | Op::Ne)
    );
    let null = |negated| Filter::IsNull {
        column: column.clone(),
        negated,
    };
    Some(if every {
        null(true)
    } else {
        Filter::And(vec![null(false), null(true)])
    })
}

/// A planned filter with its parameters' values, at any depth of AND and OR: a comparison
/// with an infinity or NaN by [`infinite_bound`], a strict comparison with NULL (never true
/// in a WHERE, which has no NOT here) as no row. None when a value cannot be written (an
/// infinity compared with a double).
fn resolve<'a>(
    f: &Filter<PValue>,
    params: &ParamValues,
    ty: &dyn Fn(&str) -> &'a LiteralType,
) -> Option<Filter> {
    let all = |parts: &[Filter<PValue>]| -> Option<Vec<Filter>> {
        parts.iter().map(|p| resolve(p, params, ty)).collect()
    };
    match f {
        Filter::And(parts) => Some(Filter::And(all(parts)?)),
        Filter::Or(parts) => Some(Filter::Or(all(parts)?)),
        _ => params
            .filter(f)
            .or_else(|| infinite_bound(f, params, ty))
            .or_else(|| null_comparison(f, params)),
    }
}

/// A comparison with a NULL parameter (`x = NULL`, `x IN (NULL)`), which keeps no row: `x IS
/// NULL AND x IS NOT NULL`.
fn null_comparison(f: &Filter<PValue>, params: &ParamValues) -> Option<Filter> {
    let column = match f {
        Filter::Compare { column, value, .. } if params.is_null(value) => column,
        Filter::In { column, values } if values.iter().all(|v| params.is_null(v)) => column,
        _ => return None,
    };
    let null = |negated| Filter::IsNull {
        column: column.clone(),
        negated,
    };
    Some(Filter::And(vec![null(false), null(true)]))
}

fn typed_page(page: dune_api::Page, targets: &[(Option<String>, Target)]) -> TypedPage {
    TypedPage {
        partial: page.state == ExecState::CompletedPartial,
        cells: prepare(page.rows.raw_rows(), targets),
        total: page.metadata.as_ref().and_then(|m| m.total_row_count),
        columns: page.metadata.map(|m| m.column_names).unwrap_or_default(),
        execution_id: page.execution_id,
    }
}

impl Executor for Typed {
    fn start(&mut self, params: &ParamValues) -> FdwResult<()> {
        let Some(spec) = self.spec(params)? else {
            self.events = None; // a parameter column compared with NULL: no row
            return Ok(());
        };
        // other parameter values: another execution, not the one read before
        if self.read_source.as_ref() != Some(&spec.source) {
            if let Ok(mut s) = self.started.lock() {
                *s = None;
            }
            self.param_texts = self.param_column_texts(&spec.source);
            self.read_source = Some(spec.source.clone());
        }
        // a final path whose filters cannot all be sent applies its LIMIT and OFFSET itself
        self.local_limit = None;
        if spec.limit.is_none() {
            self.unfiltered();
        }
        let started = self.started.clone();
        let targets: Vec<(Option<String>, Target)> = self
            .setup
            .attrs
            .iter()
            .map(|a| (a.remote.clone(), a.target))
            .collect();
        let events = Stream::start(
            self.setup.config.clone(),
            PAGES_AHEAD,
            move |client, out| {
                read(client, &spec, &started, &mut |ev| match ev {
                    ReadEvent::Page(page) => {
                        out.emit(Event::Page(Box::new(typed_page(*page, &targets))))
                    }
                    ReadEvent::Notice(text) => out.emit(Event::Notice(text)),
                    ReadEvent::Unfiltered => out.emit(Event::Unfiltered),
                })
            },
        )?;
        self.events = Some(events);
        Ok(())
    }

    unsafe fn fill(
        &mut self,
        node: *mut pg_sys::ForeignScanState,
        slot: *mut pg_sys::TupleTableSlot,
    ) -> bool {
        // SAFETY: as `fill` requires.
        unsafe { self.advance(Some(node), slot) }
    }

    fn reset(&mut self) {
        self.events = None; // stops the helper thread
        self.page = None;
        self.local_limit = None;
        self.rows_read = 0;
        self.columns_checked = false;
    }
}

impl Typed {
    /// Fills `slot` with the next row and returns true, or returns false at the end. `node`
    /// is the scan being executed (None for ANALYZE's sample, which has no quals or limit).
    ///
    /// # Safety
    /// `slot` is cleared and has the relation's descriptor; `node`, if any, is its scan.
    pub unsafe fn advance(
        &mut self,
        node: Option<*mut pg_sys::ForeignScanState>,
        slot: *mut pg_sys::TupleTableSlot,
    ) -> bool {
        loop {
            // a finished page is dropped here, on the backend, as a few large blocks
            if let Some(page) = self.page.take()
                && self.row < page.cells.rows()
            {
                let row = self.row;
                self.row += 1;
                // SAFETY: the caller's node and slot, as `fill` requires.
                let keep = unsafe {
                    self.store(slot, &page, row);
                    match node {
                        Some(node) => self.counted(node, slot),
                        None => Some(true),
                    }
                };
                self.page = Some(page);
                match keep {
                    Some(true) => return true,
                    Some(false) => continue,
                    None => return false,
                }
            }
            let Some(events) = self.events.as_mut() else {
                return false;
            };
            match events.next() {
                None => {
                    self.events = None;
                    return false;
                }
                Some(Ok(Event::Notice(text))) => pgrx::notice!("{text}"),
                Some(Ok(Event::Unfiltered)) => self.unfiltered(),
                Some(Ok(Event::Page(page))) => {
                    if let Err(e) = self.take_page(page) {
                        e.raise();
                    }
                }
                Some(Err(e)) => FdwError::from(e).raise(),
            }
        }
    }
}
