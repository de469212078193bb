use crate::blocking;
use crate::connection;
use crate::error::{FdwResult, OrRaise};
use pgrx::JsonB;
use pgrx::prelude::*;
use serde_json::Value;

/// GET /v1/execution/{execution_id}/status: the status object as Dune returns it.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_status(execution_id: Option<&str>) -> Option<JsonB> {
    let id = execution_id?.to_string();
    let run = || -> FdwResult<JsonB> {
        let config = connection::for_functions()?;
        let status = blocking::run(config, move |c| c.status(&id))?;
        Ok(JsonB(Value::Object(status.raw)))
    };
    Some(run().or_raise())
}
