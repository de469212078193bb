use crate::backend::error::{FdwResult, OrRaise};
use crate::backend::jsonb::JsonbDatum;
use crate::backend::waits::{DEFAULT_WAIT, wait_of};
use crate::functions::jsonb_rows::RowStream;
use crate::functions::params_arg;
use dune_api::{QueryId, ResultSource};
use pgrx::JsonB;
use pgrx::datum::Interval;
use pgrx::prelude::*;

/// GET /v1/query/{query_id}/results: the rows of the query's latest result (for `params`, sent
/// as params.<name>, when given), every page, without running anything.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_latest(
    query_id: Option<i64>,
    params: default!(Option<JsonB>, "NULL"),
) -> SetOfIterator<'static, JsonbDatum> {
    latest(query_id, params, None)
}

/// The latest result, as `dune_latest(query_id, params)`, unless it ended more than `max_age`
/// ago or there is none: then the query is executed (with `params`), waited for and read, as
/// dune-client's `get_latest_result(max_age_hours)` does. Opt-in: an execution costs credits.
#[pg_extern(volatile, parallel_unsafe, name = "dune_latest")]
fn dune_latest_max_age(
    query_id: Option<i64>,
    params: Option<JsonB>,
    max_age: Option<Interval>,
) -> SetOfIterator<'static, JsonbDatum> {
    latest(query_id, params, max_age)
}

fn latest(
    query_id: Option<i64>,
    params: Option<JsonB>,
    max_age: Option<Interval>,
) -> SetOfIterator<'static, JsonbDatum> {
    let Some(query_id) = query_id else {
        return SetOfIterator::empty();
    };
    let run = || -> FdwResult<RowStream> {
        let source = ResultSource::Latest {
            query: QueryId::try_from(query_id)?,
            params: params_arg(params)?,
            max_age: max_age.map(wait_of).transpose()?,
            performance: None,
        };
        RowStream::start(source, DEFAULT_WAIT)
    };
    SetOfIterator::new(run().or_raise())
}
