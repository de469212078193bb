//! The options of each object (server, user mapping, foreign table, column): names, checks,
//! and how server options become the client's settings.

use crate::error::{FdwError, FdwResult};
use crate::fdw::table::LATEST_RESULTS_VIEW;
use dune_client::{ClientConfig, validate};
use std::time::Duration;

pub const SERVER_OPTIONS: &[&str] = &[
    "api_url",
    "request_timeout_ms",
    "connect_timeout_ms",
    "max_retries",
    "max_retry_wait_ms",
    "fetch_size",
    "max_response_bytes",
];

/// The server's integer options and their bounds (defaults: see `ClientConfig::new`).
const SERVER_INTEGERS: &[(&str, u64, u64)] = &[
    ("request_timeout_ms", 100, 3_600_000),
    ("connect_timeout_ms", 100, 600_000),
    ("max_retries", 0, 20),
    ("max_retry_wait_ms", 0, 3_600_000),
    ("fetch_size", 1, 1_000_000),
    ("max_response_bytes", 1024, 4 * 1024 * 1024 * 1024),
];

fn server_integer(name: &str, value: &str) -> Option<FdwResult<u64>> {
    let (_, min, max) = SERVER_INTEGERS.iter().find(|(n, _, _)| *n == name)?;
    Some(integer(name, value, *min, *max))
}
pub const USER_MAPPING_OPTIONS: &[&str] = &["api_key"];
pub const TABLE_OPTIONS: &[&str] = &[
    "query_id",
    "sql",
    "execution_id",
    "view",
    "params",
    "mode",
    "max_age",
    "performance",
    "fetch_size",
];
pub const COLUMN_OPTIONS: &[&str] = &["column_name"];

/// The kind of object options are given for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Object {
    Wrapper,
    Server,
    UserMapping,
    Table,
    Column,
}

impl Object {
    pub fn valid(self) -> &'static [&'static str] {
        match self {
            Object::Wrapper => &[],
            Object::Server => SERVER_OPTIONS,
            Object::UserMapping => USER_MAPPING_OPTIONS,
            Object::Table => TABLE_OPTIONS,
            Object::Column => COLUMN_OPTIONS,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Object::Wrapper => "the foreign-data wrapper",
            Object::Server => "a server",
            Object::UserMapping => "a user mapping",
            Object::Table => "a foreign table",
            Object::Column => "a foreign table column",
        }
    }
}

fn integer(name: &str, value: &str, min: u64, max: u64) -> FdwResult<u64> {
    match value.trim().parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(FdwError::InvalidArgument(format!(
            "{name} must be an integer from {min} to {max}, not \"{value}\""
        ))),
    }
}

fn api<T>(r: dune_client::Result<T>) -> FdwResult<()> {
    r.map(|_| ()).map_err(FdwError::from)
}

/// Checks one option's name for this object, and its value where it can be checked alone
/// (max_age, an interval, is checked by the validator with PostgreSQL's parser).
pub fn check(object: Object, name: &str, value: &str) -> FdwResult<()> {
    let valid = object.valid();
    if !valid.contains(&name) {
        let hint = if name == "api_key" && object != Object::UserMapping {
            "api_key belongs in a user mapping, where other roles cannot read it: CREATE USER MAPPING FOR CURRENT_USER SERVER dune OPTIONS (api_key '...');".to_string()
        } else if valid.is_empty() {
            format!("There are no valid options for {}.", object.describe())
        } else {
            format!(
                "Valid options for {} are: {}",
                object.describe(),
                valid.join(", ")
            )
        };
        return Err(FdwError::InvalidOption {
            message: format!("invalid option \"{name}\""),
            hint: Some(hint),
        });
    }
    if object == Object::Server
        && let Some(checked) = server_integer(name, value)
    {
        return checked.map(|_| ());
    }
    match name {
        "api_url" => api(dune_client::config::normalize_api_url(value)),
        "fetch_size" => integer(name, value, 1, 1_000_000).map(|_| ()),
        "api_key" if value.trim().is_empty() => Err(FdwError::InvalidArgument(
            "api_key must not be empty".into(),
        )),
        "query_id" => integer(name, value, 1, i64::MAX as u64).map(|_| ()),
        "sql" => api(validate::sql(value)),
        "execution_id" => api(validate::execution_id(value)),
        "params" => {
            let v: serde_json::Value = serde_json::from_str(value).map_err(|e| {
                FdwError::InvalidArgument(format!("params must be a JSON object: {e}"))
            })?;
            api(validate::params(Some(&v)))
        }
        "mode" if value != "latest" && value != "execute" => Err(FdwError::InvalidArgument(
            format!("mode must be latest or execute, not \"{value}\""),
        )),
        "performance" => api(validate::performance(Some(value))),
        "view" if value != LATEST_RESULTS_VIEW => Err(FdwError::InvalidArgument(format!(
            "view must be {LATEST_RESULTS_VIEW}, not \"{value}\""
        ))),
        "column_name" if value.is_empty() => Err(FdwError::InvalidArgument(
            "column_name must not be empty".into(),
        )),
        _ => Ok(()),
    }
}

/// Checks a foreign table's options together: exactly one of query_id, sql, execution_id (or
/// view); mode and max_age only with query_id.
pub fn check_table(names: &[&str]) -> FdwResult<()> {
    let sources: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| ["query_id", "sql", "execution_id", "view"].contains(n))
        .collect();
    if sources.len() != 1 {
        return Err(FdwError::InvalidOption {
            message: format!(
                "a dune_fdw foreign table needs exactly one of the options query_id, sql, execution_id (it has {})",
                if sources.is_empty() {
                    "none".to_string()
                } else {
                    sources.join(", ")
                }
            ),
            hint: Some("For example: OPTIONS (query_id '1258228')".into()),
        });
    }
    if sources[0] != "query_id"
        && let Some(bad) = names.iter().find(|n| ["mode", "max_age"].contains(n))
    {
        return Err(FdwError::InvalidOption {
                message: format!("option {bad} applies only to a table with query_id"),
                hint: Some("A table with sql always executes it; a table with execution_id reads that execution.".into()),
            });
    }
    Ok(())
}

/// Applies a server's options over the client defaults.
pub fn apply_server(options: &[(String, String)], config: &mut ClientConfig) -> FdwResult<()> {
    for (name, value) in options {
        if name == "api_url" {
            config.api_url = dune_client::config::normalize_api_url(value)?;
            continue;
        }
        let Some(n) = server_integer(name, value).transpose()? else {
            continue;
        };
        match name.as_str() {
            "request_timeout_ms" => config.request_timeout = Duration::from_millis(n),
            "connect_timeout_ms" => config.connect_timeout = Duration::from_millis(n),
            "max_retries" => config.max_retries = n as u32,
            "max_retry_wait_ms" => config.max_retry_wait = Duration::from_millis(n),
            "fetch_size" => config.page_size = n,
            "max_response_bytes" => config.max_response_bytes = n,
            _ => {}
        }
    }
    Ok(())
}
