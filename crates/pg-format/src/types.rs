//! Dune (DuneSQL/Trino) column types and the PostgreSQL types they become.

use dune_api::DuneType;

/// The PostgreSQL type for a Dune column type, as IMPORT FOREIGN SCHEMA declares it: strings
/// as text, integers by their width, floats as real or double precision, decimal(p, s) as
/// numeric(p, s), uint256 and int256 as numeric, varbinary as bytea, timestamps with or without
/// time zone, and anything else (json, arrays, maps, rows, time, …) as jsonb.
pub fn postgres_type(dune: &DuneType) -> String {
    match dune {
        t if t.is_text() => "text".into(),
        DuneType::Bigint => "bigint".into(),
        DuneType::Integer => "integer".into(),
        DuneType::Smallint | DuneType::Tinyint => "smallint".into(),
        DuneType::Double => "double precision".into(),
        DuneType::Real => "real".into(),
        DuneType::Decimal { precision, scale } => format!("numeric({precision},{scale})"),
        DuneType::Uint256 | DuneType::Int256 => "numeric".into(),
        DuneType::Boolean => "boolean".into(),
        DuneType::Varbinary => "bytea".into(),
        DuneType::Date => "date".into(),
        DuneType::Timestamp { zoned: true, .. } => "timestamp with time zone".into(),
        DuneType::Timestamp { zoned: false, .. } => "timestamp".into(),
        _ => "jsonb".into(),
    }
}

const NAME_MAX: usize = 63;

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The longest name PostgreSQL keeps (NAMEDATALEN - 1 bytes); longer names are truncated.
fn truncate_name(name: &str, max: usize) -> String {
    name.chars()
        .scan(0, |len, c| {
            *len += c.len_utf8();
            (*len <= max).then_some(c)
        })
        .collect()
}

/// Local column names for Dune's: each at most 63 bytes and distinct from the others. A name
/// that is longer, or that collides with an earlier one once truncated, is shortened and
/// given a `_2`, `_3`, ... suffix; the caller maps it back with `column_name`.
pub fn local_names(names: &[String]) -> Vec<String> {
    let mut taken: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let mut local = truncate_name(name, NAME_MAX);
        let mut n = 1;
        while taken.contains(&local) {
            n += 1;
            let suffix = format!("_{n}");
            local = truncate_name(name, NAME_MAX - suffix.len()) + &suffix;
        }
        taken.push(local);
    }
    taken
}

/// The PostgreSQL type of a column standing for a query parameter of Dune type `kind` (API
/// reference §8): numbers exact, datetimes as timestamps, text and enums as text.
pub fn parameter_type(kind: &str) -> &'static str {
    match kind {
        "number" => "numeric",
        "datetime" => "timestamp",
        _ => "text",
    }
}

/// One column per query parameter (key, Dune type), after the result's: named after the
/// parameter (`param_<key>` when a result column has that name), with `OPTIONS (param
/// '<key>')`.
fn parameter_columns(result: &[String], parameters: &[(String, String)]) -> Vec<String> {
    let mut taken: Vec<String> = local_names(result);
    parameters
        .iter()
        .map(|(key, kind)| {
            let mut local = truncate_name(key, NAME_MAX);
            if taken.contains(&local) {
                local = truncate_name(&format!("param_{key}"), NAME_MAX);
            }
            let mut n = 1;
            while taken.contains(&local) {
                n += 1;
                let suffix = format!("_{n}");
                local = truncate_name(&format!("param_{key}"), NAME_MAX - suffix.len()) + &suffix;
            }
            taken.push(local.clone());
            format!(
                "  {} {} OPTIONS (param {})",
                quote_ident(&local),
                parameter_type(kind),
                quote_literal(key)
            )
        })
        .collect()
}

/// One column definition per Dune column: typed by [`postgres_type`], with `OPTIONS
/// (dune_type '<Dune type>')` and `column_name '<Dune name>'` where the local name differs.
fn result_columns(names: &[String], types: &[String]) -> Vec<String> {
    names
        .iter()
        .zip(local_names(names))
        .enumerate()
        .map(|(i, (name, local))| {
            let dune = types.get(i);
            let ty = dune.map_or_else(
                || "text".to_string(),
                |t| postgres_type(&DuneType::parse(t)),
            );
            let mut col_opts = Vec::new();
            if local != *name {
                col_opts.push(format!("column_name {}", quote_literal(name)));
            }
            if let Some(t) = dune {
                col_opts.push(format!("dune_type {}", quote_literal(t)));
            }
            let opts = if col_opts.is_empty() {
                String::new()
            } else {
                format!(" OPTIONS ({})", col_opts.join(", "))
            };
            format!("  {} {ty}{opts}", quote_ident(&local))
        })
        .collect()
}

/// The CREATE FOREIGN TABLE statement for one table of Dune's catalog or one upload
/// (IMPORT FOREIGN SCHEMA from `GET /v1/datasets`, API reference §16): named `local_name`,
/// one column per Dune column as [`create_foreign_table`] writes them, and the table options
/// `dune_table '<full_name>'` and `options`.
pub fn create_dune_table(
    local_name: &str,
    full_name: &str,
    names: &[String],
    types: &[String],
    server: &str,
    options: &[(String, String)],
) -> String {
    let source = ("dune_table", full_name.to_string());
    create_statement(
        local_name,
        &result_columns(names, types),
        server,
        source,
        options,
    )
}

