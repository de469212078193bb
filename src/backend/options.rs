//! Every option of every object (wrapper, server, user mapping, foreign table, column) in one
//! table of name × objects × kind, as postgres_fdw's `option.c` keeps its own; the typed
//! parsers built on it (server options → client settings, table options → [`TableOptions`]);
//! and the validator's rule, "parse and drop", plus the superuser rule for `api_url`.

use crate::backend::catalog;
use crate::backend::error::{FdwError, FdwResult};
use crate::backend::waits::max_age_of;
use dune_api::{
    ApiKey, CacheSettings, ClientConfig, DEFAULT_API_URL, ExecutionId, Params, Performance,
    QueryId, ResultSource, Sql, TableName, normalize_api_url,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The value of the table option marking the latest-results table (`dune_latest_results`).
pub const LATEST_RESULTS_VIEW: &str = "latest_results";

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

/// What an option's value must be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// An integer within bounds.
    Integer(u64, u64),
    Url,
    Key,
    QueryId,
    Sql,
    ExecutionId,
    View,
    Params,
    Mode,
    Interval,
    Performance,
    ColumnName,
    DuneType,
    /// on/off, true/false, yes/no, 1/0 (PostgreSQL's boolean spellings).
    Bool,
    /// A query parameter's name (`param`).
    ParamName,
    /// A Dune table, `namespace.table` or `dune.namespace.table`.
    DuneTable,
    /// A JSON list: the saved query's parameters as IMPORT read them (for the user; unused).
    ParameterList,
    /// Column names, comma-separated (`require_filter`); empty for none.
    ColumnList,
}

use Kind::*;
use Object::{Column, Server, Table, UserMapping};

/// Every option: its name, the objects that take it, and its kind, in the order hints list
/// them (`fetch_size` is both a server's and a table's). The server's defaults are those of
/// `ClientConfig::new`.
const OPTIONS: &[(&str, &[Object], Kind)] = &[
    ("api_url", &[Server], Url),
    ("request_timeout_ms", &[Server], Integer(100, 3_600_000)),
    ("connect_timeout_ms", &[Server], Integer(100, 600_000)),
    ("max_retries", &[Server], Integer(0, 20)),
    ("max_retry_wait_ms", &[Server], Integer(0, 3_600_000)),
    ("fetch_size", &[Server], Integer(1, 1_000_000)),
    (
        "fetch_concurrency",
        &[Server],
        Integer(1, MAX_FETCH_CONCURRENCY),
    ),
    ("max_response_bytes", &[Server], Integer(1024, 4 << 30)),
    ("ignore_max_datapoints_per_request", &[Server], Bool),
    ("cache", &[Server], Bool),
    ("cache_max_mb", &[Server], Integer(1, 1 << 30)),
    ("max_reads_per_scan", &[Server], Integer(1, 1_000_000)),
    (
        "insert_batch_bytes",
        &[Server],
        Integer(1024, MAX_INSERT_BATCH_BYTES),
    ),
    ("require_filter", &[Server], ColumnList),
    ("api_key", &[UserMapping], Key),
    ("query_id", &[Table], QueryId),
    ("sql", &[Table], Sql),
    ("execution_id", &[Table], ExecutionId),
    ("dune_table", &[Table], DuneTable),
    ("view", &[Table], View),
    ("params", &[Table], Params),
    ("query_parameters", &[Table], ParameterList),
    ("mode", &[Table], Mode),
    ("max_age", &[Table], Interval),
    ("performance", &[Table], Performance),
    ("fetch_size", &[Table], Integer(1, 1_000_000)),
    (
        "fetch_concurrency",
        &[Table],
        Integer(1, MAX_FETCH_CONCURRENCY),
    ),
    ("ignore_max_datapoints_per_request", &[Table], Bool),
    ("max_reads_per_scan", &[Table], Integer(1, 1_000_000)),
    (
        "insert_batch_bytes",
        &[Table],
        Integer(1024, MAX_INSERT_BATCH_BYTES),
    ),
    ("require_filter", &[Table], ColumnList),
    ("column_name", &[Column], ColumnName),
    ("param", &[Column], ParamName),
    ("dune_type", &[Column], DuneType),
];

