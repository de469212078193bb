use crate::blocking;
use crate::connection;
use crate::error::{FdwResult, OrRaise};
use crate::functions::wait_of;
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
    let id = execution_id?.to_string();
    let run = || -> FdwResult<JsonB> {
        let wait = wait_of(timeout)?;
        let config = connection::for_functions()?;
        let status = blocking::run(config, move |c| c.wait(&id, wait, &mut |_| {}))?;
        Ok(JsonB(Value::Object(status.raw)))
    };
    Some(run().or_raise())
}
