//! The result cache. An execution's result never changes (API reference §4: an execution id
//! names one finished run), so the pages a read receives are kept on disk, and a later read of
//! the same execution that asks for the same rows or fewer is served from them without a
//! request, billing nothing. Entries are kept per account (a hash of the API URL and key: two
//! keys never share an entry, whatever they could see), bounded in bytes, the least recently
//! used going first.
//!
//! On disk, under the account's directory: `<execution>-<unique>.pages` (each page as
//! `u64` body length, `u64` rows kept, the body as Dune sent it) and `<…>.meta` (JSON
//! [`EntryMeta`], written last: an entry without it is not read; its modification time is the
//! entry's last use). `latest/<query>-<params hash>.json` remembers the latest execution seen
//! for a query and parameter set, so that a latest-result read knows whether it holds it.

use crate::client::Read;
use crate::config::{CacheSettings, ClientConfig};
use crate::models::Page;
use crate::source::{Params, QueryId, ResultSource};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read as _, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// What one cache entry holds: the rows of one results request (its columns, filters and
/// sort) of one execution, from `offset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryMeta {
    /// The execution the rows are of.
    pub execution_id: String,
    /// The query it ran, when Dune said.
    pub query_id: Option<u64>,
    /// Dune's `columns` of the request; None for all.
    pub columns: Option<Vec<String>>,
    /// Dune's `filters` of the request.
    pub filters: Option<String>,
    /// Dune's `sort_by` of the request.
    pub sort_by: Option<String>,
    /// The row of the (filtered, sorted) result the entry starts at.
    pub offset: u64,
    /// Rows held.
    pub rows: u64,
    /// The rows held reach the end of the (filtered) result.
    pub complete: bool,
    /// Dune's `total_row_count` for the request.
    pub total_row_count: Option<u64>,
    /// Bytes of the pages file.
    pub bytes: u64,
    /// The first column of the result, to ask which execution is the latest with one
    /// datapoint.
    #[serde(default)]
    pub first_column: Option<String>,
}

/// An entry as `dune_cache()` lists it.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    /// What it holds.
    pub meta: EntryMeta,
    /// When it was written or last served.
    pub last_used: SystemTime,
}

/// How an entry serves a read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Serve {
    /// The same filters: skip `skip` rows of the entry, then at most `limit` rows.
    Rows {
        /// Rows of the entry before the first one read.
        skip: u64,
        /// The most rows read.
        limit: Option<u64>,
    },
    /// The whole unfiltered result: the reader filters the rows and applies its limit and
    /// offset itself (as when Dune refuses a filter, [`crate::ReadEvent::Unfiltered`]).
    Unfiltered,
}

/// Whether entry `e` can serve a read of `read` from row `offset`, at most `limit` rows:
/// the columns asked for are among the entry's, the sort is the entry's (or none is asked
/// for), and either the filters are the entry's and the rows asked for are held, or the entry
/// is the whole unfiltered result. A sample is never served from the cache.
pub fn serves(e: &EntryMeta, read: &Read, offset: u64, limit: Option<u64>) -> Option<Serve> {
    let columns_held = match (&read.columns, &e.columns) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(want), Some(held)) => want.iter().all(|c| held.contains(c)),
    };
    let sort_held = read.sort_by.is_none() || read.sort_by == e.sort_by;
    if read.sample_count.is_some() || !columns_held || !sort_held {
        return None;
    }
    if read.filters == e.filters && e.offset <= offset {
        let end = limit.map(|l| offset + l);
        let held = e.complete || end.is_some_and(|end| end <= e.offset + e.rows);
        return held.then_some(Serve::Rows {
            skip: offset - e.offset,
            limit,
        });
    }
    (e.filters.is_none() && e.offset == 0 && e.complete).then_some(Serve::Unfiltered)
}

/// The latest execution seen for a query and parameter set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatestSeen {
    /// Its id.
    pub execution_id: String,
    /// A column of its result, to ask the latest execution for with one datapoint.
    pub column: Option<String>,
    /// Its whole result's row count, when read without filters.
    pub total_row_count: Option<u64>,
}

