//! Dune (DuneSQL/Trino) column types and the PostgreSQL types they become.

/// The PostgreSQL type for a Dune column type, as IMPORT FOREIGN SCHEMA declares it.
pub fn postgres_type(dune: &str) -> String {
    let t = dune.trim().to_ascii_lowercase();
    let base = t.split(['(', ' ']).next().unwrap_or("");
    match base {
        "varchar" | "char" => "text".into(),
        "bigint" => "bigint".into(),
        "integer" | "int" => "integer".into(),
        "smallint" | "tinyint" => "smallint".into(),
        "double" => "double precision".into(),
        "real" => "real".into(),
        "decimal" => match t.find('(') {
            Some(i) => {
                let args: String = t[i..].chars().filter(|c| !c.is_whitespace()).collect();
                if args.len() > 2
                    && args[1..args.len() - 1]
                        .split(',')
                        .all(|p| p.parse::<u32>().is_ok())
                {
                    format!("numeric{args}")
                } else {
                    "numeric".into()
                }
            }
            None => "numeric".into(),
        },
        "uint256" | "int256" => "numeric".into(),
        "boolean" => "boolean".into(),
        "varbinary" => "bytea".into(),
        "date" => "date".into(),
        "timestamp" if t.ends_with("with time zone") => "timestamp with time zone".into(),
        "timestamp" => "timestamp".into(),
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

/// The CREATE FOREIGN TABLE statement for one query, from its latest result's metadata.
pub fn create_foreign_table(
    query_id: i64,
    names: &[String],
    types: &[String],
    server: &str,
    options: &[(String, String)],
) -> String {
    let columns: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let ty = types
                .get(i)
                .map_or_else(|| "text".to_string(), |t| postgres_type(t));
            let mapping = if name.len() > NAME_MAX {
                format!(" OPTIONS (column_name {})", quote_literal(name))
            } else {
                String::new()
            };
            let local: String = name
                .chars()
                .scan(0, |len, c| {
                    *len += c.len_utf8();
                    (*len <= NAME_MAX).then_some(c)
                })
                .collect();
            format!("  {} {ty}{mapping}", quote_ident(&local))
        })
        .collect();
    let mut opts = vec![format!("query_id {}", quote_literal(&query_id.to_string()))];
    opts.extend(
        options
            .iter()
            .map(|(k, v)| format!("{k} {}", quote_literal(v))),
    );
    format!(
        "CREATE FOREIGN TABLE {} (\n{}\n) SERVER {} OPTIONS ({})",
        quote_ident(&format!("query_{query_id}")),
        columns.join(",\n"),
        quote_ident(server),
        opts.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(postgres_type(dune), pg, "{dune}");
        }
    }

    #[test]
    fn statements_quote_names_and_values() {
        let s = create_foreign_table(
            7,
            &["Total Volume".into(), "we\"ird".into()],
            &["double".into(), "uint256".into()],
            "dune",
            &[("params".into(), "{\"a\": \"it's\"}".into())],
        );
        assert_eq!(
            s,
            "CREATE FOREIGN TABLE \"query_7\" (\n  \"Total Volume\" double precision,\n  \"we\"\"ird\" numeric\n) SERVER \"dune\" OPTIONS (query_id '7', params '{\"a\": \"it''s\"}')"
        );
    }
}
