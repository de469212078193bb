use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use dune_api::ExecutionId;
use pgrx::prelude::*;

/// POST /v1/execution/{execution_id}/cancel: whether Dune cancelled the execution (false when
/// it had already finished).
#[pg_extern(volatile, parallel_unsafe)]
fn dune_cancel(execution_id: Option<&str>) -> Option<bool> {
    let run = |id: &str| -> FdwResult<bool> {
        let id = ExecutionId::try_from(id)?;
        let config = connection::for_functions()?;
        blocking::run(config, move |c| c.cancel_execution(&id))
    };
    Some(run(execution_id?).or_raise())
}
