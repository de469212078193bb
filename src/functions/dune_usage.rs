use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwError, FdwResult, OrRaise};
use pgrx::datum::Date;
use pgrx::prelude::*;
use serde_json::Value;

/// A date argument as Dune's `YYYY-MM-DD`; 22023 for infinity or a year outside 1 to 9999.
fn iso(d: Date, what: &str) -> FdwResult<String> {
    let bad = || {
        FdwError::InvalidArgument(format!(
            "{what} must be a date from 0001-01-01 to 9999-12-31"
        ))
    };
    if d.is_infinity() || d.is_neg_infinity() || !(1..=9999).contains(&d.year()) {
        return Err(bad());
    }
    Ok(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
}

/// A `YYYY-MM-DD` text as a date (None if Dune sent something else).
fn date_of(v: Option<&Value>) -> Option<Date> {
    let t = v?.as_str()?;
    let (y, rest) = t.get(..10)?.split_once('-')?;
    let (m, d) = rest.split_once('-')?;
    Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok()
}

/// POST /v1/usage: the account's billing periods between `start_date` and `end_date` (both
/// optional), one row each, with the credits used and included, and the storage used and
/// allowed (bytes). Costs no credits.
// The row type must be spelled out here for pgrx to name the SQL columns.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_unsafe)]
fn dune_usage(
    start_date: default!(Option<Date>, "NULL"),
    end_date: default!(Option<Date>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(start_date, Option<Date>),
        name!(end_date, Option<Date>),
        name!(credits_used, Option<f64>),
        name!(credits_included, Option<f64>),
        name!(bytes_used, Option<i64>),
        name!(bytes_allowed, Option<i64>),
    ),
> {
    let run = || -> FdwResult<Value> {
        let start = start_date.map(|d| iso(d, "start_date")).transpose()?;
        let end = end_date.map(|d| iso(d, "end_date")).transpose()?;
        if let (Some(s), Some(e)) = (&start, &end)
            && s > e
        {
            return Err(FdwError::InvalidArgument(format!(
                "start_date ({s}) is after end_date ({e})"
            )));
        }
        let config = connection::for_functions()?;
        blocking::run(config, move |c| c.usage(start.as_deref(), end.as_deref()))
    };
    let usage = run().or_raise();
    let number =
        |v: Option<&Value>| v.and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()));
    let (used, allowed) = (
        number(usage.get("bytes_used")).map(|n| n as i64),
        number(usage.get("bytes_allowed")).map(|n| n as i64),
    );
    let periods = usage
        .get("billing_periods")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    TableIterator::new(periods.into_iter().map(move |p| {
        (
            date_of(p.get("start_date")),
            date_of(p.get("end_date")),
            number(p.get("credits_used")),
            number(p.get("credits_included")),
            used,
            allowed,
        )
    }))
}
