//! A blocking client for the Dune Analytics API v1, with no Postgres in it: requests with
//! timeouts, bounded retries that never send an execute twice, paging that holds one page at a
//! time, tolerant parsing, and checks on user input before anything is sent.
//!
//! The key lives in [`secret::ApiKey`] and never appears in an error message.

pub mod abandon;
pub mod cancel;
pub mod client;
pub mod config;
pub mod error;
pub mod filters;
pub mod http;
pub mod jsonb;
pub mod models;
pub mod pages;
pub mod poll;
pub mod prepare;
pub mod progress;
pub mod retry;
pub mod rows;
pub mod scan;
pub mod secret;
pub mod time;
pub mod types;
pub mod validate;
pub mod values;

pub use cancel::Cancel;
pub use client::{Client, Read, Source};
pub use config::{ClientConfig, DEFAULT_API_URL};
pub use error::{Error, NotFound, Result};
pub use models::{ExecState, Page, ResultMetadata, Status};
pub use pages::Pager;
pub use progress::{Progress, ProgressSink};
pub use secret::ApiKey;
