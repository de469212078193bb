//! Checks on what the user asks for, before anything is sent.

use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// The performance tiers Dune accepts (`free` is newer and not on every plan).
pub const PERFORMANCE_TIERS: [&str; 3] = ["medium", "large", "free"];

const MAX_PARAMS_BYTES: usize = 64 * 1024;
const MAX_SQL_BYTES: usize = 1024 * 1024;

pub fn query_id(id: i64) -> Result<u64> {
    if id <= 0 {
        return Err(Error::InvalidArgument(format!(
            "query_id must be a positive integer, not {id}"
        )));
    }
    Ok(id as u64)
}

/// Execution ids are ULIDs such as 01HKZJ2683PHF9Q9PHHQ8FW4Q1; anything that could change the
/// request path is refused.
pub fn execution_id(id: &str) -> Result<&str> {
    if id.len() < 10 || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        let shown: String = id.chars().take(70).collect();
        return Err(Error::InvalidArgument(format!(
            "\"{shown}\" is not a Dune execution id (ids look like 01HKZJ2683PHF9Q9PHHQ8FW4Q1)"
        )));
    }
    Ok(id)
}

pub fn performance(tier: Option<&str>) -> Result<Option<&str>> {
    match tier {
        None => Ok(None),
        Some(t) if PERFORMANCE_TIERS.contains(&t) => Ok(Some(t)),
        Some(t) => Err(Error::InvalidArgument(format!(
            "unknown performance tier \"{t}\": use one of {}",
            PERFORMANCE_TIERS.join(", ")
        ))),
    }
}

/// Query parameters: a flat JSON object whose values are strings, numbers, booleans, or lists
/// of those (multi-select).
pub fn params(p: Option<&Value>) -> Result<Option<&Map<String, Value>>> {
    let Some(v) = p else { return Ok(None) };
    let obj = match v {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        other => {
            return Err(Error::InvalidArgument(format!(
                "params must be a JSON object such as {{\"Time Period\": \"day\"}}, not {other}"
            )));
        }
    };
    if v.to_string().len() > MAX_PARAMS_BYTES {
        return Err(Error::InvalidArgument(format!(
            "params is larger than {MAX_PARAMS_BYTES} bytes"
        )));
    }
    for (k, val) in obj {
        let scalar = |x: &Value| matches!(x, Value::String(_) | Value::Number(_) | Value::Bool(_));
        let ok = scalar(val) || matches!(val, Value::Array(items) if items.iter().all(scalar));
        if !ok {
            return Err(Error::InvalidArgument(format!(
                "parameter \"{k}\" must be a string, a number, a boolean or a list of those, not {val}"
            )));
        }
        if k.is_empty() {
            return Err(Error::InvalidArgument("a parameter name is empty".into()));
        }
    }
    Ok(Some(obj))
}

pub fn sql(text: &str) -> Result<&str> {
    if text.trim().is_empty() {
        return Err(Error::InvalidArgument("the SQL text is empty".into()));
    }
    if text.len() > MAX_SQL_BYTES {
        return Err(Error::InvalidArgument(format!(
            "the SQL text is larger than {MAX_SQL_BYTES} bytes"
        )));
    }
    Ok(text)
}

/// A parameter value as it travels in a query string (`params.<name>=<value>`).
pub fn param_text(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(param_text).collect(),
        other => vec![other.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rejects_what_dune_would_misread() {
        assert!(query_id(0).is_err() && query_id(-5).is_err() && query_id(1).is_ok());
        assert!(execution_id("01HKZJ2683PHF9Q9PHHQ8FW4Q1").is_ok());
        for bad in ["Wonky Job ID", "../../query/1", "01HKZ", ""] {
            assert!(execution_id(bad).is_err(), "{bad}");
        }
        assert!(performance(Some("medium")).is_ok());
        assert!(
            performance(Some("turbo"))
                .unwrap_err()
                .to_string()
                .contains("medium, large, free")
        );
        assert!(params(Some(&json!([1]))).is_err());
        assert!(params(Some(&json!({"a": {"b": 1}}))).is_err());
        assert!(params(Some(&json!({"a": ["x", "y"], "n": 3, "t": "day"}))).is_ok());
        let huge = json!({"a": "x".repeat(70_000)});
        assert!(params(Some(&huge)).is_err());
        assert!(sql("  ").is_err());
    }
}