/// The most results requests one read may have in flight (`fetch_concurrency`): past a few,
/// a read only meets the account's rate limit sooner (API reference §10.2).
pub const MAX_FETCH_CONCURRENCY: u64 = 16;

/// The table options that say where a table's rows come from: exactly one per table.
pub const SOURCE_OPTIONS: [&str; 5] = ["query_id", "sql", "execution_id", "dune_table", "view"];

/// `insert_batch_bytes`' default: the NDJSON bytes of one insert request (64 MiB; two batches
/// are held at once, one being sent and one being filled). Few large requests: each costs a
/// round trip, and Dune's write rate limit is 15 to 350 requests a minute (§10.2).
pub const DEFAULT_INSERT_BATCH_BYTES: u64 = 64 << 20;

/// `insert_batch_bytes`' bound: 1 GiB, below Dune's 1.2 GB per insert request (§9).
pub const MAX_INSERT_BATCH_BYTES: u64 = 1 << 30;

fn names_for(object: Object) -> Vec<&'static str> {
    OPTIONS
        .iter()
        .filter(|(_, objects, _)| objects.contains(&object))
        .map(|(name, _, _)| *name)
        .collect()
}

fn unknown(object: Object, name: &str) -> FdwError {
    let valid = names_for(object);
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
    FdwError::InvalidOption {
        message: format!("invalid option \"{name}\""),
        hint: Some(hint),
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

/// A boolean option's value, in PostgreSQL's spellings.
pub fn boolean(name: &str, value: &str) -> FdwResult<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(FdwError::InvalidArgument(format!(
            "{name} must be on or off, not \"{value}\""
        ))),
    }
}

/// Checks one option's value by its kind (max_age with PostgreSQL's interval parser).
fn check_value(name: &str, value: &str, kind: Kind) -> FdwResult<()> {
    let refuse = |why: String| Err(FdwError::InvalidArgument(why));
    match kind {
        Integer(min, max) => integer(name, value, min, max).map(drop),
        Url => normalize_api_url(value).map(drop).map_err(FdwError::from),
        Key if value.trim().is_empty() => refuse("api_key must not be empty".into()),
        QueryId => integer(name, value, 1, i64::MAX as u64).map(drop),
        Sql => dune_api::Sql::try_from(value)
            .map(drop)
            .map_err(FdwError::from),
        ExecutionId => dune_api::ExecutionId::try_from(value)
            .map(drop)
            .map_err(FdwError::from),
        Params => dune_api::Params::from_text(value)
            .map(drop)
            .map_err(FdwError::from),
        Mode if value != "latest" && value != "execute" => {
            refuse(format!("mode must be latest or execute, not \"{value}\""))
        }
        Interval => max_age_of(value).map(drop),
        Performance => dune_api::Performance::try_from(value)
            .map(drop)
            .map_err(FdwError::from),
        View if value != LATEST_RESULTS_VIEW => refuse(format!(
            "view must be {LATEST_RESULTS_VIEW}, not \"{value}\""
        )),
        ColumnName if value.is_empty() => refuse("column_name must not be empty".into()),
        ParamName if value.is_empty() => refuse("param must name a parameter of the query".into()),
        Bool => boolean(name, value).map(drop),
        DuneTable => TableName::parse(value).map(drop).map_err(FdwError::from),
        ParameterList if !serde_json::from_str::<serde_json::Value>(value).is_ok_and(|v| v.is_array()) => refuse(
            "query_parameters must be a JSON list of parameters, as IMPORT FOREIGN SCHEMA writes it".into(),
        ),
        DuneType if value.trim().is_empty() => refuse(
            "dune_type must be a DuneSQL type name such as varchar, bigint or timestamp(3) with time zone".into(),
        ),
        _ => Ok(()),
    }
}

/// Checks one option's name for this object, and its value.
pub fn check(object: Object, name: &str, value: &str) -> FdwResult<()> {
    let kind = OPTIONS
        .iter()
        .find(|(n, objects, _)| *n == name && objects.contains(&object))
        .map(|(_, _, kind)| *kind)
        .ok_or_else(|| unknown(object, name))?;
    check_value(name, value, kind)
}

