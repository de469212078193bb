//! The Dune calls this backend has in flight, published for other sessions: each backend keeps
//! a small JSON file `pg_stat_tmp/dune_fdw.<pid>.json` in the data directory while it has calls
//! in flight, rewritten when a state changes (and at most once a second for row counts), and
//! removed when the calls end or the backend exits. `dune_in_flight()` reads them all. Files
//! rather than shared memory, so that the extension needs no shared_preload_libraries.

use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often row counts are republished.
const ROWS_EVERY: Duration = Duration::from_secs(1);

/// One call: an execution followed, or a result read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Call {
    pub execution_id: Option<String>,
    pub query_id: Option<u64>,
    pub state: Option<String>,
    pub queue_position: Option<u64>,
    /// Unix microseconds.
    pub started_at: u64,
    pub state_since: u64,
    pub rows_read: u64,
    pub pages_read: u64,
    /// What the execution cost, once Dune says (`execution_cost_credits`).
    #[serde(default)]
    pub cost_credits: Option<f64>,
}

/// The file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Published {
    pub pid: i32,
    /// The role running the calls, and when the postmaster started (a file from an earlier
    /// server run is ignored).
    pub role: u32,
    pub postmaster_start: i64,
    pub calls: Vec<Call>,
}

struct Registry {
    calls: BTreeMap<u64, Call>,
    next_id: u64,
    written: Option<Instant>,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = const {
        RefCell::new(Registry { calls: BTreeMap::new(), next_id: 1, written: None })
    };
}

pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

const PREFIX: &str = "dune_fdw.";
const SUFFIX: &str = ".json";

fn directory() -> PathBuf {
    PathBuf::from("pg_stat_tmp") // backends run in the data directory
}

fn file() -> PathBuf {
    // SAFETY: MyProcPid is set once at backend start; read on the backend thread.
    let pid = unsafe { pgrx::pg_sys::MyProcPid };
    directory().join(format!("{PREFIX}{pid}{SUFFIX}"))
}

/// Every call published by a live backend of this server run, sorted by backend and start:
/// files of backends gone (no `/proc/<pid>`) or of an earlier postmaster are skipped, and so
/// are other roles' calls unless `see_all`.
pub fn read_all(me: u32, see_all: bool) -> Vec<(Published, Call)> {
    // SAFETY: PgStartTime is set once by the postmaster; read on the backend thread.
    let started = unsafe { pgrx::pg_sys::PgStartTime };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(directory())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(PREFIX) && name.ends_with(SUFFIX)) {
            continue;
        }
        let Some(doc) = std::fs::read(entry.path())
            .ok()
            .and_then(|text| serde_json::from_slice::<Published>(&text).ok())
        else {
            continue;
        };
        let alive = std::path::Path::new(&format!("/proc/{}", doc.pid)).exists();
        if !alive || doc.postmaster_start != started || !(see_all || doc.role == me) {
            continue;
        }
        for call in &doc.calls {
            let head = Published {
                calls: Vec::new(),
                ..doc.clone()
            };
            out.push((head, call.clone()));
        }
    }
    out.sort_by_key(|(doc, c)| (doc.pid, c.started_at));
    out
}

/// A new call's id, for [`publish`] and [`end`]; nothing is published yet.
pub fn new_id() -> u64 {
    REGISTRY.with_borrow_mut(|r| {
        let id = r.next_id;
        r.next_id += 1;
        id
    })
}

/// Publishes a call as it is now: at once when `urgent` (a state change), else at most once a
/// second (row counts).
pub fn publish(id: u64, call: Call, urgent: bool) {
    let write_now = REGISTRY.with_borrow_mut(|r| {
        r.calls.insert(id, call);
        urgent || r.written.is_none_or(|w| w.elapsed() >= ROWS_EVERY)
    });
    if write_now {
        write();
    }
}

/// The call ended.
pub fn end(id: u64) {
    let had = REGISTRY.with_borrow_mut(|r| r.calls.remove(&id).is_some());
    if had {
        write();
    }
}

/// Publishes the calls (or removes the file when there are none). Errors are ignored: this is
/// a courtesy to other sessions and must never fail a query.
fn write() {
    let calls: Vec<Call> = REGISTRY.with_borrow_mut(|r| {
        r.written = Some(Instant::now());
        r.calls.values().cloned().collect()
    });
    let path = file();
    if calls.is_empty() {
        let _ = std::fs::remove_file(&path);
        return;
    }
    // SAFETY: plain reads of backend globals on the backend thread.
    let (pid, role, postmaster_start) = unsafe {
        (
            pgrx::pg_sys::MyProcPid,
            pgrx::pg_sys::GetUserId().to_u32(),
            pgrx::pg_sys::PgStartTime,
        )
    };
    let doc = Published {
        pid,
        role,
        postmaster_start,
        calls,
    };
    let Ok(text) = serde_json::to_vec(&doc) else {
        return;
    };
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, &path);
    }
}

/// Removes this backend's file (at exit).
pub fn remove_file() {
    let _ = std::fs::remove_file(file());
}