/// The execution last seen for a DuneSQL statement (`max_age` of a Dune table's scan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementSeen {
    /// Its id.
    pub execution_id: String,
    /// When it ended (`execution_ended_at`), in ms since the Unix epoch.
    pub ended_ms: i64,
}

/// One account's cache.
#[derive(Debug, Clone)]
pub struct ResultCache {
    dir: PathBuf,
    max_bytes: u64,
}

/// The hex SHA-256 of `parts`, cut to `len` characters.
fn digest(parts: &[&str], len: usize) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    hex[..len].to_string()
}

fn unique() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:x}{:x}{n:x}", std::process::id())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_file_name(format!(
        ".tmp-{}-{}",
        unique(),
        path.file_name().and_then(|n| n.to_str()).unwrap_or("x")
    ));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

fn create_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

impl ResultCache {
    /// The cache of the account `config` reaches (its API URL and key), under `settings.dir`.
    pub fn for_account(settings: &CacheSettings, config: &ClientConfig) -> ResultCache {
        let account = digest(&[&config.api_url, config.api_key.expose()], 32);
        ResultCache {
            dir: settings.dir.join(account),
            max_bytes: settings.max_bytes,
        }
    }

    /// The entries held, with their metadata files' paths.
    fn metas(&self) -> Vec<(PathBuf, CacheEntry)> {
        let Ok(dir) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        dir.flatten()
            .filter_map(|f| {
                let path = f.path();
                let name = path.file_name()?.to_str()?;
                if name.starts_with('.') || !name.ends_with(".meta") {
                    return None;
                }
                let meta: EntryMeta = serde_json::from_slice(&fs::read(&path).ok()?).ok()?;
                let last_used = f.metadata().ok()?.modified().ok()?;
                Some((path, CacheEntry { meta, last_used }))
            })
            .collect()
    }

    /// The entries held for this account, the most recently used first.
    pub fn entries(&self) -> Vec<CacheEntry> {
        let mut all: Vec<CacheEntry> = self.metas().into_iter().map(|(_, e)| e).collect();
        all.sort_by_key(|e| std::cmp::Reverse(e.last_used));
        all
    }

    /// Removes every entry of this account; how many there were.
    pub fn clear(&self) -> u64 {
        let n = self.metas().len() as u64;
        let _ = fs::remove_dir_all(&self.dir);
        n
    }

    /// An entry that serves this read of `execution`, marked as used now.
    pub fn lookup(
        &self,
        execution: &str,
        read: &Read,
        offset: u64,
        limit: Option<u64>,
    ) -> Option<Hit> {
        let hit = self.find(execution, read, offset, limit)?;
        if let Ok(f) = File::options()
            .write(true)
            .open(hit.pages.with_extension("meta"))
        {
            let _ = f.set_modified(SystemTime::now());
        }
        Some(hit)
    }

    /// An entry that serves this read of `execution` (EXPLAIN's look: nothing is marked).
    pub fn find(
        &self,
        execution: &str,
        read: &Read,
        offset: u64,
        limit: Option<u64>,
    ) -> Option<Hit> {
        let mut found: Vec<(PathBuf, CacheEntry, Serve)> = self
            .metas()
            .into_iter()
            .filter(|(_, e)| e.meta.execution_id == execution)
            .filter_map(|(p, e)| serves(&e.meta, read, offset, limit).map(|s| (p, e, s)))
            .collect();
        // the same filters first (fewer rows to read), then the smallest entry
        found.sort_by_key(|(_, e, s)| (matches!(s, Serve::Unfiltered), e.meta.bytes));
        let (meta_path, entry, serve) = found.into_iter().next()?;
        let pages = meta_path.with_extension("pages");
        // a pages file of another length than written is damaged: never served
        if fs::metadata(&pages).map(|m| m.len()).ok() != Some(entry.meta.bytes) {
            let _ = fs::remove_file(&meta_path);
            let _ = fs::remove_file(&pages);
            return None;
        }
        Some(Hit {
            pages,
            meta: entry.meta,
            serve,
        })
    }

