//! Reading a whole result page by page: one page at a time ([`Pager`]), or, once the row count
//! is known, several in flight (`ahead.rs`); only the pages requested and not yet handed on
//! are held.

use crate::ahead::{self, Ahead, Handed, Landed};
use crate::client::{Client, CsvPage, Location, Read};
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
        let mut page = self.fetch_at(client, self.offset, want)?;
        if self.execution_id.is_none() {
            self.execution_id = ExecutionId::try_from(page.execution_id.as_str()).ok();
        }
        if let Some(r) = self.remaining.as_mut() {
            page.rows.truncate(*r as usize);
            *r -= page.rows.len() as u64;
        }
        let got = page.rows.len() as u64;
        self.offset = page.next_offset.unwrap_or(self.offset + got);
        // a sample is one request: Dune's next_offset, if any, would repeat it
        self.done = page.next_offset.is_none()
            || got == 0
            || self.remaining == Some(0)
            || self.read.sample_count.is_some();
        Ok(Some(page))
    }
}

impl Pager {
    /// One page of `want` rows from `offset`, of the execution the first page came from (or
    /// of the source, before it), with the execution's failure as an error. Takes `&self`:
    /// several may run at once (`ahead.rs`).
    pub(crate) fn fetch_at(&self, client: &Client, offset: u64, want: u64) -> Result<Page> {
        let source = match &self.execution_id {
            Some(id) => Location::Execution(id.clone()),
            None => self.source.clone(),
        };
        let page = client.results_page(&source, &self.read, offset, want)?;
        check_state(
            &page.execution_id,
            &page.state,
            page.error_message.as_deref(),
            page.is_execution_finished == Some(true),
        )?;
        Ok(page)
    }

    /// Moves on past `rows` rows read elsewhere (`ahead.rs`), to go on from `offset`.
    pub(crate) fn skip_to(&mut self, offset: u64, rows: u64) {
        self.offset = offset;
        if let Some(r) = self.remaining.as_mut() {
            *r = r.saturating_sub(rows);
        }
        self.done = self.remaining == Some(0);
    }

    /// Where the next page starts, the rows still wanted (None: all), the rows a request
    /// asks for, and whether the pager is done.
    pub(crate) fn position(&self) -> (u64, Option<u64>, u64, bool) {
        (self.offset, self.remaining, self.page_size, self.done)
    }
}

impl Landed for CsvPage {
    fn rows(&self) -> u64 {
        record_count(&self.text).saturating_sub(1) as u64
    }

    fn next_offset(&self) -> Option<u64> {
        self.next_offset
    }

    fn truncate(&mut self, n: u64) {
        if let Some(&end) = record_ends(&self.text).get(n as usize) {
            self.text.truncate(end);
        }
    }
}

/// Every CSV page of a result (Dune API reference: "Get Execution Result CSV"), joined under
/// the first page's header line, the pages after the first read `concurrency` at a time when
/// the result's row count (`total`) is known (`ahead.rs`). `sink` receives the text piece by
/// piece, in order; returns the number of pages.
pub(crate) fn csv_all(
    client: &Client,
    source: &Location,
    (page_size, concurrency): (u64, usize),
    total: Option<u64>,
    sink: &mut dyn FnMut(&str),
) -> Result<u64> {
    let fetch = |offset, want| client.csv_page(source, &Read::default(), offset, want, None);
    let asked = std::time::Instant::now();
    let first = fetch(0, page_size)?;
    let first_took = asked.elapsed();
    sink(&first.text);
    let mut pages = 1u64;
    let (mut offset, mut next_uri) = match first.next_offset {
        Some(n) if n > 0 => (n, first.next_uri.clone()),
        _ => return Ok(pages),
    };
    let at = (offset, None, page_size, false);
    if let Some(plan) = ahead::plan(at, &first, total, concurrency, first_took) {
        let mut hand = |h: Handed<CsvPage>| {
            if let Handed::Page(page) = h {
                sink(&page.text[header_len(&page.text)..]);
                pages += 1;
            }
            true
        };
        match ahead::read_ahead(client, &fetch, plan, concurrency, &mut hand)? {
            Ahead::Done => return Ok(pages),
            Ahead::Beyond(n, _) => (offset, next_uri) = (n, None),
        }
    }
    loop {
        let page = client.csv_page(
            source,
            &Read::default(),
            offset,
            page_size,
            next_uri.as_deref(),
        )?;
        sink(&page.text[header_len(&page.text)..]);
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
        let status = self.wait_until_finished(id, wait)?;
        let total = status.metadata.and_then(|m| m.total_row_count);
        let mut text = String::new();
        csv_all(
            self,
            &Location::Execution(id.clone()),
            (page_size, self.config().fetch_concurrency),
            total,
            &mut |piece| text.push_str(piece),
        )?;
        Ok(text)
    }

    /// A saved query's latest result as CSV (for `params` when given; API reference §6:
    /// `GET /v1/query/{id}/results/csv`), every page joined under one header line, one page
    /// after the other (no row count comes with CSV). Runs nothing. Errors: `NotFound` (no
    /// such query, or no latest result for these parameters), every request's.
    pub fn latest_csv(
        &self,
        query: QueryId,
        params: Option<&Params>,
        page_size: u64,
    ) -> Result<String> {
        let mut text = String::new();
        csv_all(
            self,
            &Location::latest(query, params),
            (page_size, 1),
            None,
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

/// The number of records of a CSV text (the header line is one), quotes respected.
fn record_count(text: &str) -> usize {
    let mut quoted = false;
    let mut lines = 0;
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => lines += 1,
            _ => {}
        }
    }
    lines + usize::from(!text.is_empty() && !text.ends_with('\n'))
}

/// Where each record of a CSV text ends (just past its line end; the text's end for a last
/// record without one), quotes respected: the header line is the first.
fn record_ends(text: &str) -> Vec<usize> {
    let mut quoted = false;
    let mut ends = Vec::new();
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => ends.push(i + 1),
            _ => {}
        }
    }
    if ends.last().copied().unwrap_or(0) < text.len() {
        ends.push(text.len());
    }
    ends
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

    #[test]
    fn csv_pages_count_and_cut_their_records() {
        let page = |text: &str| CsvPage {
            text: text.into(),
            next_offset: None,
            next_uri: None,
        };
        assert_eq!(page("a,b\n1,\"x\ny\"\n3,4\n").rows(), 2);
        assert_eq!(page("a,b\n1,2").rows(), 1);
        assert_eq!(page("a,b\n").rows(), 0);
        let mut p = page("a,b\n1,\"x\ny\"\n3,4\n");
        p.truncate(1);
        assert_eq!(p.text, "a,b\n1,\"x\ny\"\n");
    }
}
