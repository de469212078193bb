use crate::blocking;
use crate::connection;
use crate::error::{FdwResult, OrRaise};
use crate::functions::json_arg;
use pgrx::prelude::*;

/// POST /v1/query/{query_id}/execute: starts an execution of a saved query and returns its id.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_execute(
    query_id: Option<i64>,
    params: default!(Option<pgrx::JsonB>, "NULL"),
    performance: default!(Option<&str>, "NULL"),
) -> Option<String> {
    let query_id = query_id?;
    let run = || -> FdwResult<String> {
        let params = json_arg(params);
        let performance = performance.map(str::to_string);
        let config = connection::for_functions()?;
        blocking::run(config, move |c| {
            c.execute_query(query_id, params.as_ref(), performance.as_deref())
        })
    };
    Some(run().or_raise())
}
