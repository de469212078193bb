use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use crate::functions::params_arg;
use dune_api::{Performance, QueryId};
use pgrx::prelude::*;

/// POST /v1/query/{query_id}/execute: starts an execution of a saved query and returns its id.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_execute(
    query_id: Option<i64>,
    params: default!(Option<pgrx::JsonB>, "NULL"),
    performance: default!(Option<&str>, "NULL"),
) -> Option<String> {
    let run = |query_id: i64| -> FdwResult<String> {
        let query = QueryId::try_from(query_id)?;
        let params = params_arg(params)?;
        let performance = Performance::from_option(performance)?;
        let config = connection::for_functions()?;
        let id = blocking::run(config, move |c| {
            c.execute_query(query, params.as_ref(), performance.as_ref())
        })?;
        Ok(id.into())
    };
    Some(run(query_id?).or_raise())
}
