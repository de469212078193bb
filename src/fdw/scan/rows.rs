//! Reading rows for a typed scan, whatever it reads (a query result, a DuneSQL statement): the
//! pages stream from a helper thread, each decoded there for the scan's columns
//! (`pg_format::prepare`), and the backend only builds datums, with the conversion error
//! context set (`convert::ConversionLocation`). A scan whose LIMIT Dune could not apply (a
//! filter left out, Dune refusing the filters) applies it here, to the rows its quals keep.

use crate::backend::blocking::Stream;
use crate::backend::error::{FdwError, FdwResult};
use crate::backend::jsonb::PAGES_AHEAD;
use crate::backend::progress::PartialWarning;
use crate::fdw::convert::{ConversionLocation, cell_datum};
use crate::fdw::scan::executor::{Executor, ScanSetup, quals_hold};
use dune_api::{
    ExecState, ExecutionId, ParamValue, ReadEvent, ReadSpec, ResultSource, Started, read,
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

/// The LIMIT and OFFSET a final-path scan applies itself when Dune could not.
#[derive(Debug, Clone, Copy)]
struct LocalLimit {
    skip: u64,
    left: u64,
}

/// A page decoded for the scan's columns.
struct TypedPage {
    execution_id: String,
    partial: bool,
    /// The result's columns (for the check that every column read is there).
    columns: Vec<String>,
    /// Dune's `total_row_count` of the read (ANALYZE's row count).
    total: Option<u64>,
    cells: Prepared,
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

/// The rows of a typed scan's reads.
pub struct Reader {
    setup: ScanSetup,
    /// The foreign table's name, for messages.
    table: String,
    /// The Dune columns every page must have (None: each attribute's).
    wanted: Option<Vec<String>>,
    /// (count, offset) of a final path, applied here when Dune could not.
    final_limit: Option<(u64, u64)>,
    /// The execution read, kept across rescans so that a rescan does not run the query again.
    started: Started,
    /// The source of the last read (with its parameter values).
    read_source: Option<ResultSource>,
    events: Option<Stream<Event>>,
    /// The current page, and its next row.
    page: Option<Box<TypedPage>>,
    row: usize,
    rows_read: u64,
    columns_checked: bool,
    partial: PartialWarning,
    location: ConversionLocation,
    /// The row count of the result, as the first page said.
    total: Option<u64>,
    /// What each attribute returns instead of a result column (a parameter column's value).
    pub param_texts: Vec<Option<CString>>,
    local_limit: Option<LocalLimit>,
}

impl Reader {
    /// A reader for the scan of `table` (its name) with these attributes; `wanted` the Dune
    /// columns read (None: the attributes'), `final_limit` the (count, offset) a final path
    /// applies itself when Dune could not.
    pub fn new(
        setup: ScanSetup,
        table: &str,
        wanted: Option<Vec<String>>,
        final_limit: Option<(u64, u64)>,
    ) -> Reader {
        Reader {
            location: ConversionLocation::new(table),
            setup,
            table: table.to_string(),
            wanted,
            final_limit,
            started: Started::default(),
            read_source: None,
            events: None,
            page: None,
            row: 0,
            rows_read: 0,
            columns_checked: false,
            partial: PartialWarning::default(),
            total: None,
            param_texts: Vec::new(),
            local_limit: None,
        }
    }

    /// The scan's attributes and client settings.
    pub fn setup(&self) -> &ScanSetup {
        &self.setup
    }

    /// The result's row count, known once the first page came.
    pub fn total_rows(&self) -> Option<u64> {
        self.total
    }

    /// Reads nothing (a condition keeps no row).
    pub fn nothing(&mut self) {
        self.events = None;
    }

    /// Starts reading `spec`; true when its source differs from the last read's (other
    /// parameter values: another execution, not the one read before).
    pub fn start(&mut self, spec: ReadSpec) -> FdwResult<bool> {
        let changed = self.read_source.as_ref() != Some(&spec.source);
        if changed {
            if let Ok(mut s) = self.started.lock() {
                *s = None;
            }
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
        Ok(changed)
    }

    /// Forgets what was read (a rescan), stopping the helper thread; keeps the execution a
    /// rescan reuses.
    pub fn reset(&mut self) {
        self.events = None; // stops the helper thread
        self.page = None;
        self.local_limit = None;
        self.rows_read = 0;
        self.columns_checked = false;
    }

    /// Every Dune column the scan reads must be in the result (checked on the first page).
    fn check_columns(&mut self, names: &[String]) -> FdwResult<()> {
        self.columns_checked = true;
        if names.is_empty() {
            return Ok(());
        }
        let wanted: Vec<&String> = match &self.wanted {
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
                table: self.table.clone(),
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
        // scan's; the page has one cell per attribute and row.
        unsafe {
            let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
            let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
            let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
            let width = page.cells.width;
            let cells = &page.cells.cells[row * width..(row + 1) * width];
            let (attrs, table, rows_read) = (&self.setup.attrs, &self.table, self.rows_read);
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

    /// The rows that follow are not limited by Dune: a final path limits them itself.
    fn unfiltered(&mut self) {
        if let Some((count, offset)) = self.final_limit {
            self.local_limit = Some(LocalLimit {
                skip: offset,
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

    /// Fills `slot` with the next row and returns true, or returns false at the end. `node`
    /// is the scan being executed (None for ANALYZE's sample, which has no quals or limit).
    ///
    /// # Safety
    /// `slot` is cleared and has the scan's descriptor; `node`, if any, is its scan.
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
                // SAFETY: the caller's node and slot, as the function requires.
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

/// An executor whose rows a [`Reader`] reads (a query result's, a statement's): it only says
/// what to read for the parameter values, and is an [`Executor`] by that.
pub trait ReadsRows {
    /// Its reader.
    fn reader(&mut self) -> &mut Reader;
    /// Starts the reader on what these values ask for (or on nothing).
    fn begin(&mut self, values: &[ParamValue]) -> FdwResult<()>;
}

impl<T: ReadsRows> Executor for T {
    fn start(&mut self, values: &[ParamValue]) -> FdwResult<()> {
        self.begin(values)
    }

    unsafe fn fill(
        &mut self,
        node: *mut pg_sys::ForeignScanState,
        slot: *mut pg_sys::TupleTableSlot,
    ) -> bool {
        // SAFETY: as `fill` requires.
        unsafe { self.reader().advance(Some(node), slot) }
    }

    fn reset(&mut self) {
        self.reader().reset();
    }
}
