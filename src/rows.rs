//! Result rows as jsonb for the set-returning functions, streamed: the helper thread reads
//! page N+1 while Postgres consumes page N, so at most two pages are ever held.

use crate::blocking::Stream;
use crate::error::{FdwError, FdwResult};
use dune_client::scan::{ScanEvent, ScanSpec, Started, scan};
use dune_client::{ClientConfig, ExecState, Read};
use pgrx::JsonB;
use serde_json::{Map, Value};
use std::time::Duration;

/// Pages the helper thread may read ahead of the backend.
pub const PAGES_AHEAD: usize = 1;

/// What the functions read: everything of `source`, waiting up to `wait` for an execution.
pub fn spec(
    config: &ClientConfig,
    source: dune_client::scan::ScanSource,
    wait: Duration,
) -> ScanSpec {
    ScanSpec {
        source,
        read: Read::default(),
        limit: None,
        page_size: config.page_size,
        wait,
    }
}

pub struct RowStream {
    events: Stream<ScanEvent>,
    columns: Vec<String>,
    rows: std::vec::IntoIter<Vec<Value>>,
    warned_partial: bool,
}

impl RowStream {
    pub fn start(config: ClientConfig, spec: ScanSpec) -> FdwResult<RowStream> {
        let events = Stream::start(config, PAGES_AHEAD, move |client, out| {
            scan(client, &spec, &Started::default(), &mut |event| {
                out.emit(event)
            })
        })?;
        Ok(RowStream {
            events,
            columns: Vec::new(),
            rows: Vec::new().into_iter(),
            warned_partial: false,
        })
    }
}

/// Warns once that Dune kept only part of a result.
pub fn warn_partial(execution_id: &str, warned: &mut bool) {
    if !*warned {
        *warned = true;
        pgrx::warning!(
            "Dune stored only part of the result of execution {execution_id} (QUERY_STATE_COMPLETED_PARTIAL): these rows are not the whole result"
        );
    }
}

impl Iterator for RowStream {
    type Item = JsonB;

    fn next(&mut self) -> Option<JsonB> {
        loop {
            if let Some(row) = self.rows.next() {
                let object: Map<String, Value> = self.columns.iter().cloned().zip(row).collect();
                return Some(JsonB(Value::Object(object)));
            }
            match self.events.next()? {
                Ok(ScanEvent::Page(page)) => {
                    if page.state == ExecState::CompletedPartial {
                        warn_partial(&page.execution_id, &mut self.warned_partial);
                    }
                    self.columns = page.rows.columns;
                    self.rows = page.rows.values.into_iter();
                }
                Ok(ScanEvent::Notice(text)) => pgrx::notice!("{text}"),
                Err(e) => FdwError::from(e).raise(),
            }
        }
    }
}
