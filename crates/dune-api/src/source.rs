//! What a request reads, as one typed model: [`ResultSource`], built from newtypes that are
//! checked once where the user's value enters (a SQL argument, a table option) and trusted
//! after. Each `TryFrom` refuses, with [`Error::InvalidArgument`] naming the value, what Dune
//! would misread or what could change the request path; nothing is sent before that.
//! Dune API reference (docs.dune.com/api-reference): "Execute Query" (`query_parameters`,
//! `performance`), "Execute SQL", "Get Latest Query Result" (`params.<name>`).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

/// The performance tiers Dune accepts (Dune API reference: "Execute Query" lists small,
/// medium and large; `free` is newer and not on every plan).
pub const PERFORMANCE_TIERS: [&str; 4] = ["small", "medium", "large", "free"];

const MAX_PARAMS_BYTES: usize = 64 * 1024;
const MAX_SQL_BYTES: usize = 1024 * 1024;

fn invalid<T>(message: String) -> Result<T> {
    Err(Error::InvalidArgument(message))
}

/// A saved query's id: a positive integer (the `{query_id}` of `/v1/query/{query_id}/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct QueryId(u64);

impl QueryId {
    /// The id as Dune numbers it.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<i64> for QueryId {
    type Error = Error;
    /// Errors: `InvalidArgument` for zero or a negative id.
    fn try_from(id: i64) -> Result<QueryId> {
        if id <= 0 {
            return invalid(format!("query_id must be a positive integer, not {id}"));
        }
        Ok(QueryId(id as u64))
    }
}

impl From<QueryId> for i64 {
    fn from(q: QueryId) -> i64 {
        q.0 as i64
    }
}

impl fmt::Display for QueryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An execution id: 10 to 64 ASCII letters and digits (Dune's are 26-character ULIDs such as
/// `01HKZJ2683PHF9Q9PHHQ8FW4Q1`), so that it can never change the request path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExecutionId(String);

impl ExecutionId {
    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for ExecutionId {
    type Error = Error;
    /// Errors: `InvalidArgument` for anything but 10–64 ASCII alphanumerics.
    fn try_from(id: &str) -> Result<ExecutionId> {
        if id.len() < 10 || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            let shown: String = id.chars().take(70).collect();
            return invalid(format!(
                "\"{shown}\" is not a Dune execution id (ids look like 01HKZJ2683PHF9Q9PHHQ8FW4Q1)"
            ));
        }
        Ok(ExecutionId(id.to_string()))
    }
}

impl TryFrom<String> for ExecutionId {
    type Error = Error;
    fn try_from(id: String) -> Result<ExecutionId> {
        ExecutionId::try_from(id.as_str())
    }
}

impl From<ExecutionId> for String {
    fn from(id: ExecutionId) -> String {
        id.0
    }
}

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Query parameters: a flat JSON object of at most 64 KiB whose names are not empty and whose
/// values are strings, numbers, booleans, or lists of those (multi-select).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct Params(Map<String, Value>);

impl Params {
    /// Parameters from a JSON value; `Ok(None)` for SQL NULL or JSON null (no parameters).
    /// Errors: `InvalidArgument` naming the parameter or the shape that is wrong.
    pub fn from_json(value: Option<Value>) -> Result<Option<Params>> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Params::try_from(v).map(Some),
        }
    }

    /// Parameters from JSON text (a table option). Errors: `InvalidArgument` for text that is
    /// not JSON, and as [`Params::from_json`].
    pub fn from_text(text: &str) -> Result<Option<Params>> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Error::InvalidArgument(format!("params must be a JSON object: {e}")))?;
        Params::from_json(Some(v))
    }

    /// The object, as sent in an execute's `query_parameters`.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The `params.<name>=<value>` pairs of a latest-results request (Dune API reference:
    /// "Get Latest Query Result"): one pair per value, a list giving one pair per item.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .flat_map(|(k, v)| {
                query_param_texts(v)
                    .into_iter()
                    .map(move |t| (format!("params.{k}"), t))
            })
            .collect()
    }
}

fn query_param_texts(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(query_param_texts).collect(),
        other => vec![other.to_string()],
    }
}

