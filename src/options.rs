//! The options of each object (server, user mapping, foreign table, column): names, checks,
//! and how server options become the client's settings.

use crate::error::{FdwError, FdwResult};
use dune_client::ClientConfig;
use std::time::Duration;

pub const SERVER_OPTIONS: &[&str] = &[
    "api_url",
    "request_timeout_ms",
    "max_retries",
    "fetch_size",
    "max_response_bytes",
];
pub const USER_MAPPING_OPTIONS: &[&str] = &["api_key"];
pub const TABLE_OPTIONS: &[&str] = &[
    "query_id",
    "sql",
    "execution_id",
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

fn invalid(message: String, hint: Option<String>) -> FdwError {
    FdwError::InvalidOption { message, hint }
}

fn integer(name: &str, value: &str, min: u64, max: u64) -> FdwResult<u64> {
    match value.trim().parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(FdwError::InvalidArgument(format!(
            "{name} must be an integer from {min} to {max}, not \"{value}\""
        ))),
    }
}

/// Checks one option's name for this object, and its value where it can be checked alone.
pub fn check(object: Object, name: &str, value: &str) -> FdwResult<()> {
    let valid = object.valid();
    if !valid.contains(&name) {
        let hint = if name == "api_key" && object != Object::UserMapping {
            Some("api_key belongs in a user mapping, where other roles cannot read it: CREATE USER MAPPING FOR CURRENT_USER SERVER dune OPTIONS (api_key '...');".to_string())
        } else if valid.is_empty() {
            Some(format!(
                "There are no valid options for {}.",
                object.describe()
            ))
        } else {
            Some(format!(
                "Valid options for {} are: {}",
                object.describe(),
                valid.join(", ")
            ))
        };
        return Err(invalid(format!("invalid option \"{name}\""), hint));
    }
    match name {
        "api_url" => dune_client::config::normalize_api_url(value)
            .map(|_| ())
            .map_err(FdwError::from),
        "request_timeout_ms" => integer(name, value, 100, 3_600_000).map(|_| ()),
        "max_retries" => integer(name, value, 0, 20).map(|_| ()),
        "fetch_size" => integer(name, value, 1, 1_000_000).map(|_| ()),
        "max_response_bytes" => integer(name, value, 1024, 4 * 1024 * 1024 * 1024).map(|_| ()),
        "api_key" if value.trim().is_empty() => Err(FdwError::InvalidArgument(
            "api_key must not be empty".into(),
        )),
        _ => Ok(()),
    }
}

/// Applies a server's options over the client defaults.
pub fn apply_server(options: &[(String, String)], config: &mut ClientConfig) -> FdwResult<()> {
    for (name, value) in options {
        match name.as_str() {
            "api_url" => config.api_url = dune_client::config::normalize_api_url(value)?,
            "request_timeout_ms" => {
                config.request_timeout =
                    Duration::from_millis(integer(name, value, 100, 3_600_000)?)
            }
            "max_retries" => config.max_retries = integer(name, value, 0, 20)? as u32,
            "fetch_size" => config.page_size = integer(name, value, 1, 1_000_000)?,
            "max_response_bytes" => {
                config.max_response_bytes = integer(name, value, 1024, 4 * 1024 * 1024 * 1024)?
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a foreign table's options together: exactly one of query_id, sql, execution_id.
pub fn check_table(names: &[&str]) -> FdwResult<()> {
    let sources: Vec<&&str> = names
        .iter()
        .filter(|n| ["query_id", "sql", "execution_id"].contains(n))
        .collect();
    if sources.len() != 1 {
        return Err(FdwError::InvalidOption {
            message: format!(
                "a dune_fdw foreign table needs exactly one of the options query_id, sql, execution_id (it has {})",
                if sources.is_empty() {
                    "none".to_string()
                } else {
                    sources.iter().map(|s| **s).collect::<Vec<_>>().join(", ")
                }
            ),
            hint: Some("For example: OPTIONS (query_id '1258228')".into()),
        });
    }
    Ok(())
}
