use crate::connection;
use crate::error::{FdwResult, OrRaise};
use crate::functions::json_arg;
use crate::rows::{RowStream, send_pages};
use dune_client::{Pager, Read, Source};
use pgrx::JsonB;
use pgrx::prelude::*;

/// GET /v1/query/{query_id}/results: the rows of the query's latest result (for `params`, sent
/// as params.<name>, when given), every page, without running anything.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_latest(
    query_id: Option<i64>,
    params: default!(Option<JsonB>, "NULL"),
) -> SetOfIterator<'static, JsonB> {
    let Some(query_id) = query_id else {
        return SetOfIterator::empty();
    };
    let run = || -> FdwResult<RowStream> {
        let source = Source::latest(query_id, json_arg(params).as_ref())?;
        let config = connection::for_functions()?;
        let page_size = config.page_size;
        RowStream::start(config, move |client, out| {
            send_pages(
                client,
                Pager::new(source, Read::default(), None, page_size),
                out,
            )
        })
    };
    SetOfIterator::new(run().or_raise())
}
