//! The one error type of the extension, and how each error reaches the user: a SQLSTATE, the
//! API's own message, and a hint where one helps.

use dune_api::{Error as ApiError, NotFound};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

#[derive(Debug)]
pub enum FdwError {
    Api(ApiError),
    /// `dune_fdw.server` names no server.
    NoServer(String),
    /// The server belongs to another wrapper.
    NotDuneServer(String),
    NoUsage {
        user: String,
        server: String,
    },
    NoUserMapping {
        user: String,
        server: String,
    },
    NoApiKey {
        server: String,
    },
    InvalidArgument(String),
    InvalidOption {
        message: String,
        hint: Option<String>,
    },
    /// The latest-results view was read without an equality on query_id.
    MissingQueryId(String),
    /// A scan of a Dune table with `require_filter` would run DuneSQL that restricts none of
    /// `columns` (Dune names).
    FilterRequired {
        table: String,
        columns: Vec<String>,
    },
    /// A Dune value that does not fit its column.
    BadValue {
        table: String,
        column: String,
        row: u64,
        value: String,
        problem: String,
    },
    /// IMPORT FOREIGN SCHEMA LIMIT TO named a query whose latest result has no columns.
    NoColumns {
        query: u64,
    },
    /// A declared column that the Dune result does not have.
    NoSuchColumn {
        table: String,
        column: String,
        available: Vec<String>,
    },
    /// Dune refused a write (403): the key lacks the Read/Write scope, or the query is not
    /// the account's to change.
    WriteForbidden {
        message: String,
        server: String,
    },
    /// A create of a query failed after it may have reached Dune: it was not sent again.
    MaybeCreated(ApiError),
    /// An insert into a Dune table stopped at a batch: `written` rows of the statement were
    /// written before it; the batch of `rows` rows from row `first` (1-based, in the order
    /// the statement gave them) failed, and may have been written if `error.maybe_executed()`.
    Insert(Box<InsertFailure>),
    /// A value that the Dune column cannot hold, found before anything of its batch was sent.
    BadUpload(Box<BadUpload>),
    /// What a Dune table cannot do (UPDATE, DELETE, ON CONFLICT) or a column it cannot take.
    Unsupported {
        message: String,
        hint: String,
    },
    /// A scan read Dune more often in one statement than `max_reads_per_scan` allows.
    TooManyReads {
        table: String,
        max: u64,
    },
    Internal(String),
}

/// An insert stopped at a batch (see [`FdwError::Insert`]).
#[derive(Debug)]
pub struct InsertFailure {
    /// The local foreign table.
    pub table: String,
    /// `dune.<namespace>.<table>`.
    pub target: String,
    /// The table's server (for the hint of a 403).
    pub server: String,
    /// Rows of the statement Dune acknowledged before the batch.
    pub written: u64,
    /// The batch's first row (1-based, in the statement's order) and its row count.
    pub first: u64,
    pub rows: u64,
    pub error: ApiError,
}

/// A value a Dune column cannot hold (see [`FdwError::BadUpload`]).
#[derive(Debug)]
pub struct BadUpload {
    pub table: String,
    pub column: String,
    /// 1-based, in the statement's order.
    pub row: u64,
    pub dune_type: String,
    pub value: String,
    pub problem: String,
    /// Rows of the statement written before.
    pub written: u64,
}

impl From<ApiError> for FdwError {
    fn from(e: ApiError) -> Self {
        FdwError::Api(e)
    }
}

pub type FdwResult<T> = Result<T, FdwError>;

/// A write's result, with Dune's 403 said as what it means for a write: the key needs the
/// Read/Write scope (API reference §16).
pub fn writes<T>(r: FdwResult<T>) -> FdwResult<T> {
    match r {
        Err(FdwError::Api(dune_api::Error::Forbidden(message))) => Err(FdwError::WriteForbidden {
            message,
            server: crate::backend::gucs::server_name(),
        }),
        other => other,
    }
}

struct Report {
    code: PgSqlErrorCode,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
}

fn report(code: PgSqlErrorCode, message: impl Into<String>) -> Report {
    Report {
        code,
        message: message.into(),
        detail: None,
        hint: None,
    }
}

impl Report {
    fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }

    fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
}

/// Adds what an execute that may have reached Dune means for the user.
fn maybe_ran(r: Report, maybe_executed: bool) -> Report {
    if maybe_executed {
        r.detail("The execute request may have reached Dune, so it was not sent again: the query may be running. Check the Dune UI before running it again.")
    } else {
        r
    }
}

