//! The SQL functions, one file each, named after the function. They parse their arguments
//! into the typed request model of `dune_api` (checked once, here, before anything is sent)
//! and run it through `backend`.

pub mod dune_cache;
pub mod dune_cancel;
pub mod dune_execute;
pub mod dune_execute_sql;
pub mod dune_in_flight;
pub mod dune_latest;
pub mod dune_latest_csv;
pub mod dune_results;
pub mod dune_results_csv;
pub mod dune_run;
pub mod dune_status;
pub mod dune_wait;
pub mod jsonb_rows;

use crate::backend::error::FdwResult;
use dune_api::Params;
use pg_format::PG_EPOCH_UNIX_SECS;
use pgrx::JsonB;
use pgrx::datum::TimestampWithTimeZone;

/// A time in microseconds since the Unix epoch as a timestamptz (None out of its range).
pub fn timestamp(unix_micros: u64) -> Option<TimestampWithTimeZone> {
    TimestampWithTimeZone::try_from(unix_micros as i64 - PG_EPOCH_UNIX_SECS * 1_000_000).ok()
}

/// A jsonb `params` argument as checked parameters (SQL NULL and JSON null: none).
pub fn params_arg(v: Option<JsonB>) -> FdwResult<Option<Params>> {
    Ok(Params::from_json(v.map(|j| j.0))?)
}
