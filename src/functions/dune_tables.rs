use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use crate::functions::timestamp;
use dune_api::Upload;
use pgrx::JsonB;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;

/// The most tables listed.
const MAX_TABLES: usize = 100_000;

/// A time Dune writes in RFC 3339 as a timestamptz.
fn time_of(v: Option<&str>) -> Option<TimestampWithTimeZone> {
    let ms = dune_api::parse_rfc3339_ms(v?)?;
    timestamp(u64::try_from(ms).ok()? * 1000)
}

/// GET /v1/uploads: the account's uploaded tables, one row each: the full name
/// (`dune.<namespace>.<table>`), privacy, size in bytes, times, and the columns as Dune lists
/// them (`[{"name", "type", "nullable"}]`).
// The row type must be spelled out here for pgrx to name the SQL columns.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_unsafe)]
fn dune_tables() -> TableIterator<
    'static,
    (
        name!(full_name, String),
        name!(is_private, Option<bool>),
        name!(size, Option<i64>),
        name!(created_at, Option<TimestampWithTimeZone>),
        name!(updated_at, Option<TimestampWithTimeZone>),
        name!(columns, Option<JsonB>),
    ),
> {
    let run = || -> FdwResult<Vec<Upload>> {
        let config = connection::for_functions()?;
        blocking::run(config, |c| c.uploads(MAX_TABLES))
    };
    let rows = run().or_raise();
    TableIterator::new(rows.into_iter().map(|t| {
        (
            t.full_name.clone(),
            t.is_private,
            t.size_bytes,
            time_of(t.created_at.as_deref()),
            time_of(t.updated_at.as_deref()),
            t.columns_json.clone().map(JsonB),
        )
    }))
}
