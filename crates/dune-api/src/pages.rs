//! Reading a whole result one page at a time: only the current page is ever held.

use crate::client::{Client, Location, Read};
use crate::error::{Error, Result};
use crate::models::{ExecState, Page, ResultMetadata};
use crate::source::{ExecutionId, Params, QueryId};
use std::time::Duration;

/// Reads a result page by page (Dune API reference, "Get Execution Result": `limit`, `offset`, `next_offset`), pinned to the
/// execution of its first page, stopping at a LIMIT.
pub struct Pager {
    source: Location,
    read: Read,
    offset: u64,
    /// Rows still wanted (a LIMIT), if any.
    remaining: Option<u64>,
    page_size: u64,
    /// The execution the first page came from: later pages read that execution, so a newer
    /// latest result cannot slip in between pages.
    execution_id: Option<ExecutionId>,
    done: bool,
}

/// Turns a finished execution's state into the error it means, if any.
pub(crate) fn check_state(
    execution_id: &str,
    state: &ExecState,
    error_message: Option<&str>,
    finished: bool,
) -> Result<()> {
    match state {
        ExecState::Completed | ExecState::CompletedPartial => Ok(()),
        ExecState::Failed => Err(Error::ExecutionFailed {
            execution_id: execution_id.to_string(),
            message: error_message.unwrap_or("no error message").to_string(),
        }),
        s if s.is_terminal() || finished => Err(Error::ExecutionEnded {
            execution_id: execution_id.to_string(),
            state: s.as_str().to_string(),
        }),
        s => Err(Error::StillRunning {
            execution_id: execution_id.to_string(),
            state: s.short().to_string(),
            waited: Duration::ZERO,
        }),
    }
}

impl Pager {
    /// The pages of an execution's result: `read` of it, at most `limit` rows, `page_size`
    /// rows a request.
    pub fn execution(id: ExecutionId, read: Read, limit: Option<u64>, page_size: u64) -> Pager {
        Pager::new(Location::Execution(id), read, (0, limit), page_size)
    }

    /// The pages of a saved query's latest result (for `params` when given).
    pub fn latest(
        query: QueryId,
        params: Option<&Params>,
        read: Read,
        limit: Option<u64>,
        page_size: u64,
    ) -> Pager {
        Pager::new(Location::latest(query, params), read, (0, limit), page_size)
    }

    /// `rows`: the offset of the first row read (Dune's `offset`) and the most rows wanted.
    pub(crate) fn new(
        source: Location,
        read: Read,
        rows: (u64, Option<u64>),
        page_size: u64,
    ) -> Pager {
        let (offset, limit) = rows;
        let execution_id = match &source {
            Location::Execution(id) => Some(id.clone()),
            Location::Latest { .. } => None,
        };
        Pager {
            source,
            read,
            offset,
            remaining: limit,
            page_size: page_size.max(1),
            execution_id,
            done: limit == Some(0),
        }
    }

    /// The next page, or None when the result is exhausted (or the limit reached). Errors: as
    /// every request, and the execution's own failure (`ExecutionFailed`, `ExecutionEnded`).
    pub fn next_page(&mut self, client: &Client) -> Result<Option<Page>> {
        if self.done {
            return Ok(None);
        }
        let want = self
            .remaining
            .map_or(self.page_size, |r| r.min(self.page_size));
        let source = match &self.execution_id {
            Some(id) => Location::Execution(id.clone()),
            None => self.source.clone(),
        };
        let mut page = client.results_page(&source, &self.read, self.offset, want)?;
        check_state(
            &page.execution_id,
            &page.state,
            page.error_message.as_deref(),
            page.is_execution_finished == Some(true),
        )?;
        if self.execution_id.is_none() {
            self.execution_id = ExecutionId::try_from(page.execution_id.as_str()).ok();
        }
        if let Some(r) = self.remaining.as_mut() {
            page.rows.truncate(*r as usize);
            *r -= page.rows.len() as u64;
        }
        let got = page.rows.len() as u64;
        self.offset = page.next_offset.unwrap_or(self.offset + got);
        self.done = page.next_offset.is_none() || got == 0 || self.remaining == Some(0);
        Ok(Some(page))
    }
}

/// Every CSV page of a result (Dune API reference: "Get Execution Result CSV"), joined under the first page's
/// header line. `sink` receives the text piece by piece; returns the number of pages.
pub(crate) fn csv_all(
    client: &Client,
    source: &Location,
    page_size: u64,
    sink: &mut dyn FnMut(&str),
) -> Result<u64> {
    let mut offset = 0;
    let mut next_uri: Option<String> = None;
    let mut pages = 0u64;
    loop {
        let page = client.csv_page(
            source,
            &Read::default(),
            offset,
            page_size,
            next_uri.as_deref(),
        )?;
        let body = if pages == 0 {
            page.text.as_str()
        } else {
            &page.text[header_len(&page.text)..]
        };
        sink(body);
        pages += 1;
        match page.next_offset {
            Some(n) if n > offset => {
                offset = n;
                next_uri = page.next_uri;
            }
            _ => return Ok(pages),
        }
    }
}

impl Client {
    /// Waits up to `wait` for the execution's result, then returns it as CSV: every page
    /// (`page_size` rows a request) joined under one header line (Dune API
    /// reference: "Get Execution Result CSV"). The whole text is held: meant for results that fit in one value.
    pub fn result_csv(&self, id: &ExecutionId, wait: Duration, page_size: u64) -> Result<String> {
        self.wait_until_finished(id, wait)?;
        let mut text = String::new();
        csv_all(
            self,
            &Location::Execution(id.clone()),
            page_size,
            &mut |piece| text.push_str(piece),
        )?;
        Ok(text)
    }

    /// The column names and types of a saved query's latest result (for `params` when
    /// given), from a one-row request. Errors: `NotFound` (no such query, or no latest
    /// result), the execution's failure, every request's.
    pub fn latest_metadata(
        &self,
        query: QueryId,
        params: Option<&Params>,
    ) -> Result<Option<ResultMetadata>> {
        let page = self.results_page(&Location::latest(query, params), &Read::default(), 0, 1)?;
        check_state(
            &page.execution_id,
            &page.state,
            page.error_message.as_deref(),
            true,
        )?;
        Ok(page.metadata)
    }
}

/// The length in bytes of a CSV text's first record (its header line), quotes respected.
fn header_len(text: &str) -> usize {
    let mut quoted = false;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => return i + 1,
            _ => {}
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_line_respects_quotes() {
        assert_eq!(header_len("a,b\n1,2\n"), 4);
        assert_eq!(header_len("\"x\ny\",b\n1,2\n"), 8);
        assert_eq!(header_len("a,b"), 3);
    }
}
