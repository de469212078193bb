//! Several result pages in flight. Once the first page has said how many rows the result has
//! (`total_row_count`, API reference §5.3), the pages after it are requested by offset ranges
//! (`offset`, `limit`, §5.1), up to `window` at a time, each on its own thread, and handed on
//! strictly in order. At most `window` pages are requested or held beyond the one being handed
//! on, so memory stays bounded; when the consumer stops, no new request is sent.
//!
//! The window opens as far as waiting requires, like a congestion window: it starts at one
//! page (all of `window` if the first page took 20 ms or more: a far server) and doubles each
//! time the next page in order arrives 20 ms or more after it is needed (the read waits on the
//! network), up to `window`. Where pages come faster than they are
//! consumed (a near server, a busy backend), it stays small and holds little.
//!
//! Dune may serve fewer rows than a range asks for (it caps `limit` silently, §5.1, and
//! still says where the next page starts): the rest of that range is then read before what
//! follows, so no row is skipped or read twice. A page without `next_offset` ends the result,
//! whatever the count said; ranges requested past it are dropped unread. A 429 halves the
//! window for the rest of the read (§10.2: one per-minute bucket for every read).

use crate::client::Client;
use crate::error::{Error, Result};
use crate::models::Page;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::Scope;
use std::time::{Duration, Instant};

/// A wait for the next page this long means the read waits on the network, not on its
/// consumer: the window doubles. (On 127.0.0.1 a 32,000-row page arrives within a few
/// milliseconds of being needed; more requests at once would only compete for the CPU.)
const GROW_AFTER: Duration = Duration::from_millis(20);

/// A page of either encoding, as read ahead needs to see it.
pub(crate) trait Landed: Send {
    /// Its rows.
    fn rows(&self) -> u64;
    /// Where Dune says the next page starts; None on the last.
    fn next_offset(&self) -> Option<u64>;
    /// Drops the rows past the first `n`.
    fn truncate(&mut self, n: u64);
}

impl Landed for Page {
    fn rows(&self) -> u64 {
        self.rows.len() as u64
    }

    fn next_offset(&self) -> Option<u64> {
        self.next_offset
    }

    fn truncate(&mut self, n: u64) {
        self.rows.truncate(n as usize);
    }
}

/// What read ahead hands on, in order.
pub(crate) enum Handed<P> {
    /// The next page.
    Page(P),
    /// Something the user should know.
    Notice(String),
}

/// Reads the page of `want` rows from `offset` (runs on several threads at once).
pub(crate) type Fetch<'a, P> = &'a (dyn Fn(u64, u64) -> Result<P> + Sync);

/// One range of rows of the result, and what became of its request.
struct Range<P> {
    id: u64,
    offset: u64,
    want: u64,
    sent: bool,
    landed: Option<Result<P>>,
}

/// How a read ahead ended.
pub(crate) enum Ahead {
    /// The result (or the rows wanted) ended, or the consumer stopped.
    Done,
    /// Read ahead stopped, and the rest is read one page after the other from this offset:
    /// the ranges the count allowed are read, yet Dune says more rows follow, or Dune's next
    /// offset was not where a page ended. `.1`: rows handed on.
    Beyond(u64, u64),
}

struct Window<'a, 'scope, P> {
    client: &'a Client,
    fetch: Fetch<'a, P>,
    queue: VecDeque<Range<P>>,
    /// The start of the first range not yet queued, and the end of the rows to read.
    cursor: u64,
    end: u64,
    page_size: u64,
    /// Pages requested or held at most now, and at most ever (`fetch_concurrency`, halved
    /// by each 429).
    window: usize,
    most: usize,
    next_id: u64,
    rate_limited: u64,
    tx: Sender<(u64, Result<P>)>,
    scope: &'scope Scope<'scope, 'a>,
}