/// The validator's rule: every option checked alone, then the object's options parsed
/// together and dropped; only a superuser may set `api_url` (it decides where keys are sent).
pub fn validate(object: Object, options: &[(String, String)]) -> FdwResult<()> {
    for (name, value) in options {
        check(object, name, value)?;
        if object == Object::Server && name == "api_url" && !catalog::is_superuser() {
            return Err(FdwError::InvalidOption {
                message: "only a superuser may set api_url".into(),
                hint: Some(
                    "api_url decides where API keys are sent; ask a superuser to change it.".into(),
                ),
            });
        }
    }
    match object {
        Object::Table => TableOptions::parse("", options).map(drop),
        Object::Server => {
            let mut config = ClientConfig::new(DEFAULT_API_URL, ApiKey::new(""))?;
            apply_server(options, &mut config)
        }
        _ => Ok(()),
    }
}

/// Applies a server's options over the client defaults.
pub fn apply_server(options: &[(String, String)], config: &mut ClientConfig) -> FdwResult<()> {
    let mut cache = CacheSettings {
        dir: catalog::data_directory().join(CACHE_DIR),
        max_bytes: DEFAULT_CACHE_MB << 20,
    };
    let mut cache_on = true;
    for (name, value) in options {
        let kind = OPTIONS.iter().find(|(n, _, _)| n == name).map(|o| o.2);
        let n = match kind {
            Some(Url) => {
                config.api_url = normalize_api_url(value)?;
                continue;
            }
            Some(Bool) => {
                let on = boolean(name, value)?;
                match name.as_str() {
                    "cache" => cache_on = on,
                    "ignore_max_datapoints_per_request" => config.ignore_max_datapoints = on,
                    _ => {}
                }
                continue;
            }
            Some(Integer(min, max)) => integer(name, value, min, max)?,
            _ => continue,
        };
        match name.as_str() {
            "request_timeout_ms" => config.request_timeout = Duration::from_millis(n),
            "connect_timeout_ms" => config.connect_timeout = Duration::from_millis(n),
            "max_retries" => config.max_retries = n as u32,
            "max_retry_wait_ms" => config.max_retry_wait = Duration::from_millis(n),
            "fetch_size" => config.page_size = n,
            "fetch_concurrency" => config.fetch_concurrency = n as usize,
            "max_response_bytes" => config.max_response_bytes = n,
            "cache_max_mb" => cache.max_bytes = n << 20,
            _ => {}
        }
    }
    config.cache = cache_on.then_some(cache);
    Ok(())
}

/// The result cache's directory under the data directory (`dune_api::ResultCache`): files, not
/// a table, because pages are written and read by the I/O threads, which may not call
/// PostgreSQL, and because a cache must not be rolled back, WAL-logged or replicated.
pub const CACHE_DIR: &str = "dune_fdw_cache";

/// `cache_max_mb`'s default: 1 GiB of pages per account.
pub const DEFAULT_CACHE_MB: u64 = 1024;

/// `max_reads_per_scan`'s default: the most reads one scan makes in a statement (a nested
/// loop reads once per outer key or parameter value).
pub const DEFAULT_MAX_READS_PER_SCAN: u64 = 100;

/// Where a foreign table's rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum TableSource {
    /// A result of Dune: a query's latest result or a new execution, raw SQL, an execution.
    Result(ResultSource),
    /// A Dune table (option `dune_table`), read by a DuneSQL statement.
    DuneTable(DuneTableOptions),
    /// `dune_latest_results`: the query ids come from the WHERE clause.
    LatestResults,
}

/// The options of a table with `dune_table`.
#[derive(Debug, Clone, PartialEq)]
pub struct DuneTableOptions {
    /// The name as written: `dune.<ns>.<table>` is an uploaded table (read with DuneSQL,
    /// written by INSERT and COPY, cleared by TRUNCATE); `<schema>.<table>` is one of Dune's
    /// tables (`dex.trades`) or, when Dune's catalog does not know it, the upload
    /// `dune.<schema>.<table>` (resolved when a scan is planned, in the FDW's `dune_table`).
    pub name: TableName,
    /// It was written `dune.<ns>.<table>`: an upload, without asking the catalog.
    pub upload: bool,
    /// `max_age`: a scan reads the execution of the same DuneSQL that ended this recently
    /// (remembered by the result cache) instead of running it.
    pub max_age: Option<Duration>,
    /// `performance`: the tier the statement runs on.
    pub performance: Option<Performance>,
}

