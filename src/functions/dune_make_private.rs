use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use crate::functions::writes;
use dune_api::{QueryAction, QueryId};
use pgrx::prelude::*;

/// POST /v1/query/{query_id}/private (or /unprivate when `private` is false): makes a saved
/// query private or public. True once Dune has done it. Needs a Read/Write key.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_make_private(query_id: i64, private: default!(bool, true)) -> bool {
    let run = || -> FdwResult<bool> {
        let query = QueryId::try_from(query_id)?;
        let action = if private {
            QueryAction::Private
        } else {
            QueryAction::Unprivate
        };
        let config = connection::for_functions()?;
        writes(blocking::run(config, move |c| {
            c.query_action(query, action)
        }))?;
        Ok(true)
    };
    run().or_raise()
}
