//! Every setting of dune_fdw, registered from `_PG_init`.

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

/// `dune_fdw.server`: the foreign server the dune_* functions use.
pub static SERVER: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"dune"));

/// `dune_fdw.progress`: NOTICEs while a statement waits for Dune.
pub static PROGRESS: GucSetting<bool> = GucSetting::<bool>::new(true);

pub fn init() {
    GucRegistry::define_bool_guc(
        c"dune_fdw.progress",
        c"Report progress with NOTICEs while a statement waits for Dune.",
        c"State changes of executions (queue position, time waited) and rows read, once a \
          statement has waited a second; client_min_messages above notice hides them too.",
        &PROGRESS,
        GucContext::Userset,
        GucFlags::default(),
    );

    GucRegistry::define_string_guc(
        c"dune_fdw.server",
        c"The foreign server the dune_* functions use.",
        c"Name of a server of the dune_fdw wrapper. A second Dune account is a second server; \
          SET dune_fdw.server to use it.",
        &SERVER,
        GucContext::Userset,
        GucFlags::default(),
    );
}

/// The value of `dune_fdw.server` (backend thread only).
pub fn server_name() -> String {
    SERVER
        .get()
        .and_then(|s| s.into_string().ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "dune".to_string())
}

/// The value of `dune_fdw.progress` (backend thread only).
pub fn progress() -> bool {
    PROGRESS.get()
}
