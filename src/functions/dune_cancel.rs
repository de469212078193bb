use crate::blocking;
use crate::connection;
use crate::error::{FdwResult, OrRaise};
use pgrx::prelude::*;

/// POST /v1/execution/{execution_id}/cancel: whether Dune cancelled the execution (false when
/// it had already finished).
#[pg_extern(volatile, parallel_unsafe)]
fn dune_cancel(execution_id: Option<&str>) -> Option<bool> {
    let id = execution_id?.to_string();
    let run = || -> FdwResult<bool> {
        let config = connection::for_functions()?;
        blocking::run(config, move |c| c.cancel_execution(&id))
    };
    Some(run().or_raise())
}