/// The settings of a foreign table's scans and writes, each the table's option, else the
/// server's, else the default: resolved once ([`settings`]) and carried in the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Rows per results request (`fetch_size`).
    pub fetch_size: u64,
    /// Results requests in flight (`fetch_concurrency`).
    pub fetch_concurrency: u64,
    /// `ignore_max_datapoints_per_request`.
    pub ignore_max_datapoints: bool,
    /// The most reads a scan makes in a statement (`max_reads_per_scan`).
    pub max_reads_per_scan: u64,
    /// NDJSON bytes per insert request (`insert_batch_bytes`).
    pub insert_batch_bytes: u64,
    /// `require_filter`: the columns a scan of a Dune table must restrict (the table's own
    /// list, or the server's, which applies to the tables that have one of its columns).
    pub require_filter: Vec<String>,
    /// `require_filter` is the table's own (a column it names must exist).
    pub require_filter_own: bool,
}

/// The value of option `name` given to `object`, parsed by its kind in [`OPTIONS`]: an
/// integer within its bounds.
fn integer_option(
    object: Object,
    options: &[(String, String)],
    name: &str,
) -> FdwResult<Option<u64>> {
    let Some(value) = option(options, name) else {
        return Ok(None);
    };
    match OPTIONS
        .iter()
        .find(|(n, objects, _)| *n == name && objects.contains(&object))
    {
        Some((_, _, Integer(min, max))) => integer(name, value, *min, *max).map(Some),
        _ => Err(unknown(object, name)),
    }
}

/// The value of the boolean option `name`, if given.
fn bool_option(options: &[(String, String)], name: &str) -> FdwResult<Option<bool>> {
    option(options, name).map(|v| boolean(name, v)).transpose()
}

/// The settings of a foreign table with these options on a server with these (table over
/// server over default; the server's defaults are `ClientConfig::new`'s and this module's).
pub fn settings(server: &[(String, String)], table: &[(String, String)]) -> FdwResult<Settings> {
    let mut config = ClientConfig::new(DEFAULT_API_URL, ApiKey::new(""))?;
    apply_server(server, &mut config)?;
    let int = |name: &str, default: u64| -> FdwResult<u64> {
        match integer_option(Table, table, name)? {
            Some(v) => Ok(v),
            None => Ok(integer_option(Server, server, name)?.unwrap_or(default)),
        }
    };
    let own = option(table, "require_filter");
    Ok(Settings {
        fetch_size: int("fetch_size", config.page_size)?,
        fetch_concurrency: int("fetch_concurrency", config.fetch_concurrency as u64)?,
        ignore_max_datapoints: bool_option(table, "ignore_max_datapoints_per_request")?
            .unwrap_or(config.ignore_max_datapoints),
        max_reads_per_scan: int("max_reads_per_scan", DEFAULT_MAX_READS_PER_SCAN)?,
        insert_batch_bytes: int("insert_batch_bytes", DEFAULT_INSERT_BATCH_BYTES)?,
        require_filter: column_list(own.or(option(server, "require_filter")).unwrap_or("")),
        require_filter_own: own.is_some(),
    })
}

/// The column names of a `require_filter` value (`block_time, block_date`), trimmed, empty
/// ones left out.
pub fn column_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// A foreign table's options, parsed and checked together: where its rows come from (the
/// settings of its scans are [`settings`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TableOptions {
    pub source: TableSource,
}

/// The value of option `name`, if given.
fn option<'a>(options: &'a [(String, String)], name: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn source_count_error(sources: &[&str]) -> FdwError {
    FdwError::InvalidOption {
        message: format!(
            "a dune_fdw foreign table needs exactly one of the options query_id, sql, execution_id, dune_table (it has {})",
            if sources.is_empty() {
                "none".to_string()
            } else {
                sources.join(", ")
            }
        ),
        hint: Some("For example: OPTIONS (query_id '1258228') for a query's result, or OPTIONS (dune_table 'my_team.labels') for a Dune table.".into()),
    }
}