impl<'a, 'scope, P: Landed + 'a> Window<'a, 'scope, P> {
    /// Queues ranges up to the window and sends those not sent yet, in order.
    fn fill(&mut self) {
        while self.queue.len() < self.window && self.cursor < self.end {
            let want = self.page_size.min(self.end - self.cursor);
            self.push_back(self.cursor, want);
            self.cursor += want;
        }
        let fetch = self.fetch;
        for range in self.queue.iter_mut().take(self.window) {
            if range.sent {
                continue;
            }
            range.sent = true;
            let (id, offset, want, tx) = (range.id, range.offset, range.want, self.tx.clone());
            self.scope.spawn(move || {
                let page = std::panic::catch_unwind(AssertUnwindSafe(|| fetch(offset, want)))
                    .unwrap_or_else(|_| {
                        Err(Error::InvalidResponse(
                            "internal error while reading a page in flight".into(),
                        ))
                    });
                let _ = tx.send((id, page));
            });
        }
    }

    fn push_back(&mut self, offset: u64, want: u64) {
        self.next_id += 1;
        self.queue.push_back(Range {
            id: self.next_id,
            offset,
            want,
            sent: false,
            landed: None,
        });
    }

    /// The next range in order, once its page has landed. Waiting for it opens the window.
    fn take_front(&mut self, rx: &Receiver<(u64, Result<P>)>) -> Result<(Range<P>, P)> {
        let waiting = Instant::now();
        while self.queue.front().is_some_and(|r| r.landed.is_none()) {
            let (id, page) = rx.recv().map_err(|_| Error::Cancelled)?;
            if let Some(range) = self.queue.iter_mut().find(|r| r.id == id) {
                range.landed = Some(page);
            }
        }
        if waiting.elapsed() >= GROW_AFTER {
            self.window = (self.window * 2).min(self.most);
        }
        let mut range = self.queue.pop_front().ok_or(Error::Cancelled)?;
        let page = range.landed.take().ok_or(Error::Cancelled)??;
        Ok((range, page))
    }

    /// Takes in what the page of `range` said: `got` rows and Dune's `next` offset. The result
    /// ended (no `next`): nothing more is read. Served short: the rest of the range comes next.
    /// A `next` that is not where the page ends (Dune's offsets mean something else than
    /// assumed): nothing more is read ahead, and the offset to go on from one page after the
    /// other is returned. Errors: an empty page that says more rows follow.
    fn settle(&mut self, range: &Range<P>, got: u64, next: Option<u64>) -> Result<Option<u64>> {
        match next {
            None => {
                self.queue.clear();
                self.cursor = self.end;
                Ok(None)
            }
            Some(_) if got == 0 => Err(Error::InvalidResponse(format!(
                "Dune sent no rows at offset {} but said more rows follow",
                range.offset
            ))),
            Some(n) if n != range.offset + got => {
                self.queue.clear();
                self.cursor = self.end;
                Ok(Some(n))
            }
            Some(_) if got < range.want => {
                self.next_id += 1;
                self.queue.push_front(Range {
                    id: self.next_id,
                    offset: range.offset + got,
                    want: range.want - got,
                    sent: false,
                    landed: None,
                });
                Ok(None)
            }
            Some(_) => Ok(None),
        }
    }

    /// Halves the window if Dune answered 429 since the last look; returns a notice then.
    fn throttle(&mut self) -> Option<String> {
        let now = self.client.rate_limited();
        if now == self.rate_limited || self.most == 1 {
            self.rate_limited = now;
            return None;
        }
        self.rate_limited = now;
        self.most = (self.most / 2).max(1);
        self.window = self.window.min(self.most);
        Some(format!(
            "Dune is rate limiting this account (429); reading at most {} result page{} at a time for the rest of this read",
            self.most,
            if self.most == 1 { "" } else { "s" }
        ))
    }
}

/// What to read ahead after a first page: the rows `[start, end)` and the rows per range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Plan {
    start: u64,
    end: u64,
    page_size: u64,
    /// The window to start with: all of it when the first page was slow to come.
    window: usize,
}

/// Where a read stands after its first page: the next offset, the rows still wanted (None:
/// all), the rows a request asks for, and whether it is done.
pub(crate) type Position = (u64, Option<u64>, u64, bool);

/// The read ahead that follows `first`, if it is worth one: `window` above 1, more rows to
/// come, and a row count (`total`) to bound the ranges (without one, the pages are read one
/// after the other, the I/O thread one page ahead of the consumer). The ranges are as long as
/// the first page was: Dune's cap on a page, if it applied one.
pub(crate) fn plan(
    at: Position,
    first: &impl Landed,
    total: Option<u64>,
    window: usize,
    first_took: Duration,
) -> Option<Plan> {
    let (start, remaining, page_size, done) = at;
    if done || window < 2 || first.next_offset().is_none() {
        return None;
    }
    let total = total?;
    let end = remaining.map_or(total, |r| total.min(start.saturating_add(r)));
    (end > start).then(|| Plan {
        start,
        end,
        page_size: first.rows().clamp(1, page_size),
        window: if first_took >= GROW_AFTER { window } else { 1 },
    })
}

/// Reads `plan`'s rows of a result (its first page already handed on) with `fetch`, up to
/// `window` ranges in flight, into `emit` in order; `client` is the one `fetch` uses (its 429s
/// are counted). Errors: a page's (after its retries), when its turn comes; an empty page that
/// says more rows follow (`InvalidResponse`).
pub(crate) fn read_ahead<P: Landed>(
    client: &Client,
    fetch: Fetch<'_, P>,
    plan: Plan,
    window: usize,
    emit: &mut dyn FnMut(Handed<P>) -> bool,
) -> Result<Ahead> {
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let mut w = Window {
            client,
            fetch,
            queue: VecDeque::new(),
            cursor: plan.start,
            end: plan.end,
            page_size: plan.page_size,
            window: plan.window.clamp(1, window.max(1)),
            most: window.max(1),
            next_id: 0,
            rate_limited: client.rate_limited(),
            tx,
            scope,
        };
        let mut handed = 0u64;
        let outcome = loop {
            w.fill();
            if w.queue.is_empty() {
                break Ok(Ahead::Done);
            }
            let (range, mut page) = match w.take_front(&rx) {
                Ok(landed) => landed,
                Err(e) => break Err(e),
            };
            page.truncate(range.want);
            let got = page.rows();
            let more = page.next_offset().is_some();
            let resume = match w.settle(&range, got, page.next_offset()) {
                Ok(resume) => resume,
                Err(e) => break Err(e),
            };
            if let Some(notice) = w.throttle() {
                emit(Handed::Notice(notice));
            }
            w.fill();
            let last = w.queue.is_empty() && w.cursor >= w.end;
            handed += got;
            if !emit(Handed::Page(page)) {
                break Ok(Ahead::Done);
            }
            match resume {
                Some(n) => break Ok(Ahead::Beyond(n, handed)),
                None if last && more => break Ok(Ahead::Beyond(w.end, handed)),
                None if last => break Ok(Ahead::Done),
                None => {}
            }
        };
        if outcome.is_err() {
            // the requests still in flight are waited for: no more tries, no backoff sleeps
            client.cancel_flag().cancel();
        }
        outcome
    })
}
