use crate::backend::blocking;
use crate::backend::catalog::def_elems;
use crate::backend::connection;
use crate::backend::error::{FdwError, FdwResult, OrRaise};
use crate::functions::writes;
use dune_api::DuneType;
use dune_api::{TableName, UploadColumn};
use pg_format::{UploadType, column_type};
use pgrx::prelude::*;
use pgrx::{JsonB, PgRelation, pg_sys};
use serde_json::Value;

/// The columns of a JSON schema: a list of `{"name", "type", "nullable"}` objects, as Dune's
/// `schema` (API reference §9); `nullable` defaults to true.
fn columns_of_json(v: &Value) -> FdwResult<Vec<UploadColumn>> {
    let bad = |why: String| FdwError::InvalidArgument(format!("columns: {why}"));
    let list = v.as_array().ok_or_else(|| {
        bad("must be a JSON list such as [{\"name\": \"address\", \"type\": \"varbinary\"}, {\"name\": \"label\", \"type\": \"varchar\", \"nullable\": false}]".into())
    })?;
    list.iter()
        .enumerate()
        .map(|(i, c)| {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("item {i} has no \"name\"")))?;
            let kind = c
                .get("type")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("column \"{name}\" has no \"type\"")))?;
            let nullable = match c.get("nullable") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(bad(format!(
                        "\"nullable\" of column \"{name}\" must be true or false, not {other}"
                    )));
                }
            };
            Ok(UploadColumn::new(name, kind, nullable)?)
        })
        .collect()
}

/// The columns of a relation (a table, view or foreign table) by `pg_format::column_type` (a
/// column's `dune_type` option, else the type map); a foreign table's columns
/// keep their `column_name` and leave out parameter columns; NOT NULL columns are not
/// nullable. A NOTICE names the numeric columns that become double.
fn columns_of_relation(rel: &PgRelation) -> FdwResult<Vec<UploadColumn>> {
    let mut out = Vec::new();
    let mut rounded = Vec::new();
    for att in rel.tuple_desc().iter().filter(|a| !a.is_dropped()) {
        // SAFETY: the relation is open and locked; its column options and base types are
        // read from the catalogs (a domain's base type with its typmod).
        let (opts, base, typmod, type_name) = unsafe {
            let opts = def_elems(pg_sys::GetForeignColumnOptions(rel.oid(), att.num()));
            let mut typmod = att.type_mod();
            let base = pg_sys::getBaseTypeAndTypmod(att.type_oid().value(), &mut typmod);
            let type_name =
                std::ffi::CStr::from_ptr(pg_sys::format_type_be(att.type_oid().value()))
                    .to_string_lossy()
                    .into_owned();
            (opts, base, typmod, type_name)
        };
        let option = |k: &str| opts.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if option("param").is_some() {
            continue; // a query parameter of a foreign table, not a column of its rows
        }
        // a foreign table's column named otherwise on Dune keeps Dune's name
        let name = option("column_name").unwrap_or_else(|| att.name().to_string());
        let name = name.as_str();
        let declared = option("dune_type").map(|t| DuneType::parse(&t));
        let dune = column_type(base.to_u32(), typmod, declared.as_ref(), None)
            .ok_or_else(|| FdwError::Unsupported {
                message: format!("column \"{name}\" of \"{}\" has type {type_name}, which has no counterpart in Dune's uploaded tables", rel.name()),
                hint: format!("Dune's upload types are {}; create the table from a view that casts the column, or give the columns as jsonb.", dune_api::UPLOAD_TYPES.join(", ")),
            })?;
        if dune == UploadType::Double && base.to_u32() == pg_format::oid::NUMERIC {
            rounded.push(name.to_string());
        }
        out.push(UploadColumn::new(name, dune.name(), !att.attnotnull)?);
    }
    if !rounded.is_empty() {
        pgrx::notice!(
            "numeric column(s) {} become double on Dune (15 to 17 significant digits); declare them numeric(p, 0) for int256, or give the columns as jsonb to choose",
            rounded.join(", ")
        );
    }
    Ok(out)
}

fn create(
    namespace: Option<&str>,
    table_name: Option<&str>,
    columns: FdwResult<Vec<UploadColumn>>,
    is_private: Option<bool>,
    description: Option<&str>,
) -> FdwResult<JsonB> {
    let missing = |what: &str| FdwError::InvalidArgument(format!("{what} must not be NULL"));
    let name = TableName::new(
        namespace.ok_or_else(|| missing("namespace"))?,
        table_name.ok_or_else(|| missing("table_name"))?,
    )?;
    let columns = columns?;
    let description = description.map(str::to_string);
    let config = connection::for_functions()?;
    let private = is_private.unwrap_or(true);
    let reply = blocking::run(config, move |c| {
        c.create_table(&name, &columns, description.as_deref(), private)
    });
    match writes(reply) {
        Err(FdwError::Api(e)) if e.maybe_executed() => Err(FdwError::MaybeCreated(e)),
        other => other.map(JsonB),
    }
}

/// POST /v1/uploads: creates an empty Dune table `dune.<namespace>.<table_name>` with the
/// columns of a JSON schema (`[{"name": "address", "type": "varbinary", "nullable": false},
/// ...]`, types among varchar, varbinary, uint256, int256, bigint, integer, double, boolean,
/// timestamp, date); Dune's answer (`full_name`, `example_query`, `message`). Names are
/// checked before anything is sent. Needs a Read/Write key; not sent twice.
#[pg_extern(volatile, parallel_unsafe, name = "dune_create_table")]
fn dune_create_table_json(
    namespace: Option<&str>,
    table_name: Option<&str>,
    columns: Option<JsonB>,
    is_private: default!(Option<bool>, "true"),
    description: default!(Option<&str>, "NULL"),
) -> JsonB {
    let columns = match columns {
        Some(JsonB(v)) => columns_of_json(&v),
        None => Err(FdwError::InvalidArgument("columns must not be NULL".into())),
    };
    create(namespace, table_name, columns, is_private, description).or_raise()
}

/// dune_create_table with the columns of a local table, view or foreign table (`'labels'::regclass`),
/// by the declared type map: boolean → boolean, smallint/integer → integer, bigint → bigint,
/// real/double → double, numeric(p,0) → int256, other numeric → double, text-like → varchar,
/// bytea → varbinary, timestamp(tz) → timestamp, date → date; a column's `dune_type` option
/// wins; NOT NULL columns are not nullable.
#[pg_extern(volatile, parallel_unsafe, name = "dune_create_table")]
fn dune_create_table_relation(
    namespace: Option<&str>,
    table_name: Option<&str>,
    columns: Option<PgRelation>,
    is_private: default!(Option<bool>, "true"),
    description: default!(Option<&str>, "NULL"),
) -> JsonB {
    let columns = match &columns {
        Some(rel) => columns_of_relation(rel),
        None => Err(FdwError::InvalidArgument("columns must not be NULL".into())),
    };
    create(namespace, table_name, columns, is_private, description).or_raise()
}
