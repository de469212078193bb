use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use dune_api::ExecutionId;
use pgrx::JsonB;
use pgrx::prelude::*;
use serde_json::Value;

/// GET /v1/execution/{execution_id}/status: the status object as Dune returns it.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_status(execution_id: Option<&str>) -> Option<JsonB> {
    let run = |id: &str| -> FdwResult<JsonB> {
        let id = ExecutionId::try_from(id)?;
        let config = connection::for_functions()?;
        let status = blocking::run(config, move |c| c.status(&id))?;
        Ok(JsonB(Value::Object(status.raw)))
    };
    Some(run(execution_id?).or_raise())
}