impl TryFrom<Value> for Params {
    type Error = Error;
    fn try_from(v: Value) -> Result<Params> {
        let obj = match v {
            Value::Object(m) => m,
            other => {
                return invalid(format!(
                    "params must be a JSON object such as {{\"Time Period\": \"day\"}}, not {other}"
                ));
            }
        };
        if Value::Object(obj.clone()).to_string().len() > MAX_PARAMS_BYTES {
            return invalid(format!("params is larger than {MAX_PARAMS_BYTES} bytes"));
        }
        for (k, val) in &obj {
            let scalar =
                |x: &Value| matches!(x, Value::String(_) | Value::Number(_) | Value::Bool(_));
            let ok = scalar(val) || matches!(val, Value::Array(items) if items.iter().all(scalar));
            if !ok {
                return invalid(format!(
                    "parameter \"{k}\" must be a string, a number, a boolean or a list of those, not {val}"
                ));
            }
            if k.is_empty() {
                return invalid("a parameter name is empty".into());
            }
            if matches!(val, Value::Array(items) if items.is_empty()) {
                return invalid(format!(
                    "parameter \"{k}\" is an empty list: a multi-select parameter needs at least one value (leave the parameter out for its default)"
                ));
            }
        }
        Ok(Params(obj))
    }
}

impl From<Params> for Value {
    fn from(p: Params) -> Value {
        Value::Object(p.0)
    }
}

/// A performance tier, one of [`PERFORMANCE_TIERS`] (the execute body's `performance`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Performance(String);

impl Performance {
    /// A tier from an optional argument. Errors: `InvalidArgument` listing the tiers.
    pub fn from_option(tier: Option<&str>) -> Result<Option<Performance>> {
        tier.map(Performance::try_from).transpose()
    }

    /// The tier's name, as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for Performance {
    type Error = Error;
    fn try_from(t: &str) -> Result<Performance> {
        if PERFORMANCE_TIERS.contains(&t) {
            Ok(Performance(t.to_string()))
        } else {
            invalid(format!(
                "unknown performance tier \"{t}\": use one of {}",
                PERFORMANCE_TIERS.join(", ")
            ))
        }
    }
}

impl TryFrom<String> for Performance {
    type Error = Error;
    fn try_from(t: String) -> Result<Performance> {
        Performance::try_from(t.as_str())
    }
}

impl From<Performance> for String {
    fn from(p: Performance) -> String {
        p.0
    }
}

/// Raw DuneSQL: not blank, at most 1 MiB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sql(String);

impl Sql {
    /// The statement's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for Sql {
    type Error = Error;
    fn try_from(text: &str) -> Result<Sql> {
        if text.trim().is_empty() {
            return invalid("the SQL text is empty".into());
        }
        if text.len() > MAX_SQL_BYTES {
            return invalid(format!("the SQL text is larger than {MAX_SQL_BYTES} bytes"));
        }
        Ok(Sql(text.to_string()))
    }
}

impl TryFrom<String> for Sql {
    type Error = Error;
    fn try_from(text: String) -> Result<Sql> {
        Sql::try_from(text.as_str())
    }
}

impl From<Sql> for String {
    fn from(s: Sql) -> String {
        s.0
    }
}

/// Where the rows of a read come from. Serializable, so that a plan can carry it as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ResultSource {
    /// The latest result of a saved query (for `params` when given, "Get Latest Query Result"); when
    /// `max_age` is set and the result is older, the query is executed first (with
    /// `performance`) and that execution is read.
    Latest {
        /// The saved query.
        query: QueryId,
        /// The parameter combination wanted; None for the latest of any.
        params: Option<Params>,
        /// How old a result may be before it is refreshed.
        max_age: Option<Duration>,
        /// The tier of a refreshing execution.
        performance: Option<Performance>,
    },
    /// A new execution of a saved query (Dune API reference: "Execute Query").
    Execute {
        /// The saved query.
        query: QueryId,
        /// Its parameters.
        params: Option<Params>,
        /// The tier.
        performance: Option<Performance>,
    },
    /// A new execution of raw DuneSQL (Dune API reference: "Execute SQL").
    Sql {
        /// The statement.
        sql: Sql,
        /// The tier.
        performance: Option<Performance>,
    },
    /// An existing execution.
    Execution(ExecutionId),
}