fn api_report(e: &ApiError) -> Report {
    use PgSqlErrorCode::*;
    let message = e.to_string();
    match e {
        ApiError::InvalidArgument(_) => report(ERRCODE_INVALID_PARAMETER_VALUE, message),
        ApiError::BadRequest(m) if m.starts_with("unknown parameters") => report(ERRCODE_INVALID_PARAMETER_VALUE, message)
            .hint("Parameter names are those of the saved query on dune.com, case and spaces included."),
        ApiError::BadRequest(_) => report(ERRCODE_INVALID_PARAMETER_VALUE, message),
        ApiError::Unauthorized(_) => report(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, message).hint(
            "Set a valid key: ALTER USER MAPPING FOR CURRENT_USER SERVER dune OPTIONS (SET api_key '...');",
        ),
        ApiError::LimitExceeded(_) => report(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED, message)
            .hint("Check the usage and limits of the Dune account at dune.com (settings)."),
        ApiError::Forbidden(_) => report(ERRCODE_INSUFFICIENT_PRIVILEGE, message)
            .hint("The key's account may not run this query: it may be private, archived or owned by another team."),
        ApiError::NotFound { what: NotFound::Query, .. } => report(ERRCODE_UNDEFINED_OBJECT, message)
            .hint("Check the query id; a private query is visible only to its owner's keys."),
        ApiError::NotFound { what: NotFound::Execution, .. } => report(ERRCODE_UNDEFINED_OBJECT, message)
            .hint("Execution ids come from dune_execute() or dune_execute_sql(); results are kept about 90 days."),
        ApiError::NotFound { what: NotFound::Table, .. } => report(ERRCODE_UNDEFINED_TABLE, message)
            .hint("dune_tables() lists the account's uploaded tables; dune_create_table() makes one."),
        ApiError::NotFound { what: NotFound::LatestResult, .. } => report(ERRCODE_NO_DATA_FOUND, message).hint(
            "This query has no result for these parameters yet: run it once with dune_run(query_id, params).",
        ),
        ApiError::RateLimited { .. } => report(ERRCODE_FDW_ERROR, message)
            .hint("Dune limits requests per minute by plan; wait a minute, or raise the server option max_retries."),
        ApiError::Server { maybe_executed, .. } => {
            maybe_ran(report(ERRCODE_FDW_ERROR, message).hint("Dune may be having trouble; try again later."), *maybe_executed)
        }
        ApiError::Timeout { maybe_executed, .. } | ApiError::Connection { maybe_executed, .. } => maybe_ran(
            report(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION, message).hint(
                "Check the server option api_url and the network; the server option request_timeout_ms sets how long one request may take.",
            ),
            *maybe_executed,
        ),
        ApiError::InvalidResponse(_) => report(ERRCODE_FDW_ERROR, message)
            .hint("The server at api_url does not answer as the Dune API does; check the server option api_url."),
        ApiError::ResponseTooLarge { .. } => report(ERRCODE_PROGRAM_LIMIT_EXCEEDED, message)
            .hint("Lower the page size (server option fetch_size) or raise max_response_bytes."),
        ApiError::ExecutionFailed { execution_id, message: dune } if !dune.contains(execution_id.as_str()) => {
            report(ERRCODE_FDW_ERROR, message).detail(format!("execution_id: {execution_id}"))
        }
        ApiError::ExecutionFailed { .. } => report(ERRCODE_FDW_ERROR, message),
        ApiError::ExecutionEnded { .. } => {
            report(ERRCODE_FDW_ERROR, message).hint("Run the query again with dune_execute() or dune_run().")
        }
        ApiError::StillRunning { execution_id, .. } => report(ERRCODE_FDW_ERROR, message).hint(format!(
            "Wait longer with dune_wait('{execution_id}', interval '1 hour'), or stop it with dune_cancel('{execution_id}')."
        )),
        ApiError::Cancelled => report(ERRCODE_QUERY_CANCELED, "canceling statement: the Dune request was cancelled"),
    }
}