    /// The row count of `source`'s whole result, if a read of it learned it: an execution's
    /// from its entries, a latest result's from the latest execution seen.
    pub fn known_rows(&self, source: &ResultSource) -> Option<u64> {
        match source {
            ResultSource::Execution(id) => self
                .metas()
                .into_iter()
                .filter(|(_, e)| e.meta.execution_id == id.as_str() && e.meta.filters.is_none())
                .find_map(|(_, e)| e.meta.total_row_count),
            ResultSource::Latest { query, params, .. } => {
                self.latest_seen(*query, params.as_ref())?.total_row_count
            }
            _ => None,
        }
    }

    fn latest_path(&self, query: QueryId, params: Option<&Params>) -> PathBuf {
        let pairs: Vec<String> = params
            .map(Params::query_pairs)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let refs: Vec<&str> = pairs.iter().map(String::as_str).collect();
        self.dir
            .join("latest")
            .join(format!("{query}-{}.json", digest(&refs, 16)))
    }

    /// A column of a result this cache holds of `query` (any parameter set), to ask which
    /// execution is the latest with one datapoint (Some(None): no column name known); None
    /// when no entry of the query is held.
    pub fn holds_query(&self, query: QueryId) -> Option<Option<String>> {
        self.metas()
            .into_iter()
            .find(|(_, e)| e.meta.query_id == Some(query.get()))
            .map(|(_, e)| e.meta.first_column)
    }

    /// The latest execution last seen for `query` with `params`.
    pub fn latest_seen(&self, query: QueryId, params: Option<&Params>) -> Option<LatestSeen> {
        serde_json::from_slice(&fs::read(self.latest_path(query, params)).ok()?).ok()
    }

    /// Remembers the latest execution of `query` with `params` (errors ignored: the cache
    /// only saves requests).
    pub fn remember_latest(&self, query: QueryId, params: Option<&Params>, seen: &LatestSeen) {
        let path = self.latest_path(query, params);
        if let Some(parent) = path.parent()
            && create_dir(parent).is_ok()
            && let Ok(json) = serde_json::to_vec(seen)
        {
            let _ = write_atomic(&path, &json);
        }
    }

    fn statement_path(&self, sql: &str) -> PathBuf {
        self.dir
            .join("statements")
            .join(format!("{}.json", digest(&[sql], 32)))
    }

    /// The execution last seen for the DuneSQL `sql` (byte for byte), if any.
    pub fn statement_seen(&self, sql: &str) -> Option<StatementSeen> {
        serde_json::from_slice(&fs::read(self.statement_path(sql)).ok()?).ok()
    }

    /// Remembers the execution of `sql` (errors ignored: the cache only saves executions).
    pub fn remember_statement(&self, sql: &str, seen: &StatementSeen) {
        let path = self.statement_path(sql);
        if let Some(parent) = path.parent()
            && create_dir(parent).is_ok()
            && let Ok(json) = serde_json::to_vec(seen)
        {
            let _ = write_atomic(&path, &json);
        }
    }

    /// A writer of a new entry for the read whose first page is `first`; None if the
    /// directory cannot be made.
    pub fn writer(&self, first: &Page, read: &Read, offset: u64) -> Option<Writer> {
        create_dir(&self.dir).ok()?;
        let name = format!("{}-{}", first.execution_id, unique());
        let tmp = self.dir.join(format!(".tmp-{name}.pages"));
        let file = BufWriter::with_capacity(1 << 20, File::create(&tmp).ok()?);
        Some(Writer {
            cache: self.clone(),
            name,
            tmp,
            file,
            meta: EntryMeta {
                execution_id: first.execution_id.clone(),
                query_id: first.query_id,
                columns: read.columns.clone(),
                filters: read.filters.clone(),
                sort_by: read.sort_by.clone(),
                offset,
                rows: 0,
                complete: false,
                total_row_count: first.metadata.as_ref().and_then(|m| m.total_row_count),
                bytes: 0,
                first_column: first
                    .metadata
                    .as_ref()
                    .and_then(|m| m.column_names.first().cloned()),
            },
        })
    }

