use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use crate::functions::timestamp;
use pgrx::JsonB;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use serde_json::Value;

/// The most tables listed.
const MAX_TABLES: usize = 100_000;

/// A time Dune writes in RFC 3339 as a timestamptz.
fn time_of(v: Option<&Value>) -> Option<TimestampWithTimeZone> {
    let ms = dune_api::parse_rfc3339_ms(v?.as_str()?)?;
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
    let run = || -> FdwResult<Vec<Value>> {
        let config = connection::for_functions()?;
        blocking::run(config, |c| c.list_tables(MAX_TABLES))
    };
    let rows = run().or_raise();
    TableIterator::new(rows.into_iter().filter_map(|t| {
        let size = match t.get("table_size_bytes") {
            Some(Value::String(s)) => s.parse().ok(),
            Some(Value::Number(n)) => n.as_i64(),
            _ => None,
        };
        Some((
            t.get("full_name")?.as_str()?.to_string(),
            t.get("is_private").and_then(Value::as_bool),
            size,
            time_of(t.get("created_at")),
            time_of(t.get("updated_at")),
            t.get("columns").cloned().map(JsonB),
        ))
    }))
}