impl FdwError {
    /// The report of a refused change, a create that may have happened, or a scan over its
    /// bound of reads.
    fn writes_and_reads_report(&self) -> Report {
        use PgSqlErrorCode::*;
        match self {
            FdwError::WriteForbidden { message, server } => report(
                ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!("Dune refused the change: {message}"),
            )
            .hint(format!("Writes to Dune (saving or changing queries, uploaded tables) need a key with the Read/Write scope: create one on dune.com (Settings, API), then ALTER USER MAPPING FOR CURRENT_USER SERVER {server} OPTIONS (SET api_key '...'). A team's query or table needs the team's key.{}", if message.to_ascii_lowercase().contains("archived") { " An archived query must be brought back first (dune_unarchive_query)." } else { "" })),
            FdwError::MaybeCreated(e) => {
                let r = api_report(e);
                let mut r = report(r.code, r.message);
                r.detail = Some("The create may have reached Dune, so it was not sent again: the query may already be saved.".into());
                r.hint("Check dune_queries() for it before creating it again.")
            }
            FdwError::TooManyReads { table, max } => report(
                ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
                format!("the scan of foreign table \"{table}\" would read Dune more than {max} times in this statement"),
            )
            .detail("A nested loop reads the table once for each outer key or parameter value.")
            .hint(format!(
                "Raise the limit (ALTER FOREIGN TABLE {table} OPTIONS (ADD max_reads_per_scan '1000')), give fewer keys, or read the whole result once (SET enable_nestloop = off)."
            )),
            FdwError::Insert(_) => self.insert_report(),
            FdwError::BadUpload(b) => {
                let BadUpload { table, column, row, dune_type, value, problem, written } = b.as_ref();
                let code = if problem.contains("not nullable") {
                    ERRCODE_NOT_NULL_VIOLATION
                } else if problem.contains("range") || problem.contains("negative") {
                    ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE
                } else {
                    ERRCODE_DATA_EXCEPTION
                };
                report(code, format!("row {row} of the insert into foreign table \"{table}\": column \"{column}\" {problem}: {value}"))
                    .detail(format!("The Dune column is {dune_type}. {written} rows of this statement were written before; nothing of this row's batch was sent."))
                    .hint("Rows before this row's batch stay written; fix or filter the value (a CASE, a cast) and insert the rest.")
            }
            FdwError::Unsupported { message, hint } => {
                report(ERRCODE_FEATURE_NOT_SUPPORTED, message.clone()).hint(hint.clone())
            }
            _ => unreachable!("called for the kinds above"),
        }
    }
}

impl FdwError {
    /// The report of an insert stopped at a batch: Dune's error, how many rows were written
    /// before, and whether the failed batch may be in the table.
    fn insert_report(&self) -> Report {
        let FdwError::Insert(failure) = self else {
            unreachable!("called for Insert")
        };
        let InsertFailure {
            table,
            target,
            server,
            written,
            first,
            rows,
            error,
        } = failure.as_ref();
        let last = first + rows - 1;
        let inner = match error {
            ApiError::Forbidden(message) => FdwError::WriteForbidden {
                message: message.clone(),
                server: server.clone(),
            }
            .writes_and_reads_report(),
            e => api_report(e),
        };
        let mut r = report(
            inner.code,
            format!(
                "insert into {target} (foreign table \"{table}\") stopped: {}",
                inner.message
            ),
        );
        let before = format!("{written} rows of this statement were written to Dune before it");
        // an I/O thread that failed without an answer: the request may have gone out
        let unknown = error.maybe_executed() || matches!(error, ApiError::InvalidResponse(_));
        let (batch, were) = if *rows == 1 {
            (format!("Row {first}"), "was")
        } else {
            (format!("Rows {first} to {last} ({rows} rows)"), "were")
        };
        r.detail = Some(if unknown {
            format!(
                "{before}. {batch} sent in one request may have been written: Dune writes a request's rows all or none, and a request whose outcome is unknown is not sent again, so that no row is written twice. No later row was sent."
            )
        } else {
            let lines = if matches!(error, ApiError::BadRequest(_)) && *first > 1 {
                format!(" Dune's line numbers count from row {first}, the batch's first row.")
            } else {
                String::new()
            };
            format!("{before}. {batch} {were} not written, and no later row was sent.{lines}")
        });
        let check = if *written > 0 || unknown {
            format!(
                " Rows written stay written even if the transaction rolls back; SELECT count(*) FROM {table} shows what the Dune table holds."
            )
        } else {
            String::new()
        };
        r.hint(
            format!("{}{check}", inner.hint.unwrap_or_default())
                .trim()
                .to_string(),
        )
    }

