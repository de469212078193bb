//! The SQL functions, one file each, named after the function. They parse their arguments
//! into the typed request model of `dune_api` (checked once, here, before anything is sent)
//! and run it through `backend`.

pub mod dune_archive_query;
pub mod dune_cache;
pub mod dune_cancel;
pub mod dune_clear_table;
pub mod dune_create_query;
pub mod dune_create_table;
pub mod dune_drop_table;
pub mod dune_execute;
pub mod dune_execute_sql;
pub mod dune_in_flight;
pub mod dune_latest;
pub mod dune_latest_csv;
pub mod dune_make_private;
pub mod dune_queries;
pub mod dune_query;
pub mod dune_results;
pub mod dune_results_csv;
pub mod dune_run;
pub mod dune_status;
pub mod dune_tables;
pub mod dune_unarchive_query;
pub mod dune_update_query;
pub mod dune_upload_csv;
pub mod dune_usage;
pub mod dune_wait;
pub mod jsonb_rows;

pub use crate::backend::error::writes;
use crate::backend::error::{FdwError, FdwResult};
use dune_api::Params;
use pg_format::PG_EPOCH_UNIX_SECS;
use pgrx::JsonB;
use pgrx::datum::TimestampWithTimeZone;
use serde_json::Value;

/// A time in microseconds since the Unix epoch as a timestamptz (None out of its range).
pub fn timestamp(unix_micros: u64) -> Option<TimestampWithTimeZone> {
    TimestampWithTimeZone::try_from(unix_micros as i64 - PG_EPOCH_UNIX_SECS * 1_000_000).ok()
}

/// A jsonb `parameters` argument as Dune's parameter objects, checked before anything is sent:
/// a JSON list of objects, each with a non-empty `key`, a `type` of text, number, datetime
/// or enum, and a string `value` (API reference §8, `Parameter`). Errors: 22023 naming what
/// was wrong.
pub fn parameters_arg(v: Option<JsonB>) -> FdwResult<Option<Value>> {
    let Some(JsonB(v)) = v else { return Ok(None) };
    let bad = |why: String| FdwError::InvalidArgument(format!("parameters: {why}"));
    let list = v
        .as_array()
        .ok_or_else(|| bad("must be a JSON list of parameter objects".into()))?;
    for (i, p) in list.iter().enumerate() {
        let key = p.get("key").and_then(Value::as_str).unwrap_or("");
        let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
        if key.is_empty() {
            return Err(bad(format!("item {i} has no \"key\"")));
        }
        if !["text", "number", "datetime", "enum"].contains(&kind) {
            return Err(bad(format!(
                "\"{key}\" has type {kind:?}: it must be text, number, datetime or enum"
            )));
        }
        if p.get("value").is_some_and(|v| !v.is_string()) {
            return Err(bad(format!(
                "the value of \"{key}\" must be a string (\"20\", not 20)"
            )));
        }
    }
    Ok(Some(v))
}

/// A jsonb `params` argument as checked parameters (SQL NULL and JSON null: none).
pub fn params_arg(v: Option<JsonB>) -> FdwResult<Option<Params>> {
    Ok(Params::from_json(v.map(|j| j.0))?)
}
