use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwResult, OrRaise};
use pgrx::JsonB;
use pgrx::prelude::*;
use serde_json::Value;

/// The most queries listed.
const MAX_QUERIES: usize = 10_000;

/// GET /v1/queries: the account's saved queries, one row each.
// The row type must be spelled out here for pgrx to name the SQL columns.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_unsafe)]
fn dune_queries() -> TableIterator<
    'static,
    (
        name!(query_id, i64),
        name!(name, Option<String>),
        name!(owner, Option<String>),
        name!(is_private, Option<bool>),
        name!(is_archived, Option<bool>),
        name!(version, Option<i64>),
        name!(parameters, Option<JsonB>),
        name!(query_sql, Option<String>),
    ),
> {
    let run = || -> FdwResult<Vec<Value>> {
        let config = connection::for_functions()?;
        blocking::run(config, |c| c.query_objects(MAX_QUERIES))
    };
    let rows = run().or_raise();
    TableIterator::new(rows.into_iter().filter_map(|q| {
        let text = |k: &str| q.get(k).and_then(Value::as_str).map(str::to_string);
        let flag = |k: &str| q.get(k).and_then(Value::as_bool);
        Some((
            q.get("query_id")?.as_i64()?,
            text("name"),
            text("owner"),
            flag("is_private"),
            flag("is_archived"),
            q.get("version").and_then(Value::as_i64),
            q.get("parameters").cloned().map(JsonB),
            text("query_sql"),
        ))
    }))
}
