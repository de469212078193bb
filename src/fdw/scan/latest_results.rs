//! The executor of `dune_latest_results`: for each query id the WHERE clause names (and the
//! parameter set it asks for), the rows of that query's latest result, each as a jsonb `row`
//! built on the I/O thread as `dune_results` builds its rows (`backend::jsonb`), with the
//! query id, the parameters, the execution and a row number per query.

use crate::backend::blocking::Stream;
use crate::backend::error::{FdwError, FdwResult};
use crate::backend::jsonb::{JsonbPage, PAGES_AHEAD, binary_jsonb, jsonb_datum};
use crate::backend::progress::PartialWarning;
use crate::backend::waits::DEFAULT_WAIT;
use crate::fdw::convert::LatestResultsRole;
use crate::fdw::scan::executor::{Executor, ScanSetup};
use crate::fdw::scan_plan::LatestScan;
use dune_api::{
    Literal, PValue, ParamValue, Params, QueryId, ReadEvent, ReadSpec, ResultSource, Started, read,
};
use pg_format::Prepared;
use pgrx::{IntoDatum, JsonB, pg_sys};
use serde_json::Value;

enum Event {
    /// The rows that follow belong to this query.
    Query(i64),
    Rows(JsonbPage),
    Notice(String),
}

pub struct LatestResults {
    setup: ScanSetup,
    plan: LatestScan,
    events: Option<Stream<Event>>,
    /// The parameter set asked for, as the `params` column shows it.
    params: Option<Value>,
    query_id: i64,
    execution_id: String,
    row_number: u64,
    page: Prepared,
    next: usize,
    partial: PartialWarning,
}

impl LatestResults {
    pub fn new(setup: ScanSetup, plan: LatestScan) -> LatestResults {
        LatestResults {
            setup,
            plan,
            events: None,
            params: None,
            query_id: 0,
            execution_id: String::new(),
            row_number: 0,
            page: Prepared::default(),
            next: 0,
            partial: PartialWarning::default(),
        }
    }

    /// The latest results to read: one per query id; None when the parameter set asked for
    /// is NULL (no row can match).
    fn reads(&mut self, values: &[ParamValue]) -> FdwResult<Option<Vec<(i64, ReadSpec)>>> {
        let resolve = |v: &PValue| match v {
            PValue::Lit(l) => Some(l.clone()),
            PValue::Param(i) => match values.get(*i)? {
                ParamValue::Literals(l) if l.len() == 1 => Some(l[0].clone()),
                _ => None,
            },
        };
        let (query_ids, params) = (&self.plan.query_ids, &self.plan.params);
        let params = match params.as_ref().map(resolve) {
            None => None,
            Some(Some(Literal::Text(json))) => {
                Some(serde_json::from_str::<Value>(&json).map_err(|e| {
                    FdwError::InvalidArgument(format!("params is not a JSON object: {e}"))
                })?)
            }
            Some(_) => return Ok(None),
        };
        let checked = Params::from_json(params.clone())?;
        self.params = params;
        let mut out = Vec::new();
        for v in query_ids {
            let Some(Literal::Number(n)) = resolve(v) else {
                continue;
            };
            let Ok(id) = n.parse::<i64>() else { continue };
            let source = ResultSource::Latest {
                query: QueryId::try_from(id)?,
                params: checked.clone(),
                max_age: None,
                performance: None,
            };
            out.push((id, ReadSpec::all(source, &self.setup.config, DEFAULT_WAIT)));
        }
        Ok(Some(out))
    }

    /// The datum of one column of the current row.
    fn datum(&self, role: Option<LatestResultsRole>, row: usize) -> Option<pg_sys::Datum> {
        match role? {
            LatestResultsRole::QueryId => self.query_id.into_datum(),
            LatestResultsRole::Params => self.params.clone().and_then(|v| JsonB(v).into_datum()),
            LatestResultsRole::ExecutionId => self.execution_id.as_str().into_datum(),
            LatestResultsRole::RowNumber => (self.row_number as i64).into_datum(),
            LatestResultsRole::Row => jsonb_datum(&self.page, self.page.cells[row]).map(|d| d.0),
        }
    }
}

impl Executor for LatestResults {
    fn start(&mut self, values: &[ParamValue]) -> FdwResult<()> {
        let Some(reads) = self.reads(values)? else {
            self.events = None;
            return Ok(());
        };
        let binary = binary_jsonb();
        let events = Stream::start(
            self.setup.config.clone(),
            PAGES_AHEAD,
            move |client, out| {
                for (id, spec) in reads {
                    if !out.emit(Event::Query(id)) {
                        return Ok(());
                    }
                    let mut open = true;
                    read(client, &spec, &Started::default(), &mut |ev| {
                        open = match ev {
                            ReadEvent::Page(page) => {
                                out.emit(Event::Rows(JsonbPage::of(*page, binary)))
                            }
                            ReadEvent::Notice(text) => out.emit(Event::Notice(text)),
                            ReadEvent::Unfiltered => true, // nothing is pushed here
                        };
                        open
                    })?;
                    if !open {
                        break;
                    }
                }
                Ok(())
            },
        )?;
        self.events = Some(events);
        Ok(())
    }

    unsafe fn fill(
        &mut self,
        _node: *mut pg_sys::ForeignScanState,
        slot: *mut pg_sys::TupleTableSlot,
    ) -> bool {
        loop {
            if self.next < self.page.cells.len() {
                let row = self.next;
                self.next += 1;
                self.row_number += 1;
                // SAFETY: the slot's arrays have one entry per attribute of its descriptor,
                // which is the relation's.
                unsafe {
                    let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
                    let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
                    let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
                    for i in 0..natts.min(self.setup.attrs.len()) {
                        let datum = self.datum(self.setup.attrs[i].role, row);
                        nulls[i] = datum.is_none();
                        values[i] = datum.unwrap_or(pg_sys::Datum::from(0));
                    }
                    pg_sys::ExecStoreVirtualTuple(slot);
                }
                return true;
            }
            let Some(events) = self.events.as_mut() else {
                return false;
            };
            match events.next() {
                None => {
                    self.events = None;
                    return false;
                }
                Some(Ok(Event::Query(id))) => {
                    self.query_id = id;
                    self.row_number = 0;
                }
                Some(Ok(Event::Rows(page))) => {
                    if page.partial {
                        self.partial.warn(&page.execution_id);
                    }
                    self.execution_id = page.execution_id;
                    self.page = page.rows;
                    self.next = 0;
                }
                Some(Ok(Event::Notice(text))) => pgrx::notice!("{text}"),
                Some(Err(e)) => FdwError::from(e).raise(),
            }
        }
    }

    fn reset(&mut self) {
        self.events = None; // stops the helper thread
        self.page = Prepared::default();
        self.next = 0;
        self.row_number = 0;
    }
}
