//! A blocking client for the Dune Analytics API v1, with no Postgres in it: requests with
//! timeouts, bounded retries that never send an execute twice, paging that holds a bounded
//! number of pages (one, or those in flight of `ahead.rs`), status polling, Dune's filter language, tolerant parsing of answers, and checks on
//! user input ([`ResultSource`] and its newtypes) before anything is sent.
//!
//! The key lives in [`ApiKey`] and never appears in an error message. Quoted titles in the
//! documentation ("Execute Query", "Get Execution Result", ...) name the pages of Dune's
//! public API reference, docs.dune.com/api-reference.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod abandon;
mod ahead;
mod bind;
mod cache;
mod cancel;
mod client;
mod config;
mod dune_type;
mod dunesql;
mod error;
mod filters;
mod http;
mod manage;
mod models;
mod pages;
mod poll;
mod progress;
mod read;
mod retry;
mod rows;
mod secret;
mod source;
mod statement;
mod time;
mod uploads;

pub use abandon::{AbandonGuard, any_abandoned, cancel_abandoned, cancel_armed};
pub use bind::{
    Bound, BoundRequest, BoundSelect, Conjuncts, PValue, ParamValue, ResultRequest, bind_conjuncts,
};
pub use cache::{
    CacheEntry, EntryMeta, Hit, LatestSeen, ResultCache, Serve, StatementSeen, Writer, serves,
};
pub use cancel::Cancel;
pub use client::{Client, QueryParameter, Read, columns_param};
pub use config::{CacheSettings, ClientConfig, DEFAULT_API_URL, normalize_api_url};
pub use dune_type::DuneType;
pub use dunesql::{Dataset, DuneRelation, write_literal};
pub use error::{Error, NotFound, Result};
pub use filters::{Filter, Literal, MAX_FILTERS_BYTES, Op, conjunction, sort_by, within_bound};
pub use manage::QueryAction;
pub use models::{ExecState, Page, ResultMetadata, Status};
pub use pages::Pager;
pub use progress::{Progress, ProgressSink};
pub use read::{ReadEvent, ReadSpec, Started, read};
pub use rows::Rows;
pub use secret::ApiKey;
pub use source::{
    ExecutionId, PERFORMANCE_TIERS, Params, Performance, QueryId, ResultSource, Sql, param_text,
};
pub use statement::{Aggregate, Arith, ColumnRef, Expr, Func, Join, JoinKind, OrderKey, Select};
pub use time::parse_rfc3339_ms;
pub use uploads::{
    InsertFormat, Inserted, MAX_NAME_LEN, TableName, UPLOAD_TYPES, Upload, UploadColumn,
    UploadedColumn, check_name, check_namespace,
};
