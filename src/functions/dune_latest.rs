use crate::backend::error::{FdwResult, OrRaise};
use crate::backend::jsonb::JsonbDatum;
use crate::backend::waits::DEFAULT_WAIT;
use crate::functions::jsonb_rows::RowStream;
use crate::functions::params_arg;
use dune_api::{QueryId, ResultSource};
use pgrx::JsonB;
use pgrx::prelude::*;

/// GET /v1/query/{query_id}/results: the rows of the query's latest result (for `params`, sent
/// as params.<name>, when given), every page, without running anything.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_latest(
    query_id: Option<i64>,
    params: default!(Option<JsonB>, "NULL"),
) -> SetOfIterator<'static, JsonbDatum> {
    let Some(query_id) = query_id else {
        return SetOfIterator::empty();
    };
    let run = || -> FdwResult<RowStream> {
        let source = ResultSource::Latest {
            query: QueryId::try_from(query_id)?,
            params: params_arg(params)?,
            max_age: None,
            performance: None,
        };
        RowStream::start(source, DEFAULT_WAIT)
    };
    SetOfIterator::new(run().or_raise())
}
