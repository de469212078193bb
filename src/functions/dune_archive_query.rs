use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use crate::functions::writes;
use dune_api::{QueryAction, QueryId};
use pgrx::prelude::*;

/// POST /v1/query/{query_id}/archive: archives a saved query (it no longer runs). True once Dune has done it. Needs a Read/Write key.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_archive_query(query_id: i64) -> bool {
    let run = || -> FdwResult<bool> {
        let query = QueryId::try_from(query_id)?;
        let config = connection::for_functions()?;
        writes(blocking::run(config, move |c| {
            c.query_action(query, QueryAction::Archive)
        }))?;
        Ok(true)
    };
    run().or_raise()
}
