//! Uploaded tables (API reference §9 and §16): create, list, replace from CSV, insert rows,
//! clear and delete `dune.<namespace>.<table>`. Every call but the list needs a key with the
//! Read/Write scope. An insert appends, so it is never sent twice: after a failure that may
//! have reached Dune (a 5xx answer, a timeout or a connection cut once the rows were sent) it
//! is not resent, and the error says `maybe_executed`; Dune writes an insert's rows all or
//! none (§9, "atomic"), so such a batch is in the table whole or not at all. Create is not
//! resent either (a second create fails with "already exists"); clear, delete and the CSV
//! upload (which replaces the table) are idempotent and retried as reads are.

use crate::client::Client;
use crate::dune_type::DuneType;
use crate::dunesql::catalog_columns;
use crate::error::{Error, NotFound, Result};
use crate::http::Body;
use crate::manage::json_of;
use crate::retry::Idempotency;
use serde_json::{Map, Value};
use std::fmt;

/// The column types an upload schema may declare (§9: the SDKs' `ColumnType`).
pub const UPLOAD_TYPES: [&str; 10] = [
    "varchar",
    "varbinary",
    "uint256",
    "int256",
    "bigint",
    "integer",
    "double",
    "boolean",
    "timestamp",
    "date",
];

/// The longest namespace, table or column name accepted (Dune does not document one; Trino
/// keeps longer names, but a PostgreSQL column name is at most 63 bytes).
pub const MAX_NAME_LEN: usize = 128;

fn invalid(m: String) -> Error {
    Error::InvalidArgument(m)
}

/// Checks a table or column name by the rule this client declares for Dune: lowercase ASCII
/// letters, digits and underscores, starting with a letter or an underscore (§9: "column names
/// can't start with digit/special char"; Trino folds unquoted names to lowercase, so an
/// uppercase name would not be found as written). Errors name `what` and the rule.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let ok_start = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let ok_rest = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok_start && ok_rest && name.len() <= MAX_NAME_LEN {
        return Ok(());
    }
    Err(invalid(format!(
        "{what} \"{name}\" is not a valid Dune name: use lowercase letters, digits and underscores, starting with a letter or an underscore (at most {MAX_NAME_LEN} characters)"
    )))
}

/// Checks a namespace: a Dune user or team handle as Dune writes it in table names, lowercase
/// letters, digits and underscores.
pub fn check_namespace(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        return Ok(());
    }
    Err(invalid(format!(
        "namespace \"{name}\" is not a valid Dune namespace: it is your user or team handle, in lowercase letters, digits and underscores"
    )))
}

/// An uploaded table's name, `dune.<namespace>.<table>`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName {
    namespace: String,
    table: String,
}

impl TableName {
    /// A name from its parts, checked ([`check_namespace`], [`check_name`]).
    pub fn new(namespace: &str, table: &str) -> Result<TableName> {
        check_namespace(namespace)?;
        check_name("table name", table)?;
        Ok(TableName {
            namespace: namespace.to_string(),
            table: table.to_string(),
        })
    }

    /// Parses `namespace.table` or `dune.namespace.table` (the option `dune_table`).
    pub fn parse(text: &str) -> Result<TableName> {
        let parts: Vec<&str> = text.trim().split('.').collect();
        match parts.as_slice() {
            [ns, t] => TableName::new(ns, t),
            ["dune", ns, t] => TableName::new(ns, t),
            _ => Err(invalid(format!(
                "\"{text}\" is not a Dune table name: write namespace.table or dune.namespace.table (for example my_team.labels)"
            ))),
        }
    }

    /// The namespace (the user's or team's handle).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The table's own name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// DuneSQL reading the whole table: `SELECT * FROM dune.<namespace>.<table>`.
    pub fn select_all(&self) -> String {
        format!("SELECT * FROM dune.{}.{}", self.namespace, self.table)
    }

    fn path(&self) -> String {
        format!("/uploads/{}/{}", self.namespace, self.table)
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dune.{}.{}", self.namespace, self.table)
    }
}

/// One column of an upload schema (`{name, type, nullable}`).
#[derive(Debug, Clone, PartialEq)]
pub struct UploadColumn {
    /// Checked by [`check_name`].
    pub name: String,
    /// One of [`UPLOAD_TYPES`].
    pub dune_type: String,
    /// Whether NULL (a missing value) is accepted.
    pub nullable: bool,
}