/// `CREATE FOREIGN TABLE name (columns) SERVER server OPTIONS (source, options…)`.
fn create_statement(
    name: &str,
    columns: &[String],
    server: &str,
    (source, value): (&str, String),
    options: &[(String, String)],
) -> String {
    let mut opts = vec![format!("{source} {}", quote_literal(&value))];
    opts.extend(
        options
            .iter()
            .map(|(k, v)| format!("{k} {}", quote_literal(v))),
    );
    format!(
        "CREATE FOREIGN TABLE {} (\n{}\n) SERVER {} OPTIONS ({})",
        quote_ident(name),
        columns.join(",\n"),
        quote_ident(server),
        opts.join(", ")
    )
}

/// The CREATE FOREIGN TABLE statement for one query, from its latest result's metadata: one
/// column per Dune column, typed by [`postgres_type`], with `OPTIONS (dune_type '<Dune type>')`
/// (what pushdown needs to know) and `column_name '<Dune name>'` where the local name had to
/// differ; then one column per query parameter ([`parameter_type`], `OPTIONS (param
/// '<key>')`); `options` are the table options passed through.
pub fn create_foreign_table(
    query_id: i64,
    names: &[String],
    types: &[String],
    parameters: &[(String, String)],
    server: &str,
    options: &[(String, String)],
) -> String {
    let mut columns = result_columns(names, types);
    columns.extend(parameter_columns(names, parameters));
    let name = format!("query_{query_id}");
    create_statement(
        &name,
        &columns,
        server,
        ("query_id", query_id.to_string()),
        options,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_columns_that_do_not_collide() {
        let ddl = create_foreign_table(
            9,
            &["day".into(), "start_date".into()],
            &["date".into(), "varchar".into()],
            &[
                ("start_date".into(), "datetime".into()),
                ("Time Period".into(), "enum".into()),
                ("n".into(), "number".into()),
            ],
            "dune",
            &[],
        );
        assert!(
            ddl.contains("  \"param_start_date\" timestamp OPTIONS (param 'start_date')"),
            "{ddl}"
        );
        assert!(
            ddl.contains("  \"Time Period\" text OPTIONS (param 'Time Period')"),
            "{ddl}"
        );
        assert!(ddl.contains("  \"n\" numeric OPTIONS (param 'n')"), "{ddl}");
    }

    #[test]
    fn names_that_collide_once_truncated_stay_distinct() {
        let long = "a".repeat(70);
        let names = vec![
            format!("{long}x"),
            format!("{long}y"),
            "b".to_string(),
            "b".to_string(),
        ];
        let local = local_names(&names);
        assert!(local.iter().all(|n| n.len() <= 63), "{local:?}");
        assert_eq!(local[0], "a".repeat(63));
        assert_eq!(local[1], format!("{}_2", "a".repeat(61)));
        assert_eq!(local[3], "b_2");
        let ddl = create_foreign_table(
            1,
            &names[..2],
            &["varchar".into(), "bigint".into()],
            &[],
            "dune",
            &[],
        );
        assert!(
            ddl.contains(&format!("column_name '{long}y', dune_type 'bigint'")),
            "{ddl}"
        );
    }

    #[test]
    fn maps_every_documented_type() {
        let cases = [
            ("varchar", "text"),
            ("varchar(255)", "text"),
            ("bigint", "bigint"),
            ("integer", "integer"),
            ("smallint", "smallint"),
            ("tinyint", "smallint"),
            ("double", "double precision"),
            ("real", "real"),
            ("decimal(38, 0)", "numeric(38,0)"),
            ("decimal(12, 7)", "numeric(12,7)"),
            ("uint256", "numeric"),
            ("int256", "numeric"),
            ("boolean", "boolean"),
            ("varbinary", "bytea"),
            ("date", "date"),
            ("timestamp with time zone", "timestamp with time zone"),
            ("timestamp(3) with time zone", "timestamp with time zone"),
            ("timestamp", "timestamp"),
            ("timestamp(3)", "timestamp"),
            ("array(varbinary)", "jsonb"),
            ("map(varchar, bigint)", "jsonb"),
            ("row(a bigint, b varchar)", "jsonb"),
            ("json", "jsonb"),
            ("something new", "jsonb"),
        ];
        for (dune, pg) in cases {
            assert_eq!(postgres_type(&DuneType::parse(dune)), pg, "{dune}");
        }
    }

    #[test]
    fn statements_quote_names_and_values() {
        let s = create_foreign_table(
            7,
            &["Total Volume".into(), "we\"ird".into()],
            &["double".into(), "uint256".into()],
            &[],
            "dune",
            &[("params".into(), "{\"a\": \"it's\"}".into())],
        );
        assert_eq!(
            s,
            "CREATE FOREIGN TABLE \"query_7\" (\n  \"Total Volume\" double precision OPTIONS (dune_type 'double'),\n  \"we\"\"ird\" numeric OPTIONS (dune_type 'uint256')\n) SERVER \"dune\" OPTIONS (query_id '7', params '{\"a\": \"it''s\"}')"
        );
    }
}
