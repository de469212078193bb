//! Result rows as jsonb, streamed: the helper thread reads page N+1 while Postgres consumes
//! page N, and at most two pages are ever held.

use crate::blocking::{Emitter, Stream};
use crate::error::{FdwError, FdwResult};
use dune_client::{Client, ClientConfig, Error, ExecState, Page, Pager};
use pgrx::JsonB;
use serde_json::{Map, Value};

/// Pages the helper thread may read ahead of the backend.
const PAGES_AHEAD: usize = 1;

/// Sends every page of `pager` to the backend; stops early when it stops listening.
pub fn send_pages(client: &Client, mut pager: Pager, out: &Emitter<Page>) -> Result<(), Error> {
    while let Some(page) = pager.next_page(client)? {
        if !out.emit(page) {
            break;
        }
    }
    Ok(())
}

pub struct RowStream {
    pages: Stream<Page>,
    rows: std::vec::IntoIter<Map<String, Value>>,
    warned_partial: bool,
}

impl RowStream {
    pub fn start(
        config: ClientConfig,
        producer: impl FnOnce(&Client, &Emitter<Page>) -> Result<(), Error> + Send + 'static,
    ) -> FdwResult<RowStream> {
        Ok(RowStream {
            pages: Stream::start(config, PAGES_AHEAD, producer)?,
            rows: Vec::new().into_iter(),
            warned_partial: false,
        })
    }
}

impl Iterator for RowStream {
    type Item = JsonB;

    fn next(&mut self) -> Option<JsonB> {
        loop {
            if let Some(row) = self.rows.next() {
                return Some(JsonB(Value::Object(row)));
            }
            match self.pages.next()? {
                Ok(page) => {
                    if page.state == ExecState::CompletedPartial && !self.warned_partial {
                        self.warned_partial = true;
                        pgrx::warning!(
                            "Dune stored only part of the result of execution {} (QUERY_STATE_COMPLETED_PARTIAL): these rows are not the whole result",
                            page.execution_id
                        );
                    }
                    self.rows = page.rows.into_iter();
                }
                Err(e) => FdwError::from(e).raise(),
            }
        }
    }
}