impl UploadColumn {
    /// A column, checked: its name by [`check_name`], its type among [`UPLOAD_TYPES`].
    pub fn new(name: &str, dune_type: &str, nullable: bool) -> Result<UploadColumn> {
        check_name("column name", name)?;
        let t = dune_type.trim().to_ascii_lowercase();
        if !UPLOAD_TYPES.contains(&t.as_str()) {
            return Err(invalid(format!(
                "column \"{name}\": \"{dune_type}\" is not a type of Dune's uploaded tables (they are {})",
                UPLOAD_TYPES.join(", ")
            )));
        }
        Ok(UploadColumn {
            name: name.to_string(),
            dune_type: t,
            nullable,
        })
    }

    fn to_json(&self) -> Value {
        serde_json::json!({"name": self.name, "type": self.dune_type, "nullable": self.nullable})
    }
}

/// An uploaded table as `GET /v1/uploads` lists it (API reference §9 and §16).
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// `dune.<namespace>.<table>`.
    pub full_name: String,
    /// Whether only the owner may read it.
    pub is_private: Option<bool>,
    /// Its size in bytes (Dune writes it as a string or a number).
    pub size_bytes: Option<i64>,
    /// When it was created, as Dune writes it (RFC 3339).
    pub created_at: Option<String>,
    /// When it last changed (RFC 3339).
    pub updated_at: Option<String>,
    /// Its columns, in Dune's order.
    pub columns: Vec<UploadedColumn>,
    /// Its columns exactly as Dune lists them (`[{"name", "type", "nullable", …}]`), None
    /// when it lists none.
    pub columns_json: Option<Value>,
}

/// A column of an uploaded table as Dune lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedColumn {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: DuneType,
    /// Whether it takes NULL (Dune's `nullable`; true when not said).
    pub nullable: bool,
}

impl Upload {
    /// Reads one entry of the list; None without a `full_name`.
    pub fn from_json(v: &Value) -> Option<Upload> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let columns = catalog_columns(v)
            .into_iter()
            .map(|(name, ty, nullable)| UploadedColumn {
                name,
                ty: DuneType::parse(&ty),
                nullable: nullable != Some(false),
            })
            .collect();
        Some(Upload {
            full_name: text("full_name")?,
            is_private: v.get("is_private").and_then(Value::as_bool),
            size_bytes: match v.get("table_size_bytes") {
                Some(Value::String(s)) => s.parse().ok(),
                Some(Value::Number(n)) => n.as_i64(),
                _ => None,
            },
            created_at: text("created_at"),
            updated_at: text("updated_at"),
            columns,
            columns_json: v.get("columns").cloned(),
        })
    }
}

/// What Dune answered to an insert (a 2xx): `{rows_written, bytes_written, name}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inserted {
    /// Rows Dune says it wrote; None when its answer does not say (the rows were written).
    pub rows: Option<u64>,
    /// Bytes Dune wrote.
    pub bytes: u64,
}

/// The format of an insert's body (§9: CSV with a header row, or one JSON object per line).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InsertFormat {
    /// `text/csv`.
    Csv,
    /// `application/x-ndjson`.
    Ndjson,
}

impl InsertFormat {
    fn content_type(self) -> &'static str {
        match self {
            InsertFormat::Csv => "text/csv",
            InsertFormat::Ndjson => "application/x-ndjson",
        }
    }
}

/// The most tables listed in one request (§9: limit ≤ 10000).
const LIST_PAGE: usize = 10_000;

impl Client {
    /// POST /v1/uploads: creates an empty table with this schema; Dune's answer (`full_name`,
    /// `example_query`, `message`, ...). Errors: `BadRequest` (it exists, a bad column),
    /// `Forbidden` (a read-only key), `maybe_executed` after a failure that may have reached
    /// Dune (not resent).
    pub fn create_table(
        &self,
        name: &TableName,
        columns: &[UploadColumn],
        description: Option<&str>,
        is_private: bool,
    ) -> Result<Value> {
        if columns.is_empty() {
            return Err(invalid("a Dune table needs at least one column".into()));
        }
        let body = serde_json::json!({
            "namespace": name.namespace,
            "table_name": name.table,
            "schema": columns.iter().map(UploadColumn::to_json).collect::<Vec<_>>(),
            "description": description.unwrap_or(""),
            "is_private": is_private,
        });
        self.send_json(
            "POST",
            "/uploads",
            &body,
            Idempotency::Execute,
            NotFound::Table,
            "create table",
        )
    }

