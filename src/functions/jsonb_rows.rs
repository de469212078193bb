//! Result rows as jsonb for the set-returning functions, streamed: while PostgreSQL consumes
//! a page, the I/O thread prepares the next and has up to `fetch_concurrency` more in flight
//! (`dune_api::read`), so at most that many pages plus three are held (consumed, waiting,
//! being prepared). The I/O thread also builds each row's jsonb datum, so the backend only
//! copies it (`backend::jsonb`).

use crate::backend::blocking::Stream;
use crate::backend::connection;
use crate::backend::error::{FdwError, FdwResult};
use crate::backend::jsonb::{JsonbDatum, JsonbPage, PAGES_AHEAD, binary_jsonb, jsonb_datum};
use crate::backend::progress::PartialWarning;
use dune_api::{ReadEvent, ReadSpec, ResultSource, Started, read};
use pg_format::Prepared;
use std::time::Duration;

enum Event {
    Rows(JsonbPage),
    Notice(String),
}

/// The rows of a result as jsonb datums, read as the function's caller asks for them.
pub struct RowStream {
    events: Stream<Event>,
    page: Prepared,
    next: usize,
    partial: PartialWarning,
}

impl RowStream {
    /// Every row of `source`, as the dune_* functions read it (the server named by
    /// `dune_fdw.server`, the current role), waiting up to `wait` for an execution.
    pub fn start(source: ResultSource, wait: Duration) -> FdwResult<RowStream> {
        let config = connection::for_functions()?;
        let spec = ReadSpec::all(source, &config, wait);
        let binary = binary_jsonb();
        let events = Stream::start(config, PAGES_AHEAD, move |client, out| {
            read(
                client,
                &spec,
                &Started::default(),
                &mut |event| match event {
                    ReadEvent::Page(page) => out.emit(Event::Rows(JsonbPage::of(*page, binary))),
                    ReadEvent::Notice(text) => out.emit(Event::Notice(text)),
                    ReadEvent::Unfiltered => true, // the functions push nothing
                },
            )
        })?;
        Ok(RowStream {
            events,
            page: Prepared::default(),
            next: 0,
            partial: PartialWarning::default(),
        })
    }
}

impl Iterator for RowStream {
    type Item = JsonbDatum;

    fn next(&mut self) -> Option<JsonbDatum> {
        loop {
            if let Some(&cell) = self.page.cells.get(self.next) {
                self.next += 1;
                if let Some(datum) = jsonb_datum(&self.page, cell) {
                    return Some(datum);
                }
                continue;
            }
            match self.events.next()? {
                Ok(Event::Rows(page)) => {
                    if page.partial {
                        self.partial.warn(&page.execution_id);
                    }
                    self.page = page.rows;
                    self.next = 0;
                }
                Ok(Event::Notice(text)) => pgrx::notice!("{text}"),
                Err(e) => FdwError::from(e).raise(),
            }
        }
    }
}
