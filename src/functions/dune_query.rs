use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use dune_api::QueryId;
use pgrx::JsonB;
use pgrx::prelude::*;

/// GET /v1/query/{query_id}: the saved query as Dune describes it (name, description, tags,
/// version, parameters with their types and defaults, query_sql, is_private, is_archived,
/// owner).
#[pg_extern(volatile, parallel_unsafe)]
fn dune_query(query_id: Option<i64>) -> Option<JsonB> {
    let run = |id: i64| -> FdwResult<JsonB> {
        let query = QueryId::try_from(id)?;
        let config = connection::for_functions()?;
        Ok(JsonB(blocking::run(config, move |c| c.get_query(query))?))
    };
    Some(run(query_id?).or_raise())
}
