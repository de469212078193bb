use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use crate::functions::timestamp;
use dune_api::{CacheEntry, ResultCache};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;

/// The result cache of the caller's account on the server `dune_fdw.server` (None when the
/// server's option `cache` is off).
fn account_cache() -> FdwResult<Option<ResultCache>> {
    let config = connection::for_functions()?;
    Ok(config
        .cache
        .as_ref()
        .map(|settings| ResultCache::for_account(settings, &config)))
}

/// What the result cache holds for the caller's Dune account (its key on the server
/// `dune_fdw.server`), the most recently used first: one row per kept read of an execution,
/// with the request it answered (columns, filters, sort), its rows and bytes on disk, whether
/// it reaches the result's end, and when it was last written or served.
// The row type must be spelled out here for pgrx to name the SQL columns.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_safe)]
fn dune_cache() -> TableIterator<
    'static,
    (
        name!(execution_id, String),
        name!(query_id, Option<i64>),
        name!(rows, i64),
        name!(bytes, i64),
        name!(complete, bool),
        name!(columns, Option<String>),
        name!(filters, Option<String>),
        name!(sort_by, Option<String>),
        name!(last_used, Option<TimestampWithTimeZone>),
    ),
> {
    let entries = account_cache()
        .or_raise()
        .map(|c| c.entries())
        .unwrap_or_default();
    TableIterator::new(entries.into_iter().map(|CacheEntry { meta, last_used }| {
        let micros = last_used
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        (
            meta.execution_id,
            meta.query_id.map(|q| q as i64),
            meta.rows as i64,
            meta.bytes as i64,
            meta.complete,
            meta.columns.map(|c| c.join(",")),
            meta.filters,
            meta.sort_by,
            timestamp(micros),
        )
    }))
}

/// Empties the result cache of the caller's Dune account (on the server `dune_fdw.server`);
/// the number of entries removed. The next reads go to Dune again.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_cache_clear() -> i64 {
    account_cache().or_raise().map_or(0, |c| c.clear() as i64)
}
