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
}