    /// Removes the least recently used entries until the account holds at most `max_bytes`
    /// of pages, and leftovers of writes that never finished (older than an hour).
    fn evict(&self) {
        let mut all = self.metas();
        all.sort_by_key(|e| e.1.last_used);
        let mut total: u64 = all.iter().map(|(_, e)| e.meta.bytes).sum();
        for (path, e) in all {
            if total <= self.max_bytes {
                break;
            }
            let _ = fs::remove_file(path.with_extension("pages"));
            let _ = fs::remove_file(&path);
            total -= e.meta.bytes;
        }
        let hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
        for f in fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let old = f
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < hour_ago);
            if old && f.file_name().to_string_lossy().starts_with(".tmp-") {
                let _ = fs::remove_file(f.path());
            }
        }
    }
}

/// An entry found for a read.
#[derive(Debug)]
pub struct Hit {
    pages: PathBuf,
    /// What the entry holds.
    pub meta: EntryMeta,
    /// How it serves the read.
    pub serve: Serve,
}

impl Hit {
    /// Hands the entry's pages to `emit`, in order, each cut to the rows the read asked for,
    /// until the rows run out or `emit` returns false. Errors: an unreadable entry
    /// (`InvalidResponse`), which the caller reads from Dune instead.
    pub fn serve(&self, emit: &mut dyn FnMut(Page) -> bool) -> crate::Result<()> {
        let bad = |e: std::io::Error| crate::Error::InvalidResponse(format!("result cache: {e}"));
        let mut file = BufReader::new(File::open(&self.pages).map_err(bad)?);
        let (mut skip, mut left) = match self.serve {
            Serve::Rows { skip, limit } => (skip, limit),
            Serve::Unfiltered => (0, None),
        };
        let mut head = [0u8; 16];
        let mut held = 0u64;
        while left != Some(0) {
            match file.read_exact(&mut head) {
                // the end: every row the entry says it holds must have been there
                Err(e)
                    if e.kind() == std::io::ErrorKind::UnexpectedEof && held == self.meta.rows =>
                {
                    break;
                }
                Err(e) => return Err(bad(e)),
                Ok(()) => {}
            }
            let len = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
            let keep = u64::from_le_bytes(head[8..].try_into().expect("8 bytes"));
            let mut body = vec![0u8; len as usize];
            file.read_exact(&mut body).map_err(bad)?;
            let mut page = Page::from_json(body)?;
            page.rows.truncate(keep as usize);
            held += page.rows.len() as u64;
            let dropped = skip.min(page.rows.len() as u64);
            page.rows.skip(dropped as usize);
            skip -= dropped;
            if let Some(l) = left.as_mut() {
                page.rows.truncate(*l as usize);
                *l -= page.rows.len() as u64;
            }
            if !page.rows.is_empty() && !emit(page) {
                break;
            }
        }
        Ok(())
    }
}

impl Hit {
    /// Removes a damaged entry.
    pub fn discard(&self) {
        let _ = fs::remove_file(self.pages.with_extension("meta"));
        let _ = fs::remove_file(&self.pages);
    }
}

/// Writes the pages of one read into a new entry, which becomes visible at [`Writer::finish`].
pub struct Writer {
    cache: ResultCache,
    name: String,
    tmp: PathBuf,
    file: BufWriter<File>,
    meta: EntryMeta,
}

impl Writer {
    /// Appends a page as handed to the reader (its rows kept). False once the entry would
    /// pass the account's bound or the disk refused: the entry is then dropped.
    pub fn append(&mut self, page: &Page) -> bool {
        let body = page.rows.body().as_bytes();
        self.meta.bytes += 16 + body.len() as u64;
        if self.meta.bytes > self.cache.max_bytes {
            return false;
        }
        let kept = page.rows.len() as u64;
        let written = self
            .file
            .write_all(&(body.len() as u64).to_le_bytes())
            .and_then(|_| self.file.write_all(&kept.to_le_bytes()))
            .and_then(|_| self.file.write_all(body));
        self.meta.rows += kept;
        // the rows reach the result's end when Dune says no page follows and none was cut
        self.meta.complete = page.next_offset.is_none() && page.rows.all_kept();
        written.is_ok()
    }

