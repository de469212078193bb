use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use crate::functions::timestamp;
use pgrx::JsonB;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use serde_json::Value;

/// The most queries listed.
const MAX_QUERIES: usize = 10_000;

/// A time Dune writes in RFC 3339 as a timestamptz.
fn time_of(v: Option<&Value>) -> Option<TimestampWithTimeZone> {
    let ms = dune_api::parse_rfc3339_ms(v?.as_str()?)?;
    timestamp(u64::try_from(ms).ok()? * 1000)
}

/// GET /v1/queries: the queries of the account the key belongs to, one row each, as Dune
/// lists them (an overview; `dune_query(query_id)` has the SQL, parameters and flags).
// The row type must be spelled out here for pgrx to name the SQL columns.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_unsafe)]
fn dune_queries() -> TableIterator<
    'static,
    (
        name!(query_id, i64),
        name!(name, Option<String>),
        name!(owner, Option<String>),
        name!(description, Option<String>),
        name!(tags, Option<JsonB>),
        name!(created_at, Option<TimestampWithTimeZone>),
        name!(updated_at, Option<TimestampWithTimeZone>),
    ),
> {
    let run = || -> FdwResult<Vec<Value>> {
        let config = connection::for_functions()?;
        blocking::run(config, |c| c.query_objects(MAX_QUERIES))
    };
    let rows = run().or_raise();
    TableIterator::new(rows.into_iter().filter_map(|q| {
        let text = |k: &str| q.get(k).and_then(Value::as_str).map(str::to_string);
        let owner = match q.get("owner") {
            Some(Value::Object(o)) => o.get("handle").and_then(Value::as_str).map(str::to_string),
            _ => text("owner"),
        };
        Some((
            q.get("id").or_else(|| q.get("query_id"))?.as_i64()?,
            text("name"),
            owner,
            text("description"),
            q.get("tags").cloned().map(JsonB),
            time_of(q.get("created_at")),
            time_of(q.get("updated_at")),
        ))
    }))
}
