//! The SQL functions, one file each, named after the function.

pub mod dune_cancel;
pub mod dune_execute;
pub mod dune_execute_sql;
pub mod dune_in_flight;
pub mod dune_latest;
pub mod dune_results;
pub mod dune_results_csv;
pub mod dune_run;
pub mod dune_status;
pub mod dune_wait;

use crate::error::{FdwError, FdwResult};
use pgrx::JsonB;
use pgrx::datum::Interval;
use serde_json::Value;
use std::time::Duration;

/// How long Dune runs a query at most (30 minutes); waits default to this.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30 * 60);

/// An interval argument as a wait; months count as 30 days.
pub fn wait_of(timeout: Interval) -> FdwResult<Duration> {
    let micros = timeout.as_micros();
    if micros < 0 {
        return Err(FdwError::InvalidArgument(
            "timeout must not be negative".into(),
        ));
    }
    let micros = u64::try_from(micros)
        .map_err(|_| FdwError::InvalidArgument("timeout is too long".into()))?;
    Ok(Duration::from_micros(micros))
}

pub fn json_arg(v: Option<JsonB>) -> Option<Value> {
    v.map(|j| j.0).filter(|v| !v.is_null())
}