    /// Makes the entry visible, then keeps the account within its bound.
    pub fn finish(mut self) {
        let pages = self.cache.dir.join(format!("{}.pages", self.name));
        let meta = self.cache.dir.join(format!("{}.meta", self.name));
        // not synced (a read would wait for the disk): an entry left short or zeroed by a
        // crash is caught when served (its length, its pages, its row count) and dropped
        let done = self.file.flush().is_ok()
            && fs::rename(&self.tmp, &pages).is_ok()
            && serde_json::to_vec(&self.meta)
                .ok()
                .is_some_and(|json| write_atomic(&meta, &json).is_ok());
        if !done {
            let _ = fs::remove_file(&self.tmp);
            let _ = fs::remove_file(&pages);
        }
        self.cache.evict();
    }

    /// Drops the entry.
    pub fn abandon(self) {
        let _ = fs::remove_file(&self.tmp);
    }

    /// The execution the entry is of.
    pub fn execution_id(&self) -> &str {
        &self.meta.execution_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(filters: Option<&str>, offset: u64, rows: u64, complete: bool) -> EntryMeta {
        EntryMeta {
            execution_id: "01HKZJ2683PHF9Q9PHHQ8FW4Q1".into(),
            query_id: Some(1),
            columns: Some(vec!["a".into(), "b".into()]),
            filters: filters.map(str::to_string),
            sort_by: None,
            offset,
            rows,
            complete,
            total_row_count: Some(rows),
            bytes: 100,
            first_column: None,
        }
    }

    fn read(columns: &[&str], filters: Option<&str>) -> Read {
        Read {
            columns: Some(columns.iter().map(|c| c.to_string()).collect()),
            filters: filters.map(str::to_string),
            ..Read::default()
        }
    }

    #[test]
    fn narrower_reads_are_served_and_wider_ones_are_not() {
        let whole = entry(None, 0, 10, true);
        let rows = |skip, limit| Some(Serve::Rows { skip, limit });
        // the same request, fewer columns, a limit, an offset
        assert_eq!(
            serves(&whole, &read(&["a", "b"], None), 0, None),
            rows(0, None)
        );
        assert_eq!(
            serves(&whole, &read(&["b"], None), 3, Some(2)),
            rows(3, Some(2))
        );
        // a filter the entry did not have: the whole result, filtered by the reader
        assert_eq!(
            serves(&whole, &read(&["a"], Some("\"a\" = 1")), 0, Some(1)),
            Some(Serve::Unfiltered)
        );
        // a column the entry lacks, all columns, a sort it does not have, a sample
        assert_eq!(serves(&whole, &read(&["c"], None), 0, None), None);
        assert_eq!(serves(&whole, &Read::default(), 0, None), None);
        let sorted = Read {
            sort_by: Some("\"a\" asc".into()),
            ..read(&["a"], None)
        };
        assert_eq!(serves(&whole, &sorted, 0, None), None);
        let sample = Read {
            sample_count: Some(5),
            ..read(&["a"], None)
        };
        assert_eq!(serves(&whole, &sample, 0, None), None);
    }

    #[test]
    fn a_partial_entry_serves_only_the_rows_it_holds() {
        let first_five = entry(Some("\"a\" = 1"), 0, 5, false);
        let f = Some("\"a\" = 1");
        assert!(serves(&first_five, &read(&["a"], f), 0, Some(5)).is_some());
        assert!(serves(&first_five, &read(&["a"], f), 2, Some(3)).is_some());
        assert_eq!(serves(&first_five, &read(&["a"], f), 2, Some(4)), None);
        assert_eq!(serves(&first_five, &read(&["a"], f), 0, None), None);
        // another filter: a filtered entry is never a superset
        assert_eq!(
            serves(&first_five, &read(&["a"], Some("\"a\" = 2")), 0, Some(1)),
            None
        );
        // rows before the entry's offset are not held
        let later = entry(f, 3, 5, true);
        assert_eq!(serves(&later, &read(&["a"], f), 0, Some(1)), None);
    }
}
