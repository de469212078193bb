use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use crate::functions::params_arg;
use dune_api::QueryId;
use pgrx::JsonB;
use pgrx::prelude::*;

/// GET /v1/query/{query_id}/results/csv: the query's latest result (for `params` when given) as
/// CSV, every page under one header line, without running anything. The whole text is one
/// value: for large results prefer dune_latest or a foreign table.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_latest_csv(
    query_id: Option<i64>,
    params: default!(Option<JsonB>, "NULL"),
) -> Option<String> {
    let run = |query_id: i64| -> FdwResult<String> {
        let query = QueryId::try_from(query_id)?;
        let params = params_arg(params)?;
        let config = connection::for_functions()?;
        let page_size = config.page_size;
        blocking::run(config, move |client| {
            client.latest_csv(query, params.as_ref(), page_size)
        })
    };
    Some(run(query_id?).or_raise())
}
