use crate::connection;
use crate::error::{FdwResult, OrRaise};
use crate::functions::{DEFAULT_WAIT, json_arg};
use crate::rows::{RowStream, spec};
use dune_client::Source;
use dune_client::scan::ScanSource;
use pgrx::JsonB;
use pgrx::prelude::*;

/// GET /v1/query/{query_id}/results: the rows of the query's latest result (for `params`, sent
/// as params.<name>, when given), every page, without running anything.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_latest(
    query_id: Option<i64>,
    params: default!(Option<JsonB>, "NULL"),
) -> SetOfIterator<'static, crate::rows::JsonbDatum> {
    let Some(query_id) = query_id else {
        return SetOfIterator::empty();
    };
    let run = || -> FdwResult<RowStream> {
        let params = json_arg(params);
        Source::latest(query_id, params.as_ref())?; // checks the arguments before anything is sent
        let config = connection::for_functions()?;
        let source = ScanSource::Latest {
            query_id,
            params,
            max_age: None,
            performance: None,
        };
        let spec = spec(&config, source, DEFAULT_WAIT);
        RowStream::start(config, spec)
    };
    SetOfIterator::new(run().or_raise())
}