/// A parameter value as Dune takes it: text as is, numbers in their digits, booleans as
/// true/false, timestamps without a zero fraction (Dune's datetime parameters are
/// `YYYY-MM-DD hh:mm:ss`, API reference §8), a `date` as its midnight, bytes as `0x…`.
pub fn param_text(value: &crate::Literal, date: bool) -> String {
    use crate::Literal;
    match value {
        Literal::Text(t) if date && t.len() == 10 => format!("{t} 00:00:00"),
        Literal::Text(t) => t.strip_suffix(".000000").unwrap_or(t).to_string(),
        Literal::Number(n) => n.clone(),
        Literal::Bool(b) => b.to_string(),
        Literal::Bytes(b) => format!(
            "0x{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
        Literal::Placeholder(n) => format!("${n}"),
    }
}

impl ResultSource {
    /// The query parameters of a saved query's source (latest result or execution).
    pub fn params(&self) -> Option<&Params> {
        match self {
            ResultSource::Latest { params, .. } | ResultSource::Execute { params, .. } => {
                params.as_ref()
            }
            _ => None,
        }
    }

    /// The same source with parameter `values` (name, value as Dune takes it: a string) set
    /// over its own; raw SQL and executions have no parameters and are returned as they are.
    pub fn with_params(&self, values: &[(String, String)]) -> ResultSource {
        let mut out = self.clone();
        if let ResultSource::Latest { params, .. } | ResultSource::Execute { params, .. } = &mut out
        {
            let mut map = params.take().map(|p| p.0).unwrap_or_default();
            for (name, value) in values {
                map.insert(name.clone(), Value::String(value.clone()));
            }
            *params = Some(Params(map));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rejects_what_dune_would_misread() {
        assert!(QueryId::try_from(0).is_err() && QueryId::try_from(-5).is_err());
        assert_eq!(QueryId::try_from(1).unwrap().get(), 1);
        assert!(ExecutionId::try_from("01HKZJ2683PHF9Q9PHHQ8FW4Q1").is_ok());
        for bad in ["Wonky Job ID", "../../query/1", "01HKZ", ""] {
            assert!(ExecutionId::try_from(bad).is_err(), "{bad}");
        }
        assert!(Performance::try_from("medium").is_ok());
        assert!(
            Performance::try_from("turbo")
                .unwrap_err()
                .to_string()
                .contains("small, medium, large, free")
        );
        assert!(Params::from_json(Some(json!([1]))).is_err());
        assert!(Params::from_json(Some(json!({"a": {"b": 1}}))).is_err());
        assert!(Params::from_json(Some(json!({"a": ["x", "y"], "n": 3, "t": "day"}))).is_ok());
        assert_eq!(Params::from_json(Some(Value::Null)).unwrap(), None);
        let empty = Params::from_json(Some(json!({"chains": []}))).unwrap_err();
        assert!(
            empty.to_string().contains("\"chains\" is an empty list"),
            "{empty}"
        );
        assert!(Performance::try_from("small").is_ok());
        let huge = json!({"a": "x".repeat(70_000)});
        assert!(Params::from_json(Some(huge)).is_err());
        assert!(Sql::try_from("  ").is_err());
        assert!(Params::from_text("{nope").is_err());
    }

    #[test]
    fn list_parameters_become_one_pair_per_item() {
        let p = Params::from_json(Some(json!({"chains": ["a", "b"], "n": 3})))
            .unwrap()
            .unwrap();
        assert_eq!(
            p.query_pairs(),
            vec![
                ("params.chains".to_string(), "a".to_string()),
                ("params.chains".to_string(), "b".to_string()),
                ("params.n".to_string(), "3".to_string()),
            ]
        );
    }

    #[test]
    fn a_source_survives_a_plan_round_trip_and_is_checked_again_on_the_way_in() {
        let s = ResultSource::Latest {
            query: QueryId::try_from(7).unwrap(),
            params: Params::from_text(r#"{"t": "day"}"#).unwrap(),
            max_age: Some(Duration::from_secs(60)),
            performance: Some(Performance::try_from("large").unwrap()),
        };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<ResultSource>(&text).unwrap(), s);
        let forged = text.replace("\"large\"", "\"turbo\"");
        assert!(serde_json::from_str::<ResultSource>(&forged).is_err());
    }
}
