//! The API key: kept out of Debug output, and scrubbed from any text that leaves the client.

use std::fmt;

/// A Dune API key; its `Debug` prints `ApiKey(****)` and nothing ever formats it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The key itself, for the request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced by `****`.
    pub fn redact(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_string();
        }
        text.replace(&self.0, "****")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_the_key() {
        let k = ApiKey::new("sk_live_123456");
        assert_eq!(format!("{k:?}"), "ApiKey(****)");
        assert_eq!(k.redact("bad key sk_live_123456!"), "bad key ****!");
    }
}