    /// GET /v1/uploads, following `next_offset`: the account's uploaded tables as Dune lists
    /// them, at most `max`; an entry without a `full_name` is left out.
    pub fn uploads(&self, max: usize) -> Result<Vec<Upload>> {
        let mut out: Vec<Upload> = Vec::new();
        let mut offset: u64 = 0;
        loop {
            let limit = LIST_PAGE.min(max.saturating_sub(out.len())).max(1);
            let url = format!(
                "{}?limit={limit}&offset={offset}",
                self.http.url("/uploads")
            );
            let reply = self
                .http
                .send("GET", &url, None, Idempotency::Safe, NotFound::Table)?;
            let v = json_of(&reply.body, "list tables")?;
            let page = match v.get("tables") {
                Some(Value::Array(a)) => a.as_slice(),
                _ => &[],
            };
            let next = v.get("next_offset").and_then(Value::as_u64);
            let empty = page.is_empty();
            out.extend(page.iter().filter_map(Upload::from_json));
            match next {
                Some(n) if !empty && n > offset && out.len() < max => offset = n,
                _ => {
                    out.truncate(max);
                    return Ok(out);
                }
            }
        }
    }

    /// POST /v1/uploads/csv: creates `dune.<your namespace>.dataset_<table>` (Dune adds the
    /// prefix) from a CSV text with a header row, replacing a table of that name; Dune's
    /// answer. Idempotent.
    pub fn upload_csv(
        &self,
        table: &str,
        csv: &str,
        description: Option<&str>,
        is_private: bool,
    ) -> Result<Value> {
        check_name("table name", table)?;
        let mut body = Map::new();
        body.insert("table_name".into(), Value::from(table));
        body.insert("data".into(), Value::from(csv));
        body.insert("description".into(), Value::from(description.unwrap_or("")));
        body.insert("is_private".into(), Value::from(is_private));
        let body = Value::Object(body);
        self.send_json(
            "POST",
            "/uploads/csv",
            &body,
            Idempotency::Safe,
            NotFound::Table,
            "upload csv",
        )
    }

    /// POST /v1/uploads/{ns}/{table}/insert: appends the rows of `body` (CSV with a header
    /// row, or NDJSON). Dune writes them all or none. Never sent twice once it may have
    /// reached Dune (see the module's documentation).
    pub fn insert_rows(
        &self,
        name: &TableName,
        format: InsertFormat,
        body: &[u8],
    ) -> Result<Inserted> {
        let url = self.http.url(&format!("{}/insert", name.path()));
        let body = Body {
            bytes: body,
            content_type: format.content_type(),
        };
        let reply = self.http.send_body(
            "POST",
            &url,
            Some(body),
            Idempotency::Execute,
            NotFound::Table,
        )?;
        // a 2xx means Dune wrote the rows: an answer that cannot be read does not undo that
        let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        let count = |k: &str| match v.get(k) {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        Ok(Inserted {
            rows: count("rows_written"),
            bytes: count("bytes_written").unwrap_or(0),
        })
    }

    /// POST /v1/uploads/{ns}/{table}/clear: deletes every row, keeps the table; Dune's message.
    pub fn clear_table(&self, name: &TableName) -> Result<String> {
        let url = self.http.url(&format!("{}/clear", name.path()));
        let reply = self
            .http
            .send("POST", &url, None, Idempotency::Safe, NotFound::Table)?;
        Ok(message_of(&reply.body))
    }

    /// DELETE /v1/uploads/{ns}/{table}: deletes the table; Dune's message.
    pub fn delete_table(&self, name: &TableName) -> Result<String> {
        let url = self.http.url(&name.path());
        let reply = self
            .http
            .send("DELETE", &url, None, Idempotency::Safe, NotFound::Table)?;
        Ok(message_of(&reply.body))
    }
}

fn message_of(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_checked_before_anything_is_sent() {
        let t = TableName::parse("dune.my_team.labels").unwrap();
        assert_eq!(t.to_string(), "dune.my_team.labels");
        assert_eq!(TableName::parse("my_team.labels").unwrap(), t);
        assert_eq!(t.select_all(), "SELECT * FROM dune.my_team.labels");
        for bad in [
            "labels",
            "a.b.c",
            "x.dune.labels.y",
            "My_team.labels",
            "team.Labels",
            "team.1labels",
            "team.la-bels",
            "team.",
            ".labels",
            "team.la bels",
            "my-team.labels",
        ] {
            let e = TableName::parse(bad).unwrap_err().to_string();
            assert!(
                e.contains("not a Dune table name") || e.contains("not a valid Dune"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn columns_need_a_name_and_an_upload_type() {
        assert_eq!(
            UploadColumn::new("amount", "UINT256", false).unwrap(),
            UploadColumn {
                name: "amount".into(),
                dune_type: "uint256".into(),
                nullable: false
            }
        );
        let e = UploadColumn::new("amount", "decimal(38,0)", true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"decimal(38,0)\" is not a type"), "{e}");
        assert!(UploadColumn::new("2x", "varchar", true).is_err());
        assert!(UploadColumn::new("_x", "varchar", true).is_ok());
    }
}