    fn to_report(&self) -> Report {
        use PgSqlErrorCode::*;
        match self {
            FdwError::Api(e) => api_report(e),
            FdwError::NoServer(name) => report(ERRCODE_UNDEFINED_OBJECT, format!("server \"{name}\" does not exist"))
                .hint("CREATE EXTENSION dune_fdw creates the server dune; SET dune_fdw.server names another one."),
            FdwError::NotDuneServer(name) => report(
                ERRCODE_FDW_INVALID_OPTION_NAME,
                format!("server \"{name}\" does not use the dune_fdw foreign-data wrapper"),
            )
            .hint("SET dune_fdw.server to a server created with FOREIGN DATA WRAPPER dune_fdw."),
            FdwError::NoUsage { user, server } => report(
                ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!("permission denied for foreign server {server}"),
            )
            .hint(format!("A superuser or the server's owner can run: GRANT USAGE ON FOREIGN SERVER {server} TO {user};")),
            FdwError::NoUserMapping { user, server } => report(
                ERRCODE_UNDEFINED_OBJECT,
                format!("user mapping not found for user \"{user}\" and server \"{server}\""),
            )
            .hint(format!("Store your Dune API key: CREATE USER MAPPING FOR CURRENT_USER SERVER {server} OPTIONS (api_key '...');")),
            FdwError::NoApiKey { server } => report(
                ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
                format!("the user mapping for server \"{server}\" has no api_key"),
            )
            .hint(format!("ALTER USER MAPPING FOR CURRENT_USER SERVER {server} OPTIONS (ADD api_key '...');")),
            FdwError::InvalidArgument(m) => report(ERRCODE_INVALID_PARAMETER_VALUE, m.clone()),
            FdwError::InvalidOption { message, hint } => {
                let r = report(ERRCODE_FDW_INVALID_OPTION_NAME, message.clone());
                match hint {
                    Some(h) => r.hint(h.clone()),
                    None => r,
                }
            }
            FdwError::WriteForbidden { .. }
            | FdwError::MaybeCreated(_)
            | FdwError::Insert(_)
            | FdwError::BadUpload(_)
            | FdwError::Unsupported { .. }
            | FdwError::TooManyReads { .. } => self.writes_and_reads_report(),
            FdwError::MissingQueryId(table) => report(
                ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED,
                format!("{table} needs the query: WHERE query_id = <id>"),
            )
            .hint(format!(
                "For example: SELECT \"row\" FROM {table} WHERE query_id = 1252207; or WHERE query_id IN (1252207, 1258228), and optionally AND params = '{{\"Time Period\": \"day\"}}'"
            )),
            FdwError::FilterRequired { table, columns } => filter_required(table, columns),
            FdwError::BadValue { table, column, row, value, problem } => report(
                ERRCODE_INVALID_TEXT_REPRESENTATION,
                format!("column \"{column}\" of foreign table \"{table}\", row {row}: {problem}: {value}"),
            )
            .hint(if problem.contains("u0000") {
                "PostgreSQL text and jsonb cannot hold \\u0000: remove it in the Dune query (replace(col, chr(0), '')), or leave the row out with a WHERE that Dune can filter on."
            } else {
                "Declare the column with a type that fits the Dune values (text always does)."
            }),

            FdwError::NoSuchColumn { table, column, available } => report(
                ERRCODE_FDW_COLUMN_NAME_NOT_FOUND,
                format!("the Dune result has no column \"{column}\" for foreign table \"{table}\""),
            )
            .detail(format!("Its columns are: {}", available.join(", ")))
            .hint("Rename the column, or map it: ALTER FOREIGN TABLE ... ALTER COLUMN ... OPTIONS (ADD column_name '...')"),
            FdwError::NoColumns { query } => report(
                ERRCODE_FDW_TABLE_NOT_FOUND,
                format!("the latest result of query {query} has no columns to import"),
            )
            .hint(format!("Declare the table by hand: CREATE FOREIGN TABLE ... (column type, ...) SERVER dune OPTIONS (query_id '{query}');")),
            FdwError::Internal(m) => report(ERRCODE_INTERNAL_ERROR, m.clone()),
        }
    }

    /// Raises this error as a Postgres ERROR; does not return.
    pub fn raise(self) -> ! {
        let r = self.to_report();
        let mut e = ErrorReport::new(r.code, r.message, "dune_fdw");
        if let Some(d) = r.detail {
            e = e.set_detail(d);
        }
        if let Some(h) = r.hint {
            e = e.set_hint(h);
        }
        e.report(PgLogLevel::ERROR);
        unreachable!("ERROR does not return")
    }
}

/// The report of [`FdwError::FilterRequired`].
fn filter_required(table: &str, columns: &[String]) -> Report {
    report(
        PgSqlErrorCode::ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED,
        format!(
            "foreign table \"{table}\" requires a condition on {} that Dune can evaluate (require_filter): nothing was run",
            columns.join(" or ")
        ),
    )
    .hint(format!(
        "Add one, such as a range or an equality on {} (WHERE block_time > now() - interval '1 day' for a time); conditions on other columns, LIMIT, or values PostgreSQL cannot send (NULL, infinity) do not count. To read the whole table anyway, give the table an empty rule: ALTER FOREIGN TABLE {table} OPTIONS (ADD require_filter '') (SET when it has one).",
        columns[0]
    ))
}

/// Unwraps or raises: the last step of every SQL-callable function.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T, E: Into<FdwError>> OrRaise<T> for Result<T, E> {
    fn or_raise(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => e.into().raise(),
        }
    }
}