impl TableOptions {
    /// Parses a foreign table's options: exactly one of query_id, sql, execution_id (or view);
    /// mode and max_age only with query_id. `table` names the table in messages.
    pub fn parse(table: &str, options: &[(String, String)]) -> FdwResult<TableOptions> {
        let get = |name: &str| option(options, name);
        let sources: Vec<&str> = SOURCE_OPTIONS
            .into_iter()
            .filter(|n| get(n).is_some())
            .collect();
        if sources.len() != 1 {
            return Err(source_count_error(&sources));
        }
        // max_age: a saved query's latest result, or a Dune table's statement run recently
        let allowed =
            |n: &str| sources[0] == "query_id" || (n == "max_age" && sources[0] == "dune_table");
        if let Some(bad) = ["mode", "max_age"]
            .into_iter()
            .find(|n| get(n).is_some() && !allowed(n))
        {
            return Err(FdwError::InvalidOption {
                message: format!("option {bad} applies only to a table with query_id{}", if bad == "max_age" { " or dune_table" } else { "" }),
                hint: Some("A table with sql executes its SQL at each scan; a table with execution_id reads that execution.".into()),
            });
        }
        for name in [
            "fetch_size",
            "fetch_concurrency",
            "max_reads_per_scan",
            "insert_batch_bytes",
        ] {
            integer_option(Table, options, name)?;
        }
        bool_option(options, "ignore_max_datapoints_per_request")?;
        let dune_table = sources[0] == "dune_table";
        if !dune_table && get("require_filter").is_some() {
            return Err(FdwError::InvalidOption {
                message: "option require_filter applies only to a table with dune_table".into(),
                hint: Some("It guards scans of Dune's tables, whose DuneSQL Dune runs and bills; a query's result is read as it is.".into()),
            });
        }
        if dune_table && get("params").is_some() {
            return Err(FdwError::InvalidOption {
                message: "option params applies only to a table with query_id".into(),
                hint: Some("A Dune table has no parameters.".into()),
            });
        }
        Ok(TableOptions {
            source: Self::source(table, sources[0], options)?,
        })
    }

    fn source(table: &str, which: &str, options: &[(String, String)]) -> FdwResult<TableSource> {
        let get = |name: &str| option(options, name);
        let text = get(which).unwrap_or_default();
        let params = match get("params") {
            Some(p) => Params::from_text(p).map_err(|e| {
                FdwError::InvalidArgument(format!(
                    "option params of foreign table \"{table}\" is not valid: {e}"
                ))
            })?,
            None => None,
        };
        let performance = Performance::from_option(get("performance"))?;
        let result = match which {
            "view" => {
                check_value("view", text, View)?;
                return Ok(TableSource::LatestResults);
            }
            "sql" => ResultSource::Sql {
                sql: Sql::try_from(text)?,
                performance,
            },
            "execution_id" => ResultSource::Execution(ExecutionId::try_from(text)?),
            "dune_table" => {
                return Ok(TableSource::DuneTable(DuneTableOptions {
                    name: TableName::parse(text)?,
                    upload: text.trim().starts_with("dune."),
                    max_age: get("max_age").map(max_age_of).transpose()?,
                    performance,
                }));
            }
            _ => {
                let id = integer("query_id", text, 1, i64::MAX as u64)?;
                let query = QueryId::try_from(id as i64)?;
                match get("mode") {
                    None | Some("latest") => ResultSource::Latest {
                        query,
                        params,
                        max_age: get("max_age").map(max_age_of).transpose()?,
                        performance,
                    },
                    Some("execute") => ResultSource::Execute {
                        query,
                        params,
                        performance,
                    },
                    Some(other) => {
                        return Err(FdwError::InvalidArgument(format!(
                            "mode must be latest or execute, not \"{other}\""
                        )));
                    }
                }
            }
        };
        Ok(TableSource::Result(result))
    }
}
