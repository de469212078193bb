use crate::backend::blocking;
use crate::backend::connection;
use crate::backend::error::{FdwError, FdwResult, OrRaise};
use crate::functions::writes;
use pgrx::JsonB;
use pgrx::prelude::*;

/// POST /v1/uploads/csv: creates the table `dune.<your namespace>.dataset_<table_name>` (Dune
/// adds the `dataset_` prefix, as dune-client's own end-to-end test shows) from a CSV text with
/// a header row (Dune infers the column types), replacing a table of that name; Dune's answer. Files must stay under 200 MB (API reference §9). Needs a Read/Write key.
#[pg_extern(volatile, parallel_unsafe)]
fn dune_upload_csv(
    table_name: Option<&str>,
    csv: Option<&str>,
    is_private: default!(Option<bool>, "true"),
) -> JsonB {
    let run = || -> FdwResult<JsonB> {
        let missing = |what: &str| FdwError::InvalidArgument(format!("{what} must not be NULL"));
        let table = table_name.ok_or_else(|| missing("table_name"))?.to_string();
        let csv = csv.ok_or_else(|| missing("csv"))?;
        if csv.trim().is_empty() {
            return Err(FdwError::InvalidArgument(
                "csv must have a header row and rows".into(),
            ));
        }
        dune_api::check_name("table name", &table)?;
        let csv = csv.to_string();
        let private = is_private.unwrap_or(true);
        let config = connection::for_functions()?;
        let reply = blocking::run(config, move |c| c.upload_csv(&table, &csv, None, private));
        writes(reply).map(JsonB)
    };
    run().or_raise()
}
