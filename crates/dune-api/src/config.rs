//! How to reach Dune: base URL, key, timeouts, retry budget, response size cap.

use crate::error::Error;
use crate::secret::ApiKey;
use std::time::Duration;

/// Dune's production API.
pub const DEFAULT_API_URL: &str = "https://api.dune.com/api";

/// How one client reaches Dune (server options of the extension map onto these fields).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The base URL, without `/v1`: `https://api.dune.com/api`.
    pub api_url: String,
    /// The account's key, sent in the `X-Dune-Api-Key` header only.
    pub api_key: ApiKey,
    /// The most one request may take, from connecting to the last byte of the body.
    pub request_timeout: Duration,
    /// The most connecting may take.
    pub connect_timeout: Duration,
    /// How many times a failed request is tried again (429, 500, 502, 503, 504, network errors).
    pub max_retries: u32,
    /// The longest wait between two tries, whatever Retry-After asks for.
    pub max_retry_wait: Duration,
    /// The largest response body accepted.
    pub max_response_bytes: u64,
    /// Rows asked for per results request.
    pub page_size: u64,
    /// The most results requests of one read in flight at once (`ahead.rs`); 1 reads one
    /// page after the other.
    pub fetch_concurrency: usize,
    /// Sends `ignore_max_datapoints_per_request=true` with every results request (API
    /// reference §5.1): for accounts that raised their per-request limit, so that a page may
    /// hold more than 250,000 datapoints.
    pub ignore_max_datapoints: bool,
    /// Where finished results are kept and served from (`cache.rs`); None reads Dune every
    /// time.
    pub cache: Option<CacheSettings>,
}

/// Where the result cache lives and how large it may grow.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheSettings {
    /// The cache's directory (the extension uses `$PGDATA/dune_fdw_cache`); one subdirectory
    /// per account (a hash of the API URL and key).
    pub dir: std::path::PathBuf,
    /// The most bytes of pages kept for one account; the least recently used entries go first.
    pub max_bytes: u64,
}

impl ClientConfig {
    /// The defaults: 60 s per request, 10 s to connect, 5 retries waiting at most 60 s,
    /// 256 MiB per response, 32,000 rows per page, 4 pages in flight, no cache. Errors: `InvalidArgument` for a bad URL.
    pub fn new(api_url: &str, api_key: ApiKey) -> Result<ClientConfig, Error> {
        Ok(ClientConfig {
            api_url: normalize_api_url(api_url)?,
            api_key,
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_retries: 5,
            max_retry_wait: Duration::from_secs(60),
            max_response_bytes: 256 * 1024 * 1024,
            page_size: 32_000,
            fetch_concurrency: 4,
            ignore_max_datapoints: false,
            cache: None,
        })
    }
}

/// Checks an `api_url` and drops a trailing slash. It must be an absolute http(s) URL without
/// credentials, query or fragment.
pub fn normalize_api_url(url: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::InvalidArgument(format!("invalid api_url \"{url}\": {why}"));
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("it must start with https:// or http://"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err(bad("it has no host"));
    }
    if host.contains('@') {
        return Err(bad(
            "credentials do not belong in the URL; put the key in a user mapping",
        ));
    }
    if url.contains('?') || url.contains('#') {
        return Err(bad("it must not have a query string or fragment"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it must not contain spaces or control characters"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_are_checked() {
        assert_eq!(
            normalize_api_url("https://api.dune.com/api/").unwrap(),
            "https://api.dune.com/api"
        );
        assert!(normalize_api_url("http://127.0.0.1:8080/api").is_ok());
        for bad in [
            "ftp://x",
            "api.dune.com",
            "https://",
            "https://u:p@host/api",
            "https://h/api?x=1",
            "https://h/a b",
        ] {
            assert!(normalize_api_url(bad).is_err(), "{bad}");
        }
    }
}
