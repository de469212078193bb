use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use crate::backend::waits::wait_of;
use dune_api::ExecutionId;
use pgrx::JsonB;
use pgrx::datum::Interval;
use pgrx::prelude::*;
use serde_json::Value;

/// Polls the status until the execution reaches a terminal state or `timeout` passes, and
/// returns the last status. Polls start 200 ms apart and slow down to 5 s.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_wait(
    execution_id: Option<&str>,
    timeout: default!(Interval, "'30 minutes'"),
) -> Option<JsonB> {
    let run = |id: &str| -> FdwResult<JsonB> {
        let wait = wait_of(timeout)?;
        let id = ExecutionId::try_from(id)?;
        let config = connection::for_functions()?;
        let status = blocking::run(config, move |c| c.wait(&id, wait))?;
        Ok(JsonB(Value::Object(status.raw)))
    };
    Some(run(execution_id?).or_raise())
}
