//! Reading a whole result one page at a time: only the current page is ever held.

use crate::client::{Client, Read, Source};
use crate::error::{Error, Result};
use crate::models::{ExecState, Page, ResultMetadata};
use std::time::Duration;

pub struct Pager {
    source: Source,
    read: Read,
    offset: u64,
    /// Rows still wanted (a LIMIT), if any.
    remaining: Option<u64>,
    page_size: u64,
    /// The execution the first page came from: later pages read that execution, so a newer
    /// latest result cannot slip in between pages.
    execution_id: Option<String>,
    done: bool,
    /// The result was truncated by Dune (QUERY_STATE_COMPLETED_PARTIAL).
    pub partial: bool,
    pub metadata: Option<ResultMetadata>,
    pub pages_read: u64,
    pub rows_read: u64,
}

/// Turns a finished execution's state into the error it means, if any.
pub fn check_state(
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
    pub fn new(source: Source, read: Read, limit: Option<u64>, page_size: u64) -> Pager {
        let execution_id = match &source {
            Source::Execution(id) => Some(id.clone()),
            Source::Latest { .. } => None,
        };
        Pager {
            source,
            read,
            offset: 0,
            remaining: limit,
            page_size: page_size.max(1),
            execution_id,
            done: limit == Some(0),
            partial: false,
            metadata: None,
            pages_read: 0,
            rows_read: 0,
        }
    }

    pub fn execution_id(&self) -> Option<&str> {
        self.execution_id.as_deref()
    }

    /// The next page, or None when the result is exhausted (or the limit reached).
    pub fn next_page(&mut self, client: &Client) -> Result<Option<Page>> {
        if self.done {
            return Ok(None);
        }
        let want = self
            .remaining
            .map_or(self.page_size, |r| r.min(self.page_size));
        let source = match &self.execution_id {
            Some(id) => Source::Execution(id.clone()),
            None => self.source.clone(),
        };
        let mut page = client.results_page(&source, &self.read, self.offset, want)?;
        check_state(
            &page.execution_id,
            &page.state,
            page.error_message.as_deref(),
            page.is_execution_finished == Some(true),
        )?;
        self.partial |= page.state == ExecState::CompletedPartial;
        if self.execution_id.is_none() {
            self.execution_id = Some(page.execution_id.clone());
        }
        if let Some(r) = self.remaining.as_mut() {
            page.rows.truncate(*r as usize);
            *r -= page.rows.len() as u64;
        }
        let got = page.rows.len() as u64;
        self.offset = page.next_offset.unwrap_or(self.offset + got);
        self.pages_read += 1;
        self.rows_read += got;
        if page.metadata.is_some() {
            self.metadata = page.metadata.clone();
        }
        self.done = page.next_offset.is_none() || got == 0 || self.remaining == Some(0);
        Ok(Some(page))
    }
}

/// Every CSV page of a result, joined under the first page's header line. `sink` receives
/// the text piece by piece.
pub fn csv_all(
    client: &Client,
    source: &Source,
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

/// The length in bytes of a CSV text's first record (its header line), quotes respected.
pub fn header_len(text: &str) -> usize {
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
