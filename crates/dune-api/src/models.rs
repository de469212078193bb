//! The API's answers, read tolerantly: optional fields may be missing, unknown fields and
//! unknown states are kept rather than rejected.

use crate::error::{Error, Result};
use crate::rows::{Envelope, Rows, spans_of};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
/// An execution's state (Dune API reference: "Get Execution Status"), both spellings of CANCELLED read alike.
pub enum ExecState {
    /// `QUERY_STATE_PENDING`: queued.
    Pending,
    /// `QUERY_STATE_EXECUTING`.
    Executing,
    /// `QUERY_STATE_COMPLETED`: the result is ready.
    Completed,
    /// `QUERY_STATE_COMPLETED_PARTIAL`: Dune kept only part of the result.
    CompletedPartial,
    /// `QUERY_STATE_FAILED`, with an error message.
    Failed,
    /// `QUERY_STATE_CANCELLED` (or `QUERY_STATE_CANCELED`).
    Cancelled,
    /// `QUERY_STATE_EXPIRED`: the result is gone.
    Expired,
    /// A state this version does not know, kept as Dune spelled it.
    Unknown(String),
}

impl ExecState {
    /// The state Dune spelled `s` (unknown spellings are kept).
    pub fn parse(s: &str) -> ExecState {
        match s {
            "QUERY_STATE_PENDING" => ExecState::Pending,
            "QUERY_STATE_EXECUTING" => ExecState::Executing,
            "QUERY_STATE_COMPLETED" => ExecState::Completed,
            "QUERY_STATE_COMPLETED_PARTIAL" => ExecState::CompletedPartial,
            "QUERY_STATE_FAILED" => ExecState::Failed,
            "QUERY_STATE_CANCELLED" | "QUERY_STATE_CANCELED" => ExecState::Cancelled,
            "QUERY_STATE_EXPIRED" => ExecState::Expired,
            other => ExecState::Unknown(other.to_string()),
        }
    }

    /// The state as Dune spells it.
    pub fn as_str(&self) -> &str {
        match self {
            ExecState::Pending => "QUERY_STATE_PENDING",
            ExecState::Executing => "QUERY_STATE_EXECUTING",
            ExecState::Completed => "QUERY_STATE_COMPLETED",
            ExecState::CompletedPartial => "QUERY_STATE_COMPLETED_PARTIAL",
            ExecState::Failed => "QUERY_STATE_FAILED",
            ExecState::Cancelled => "QUERY_STATE_CANCELLED",
            ExecState::Expired => "QUERY_STATE_EXPIRED",
            ExecState::Unknown(s) => s,
        }
    }

    /// The state without its prefix: `PENDING`, `COMPLETED`, ...
    pub fn short(&self) -> &str {
        let s = self.as_str();
        s.strip_prefix("QUERY_STATE_").unwrap_or(s)
    }

    /// Whether the execution can no longer change state.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ExecState::Completed
                | ExecState::CompletedPartial
                | ExecState::Failed
                | ExecState::Cancelled
                | ExecState::Expired
        )
    }
}

/// A result's `metadata` object (Dune API reference: "Get Execution Result"); absent fields are None.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultMetadata {
    /// The columns, in result order.
    pub column_names: Vec<String>,
    /// Their DuneSQL types (`varchar`, `uint256`, `timestamp(3) with time zone`, ...).
    pub column_types: Vec<String>,
    /// Rows in this page.
    pub row_count: Option<u64>,
    /// Rows in the whole result.
    pub total_row_count: Option<u64>,
    /// Datapoints (rows × columns) this response bills.
    pub datapoint_count: Option<u64>,
}

impl ResultMetadata {
    /// The metadata of a `metadata` value; None when it is not an object.
    pub fn from_json(v: &Value) -> Option<ResultMetadata> {
        let strings = |k: &str| -> Vec<String> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let obj = v.as_object()?;
        Some(ResultMetadata {
            column_names: strings("column_names"),
            column_types: strings("column_types"),
            row_count: obj.get("row_count").and_then(Value::as_u64),
            total_row_count: obj.get("total_row_count").and_then(Value::as_u64),
            datapoint_count: obj.get("datapoint_count").and_then(Value::as_u64),
        })
    }
}

fn object(body: &[u8], what: &str) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(Error::InvalidResponse(format!(
            "{what}: expected a JSON object, got {}",
            kind(&other)
        ))),
        Err(e) => Err(Error::InvalidResponse(format!(
            "{what}: invalid JSON ({e})"
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn required_str(m: &Map<String, Value>, key: &str, what: &str) -> Result<String> {
    match m.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(Error::InvalidResponse(format!(
            "{what}: \"{key}\" is {}, not a string",
            kind(other)
        ))),
        None => Err(Error::InvalidResponse(format!(
            "{what}: \"{key}\" is missing"
        ))),
    }
}

/// The answer to an execute request.
pub fn execution_id_from(body: &[u8]) -> Result<String> {
    required_str(
        &object(body, "execute response")?,
        "execution_id",
        "execute response",
    )
}

/// Where an execution stands.
#[derive(Debug, Clone)]
pub struct Status {
    /// The execution.
    pub execution_id: String,
    /// Its state.
    pub state: ExecState,
    /// Dune's own "finished" flag, when sent.
    pub is_execution_finished: Option<bool>,
    /// The position in the queue while pending.
    pub queue_position: Option<u64>,
    /// The error's message, for a failed execution.
    pub error_message: Option<String>,
    /// The result's metadata, once there is one.
    pub metadata: Option<ResultMetadata>,
    /// The whole object as Dune sent it.
    pub raw: Map<String, Value>,
}

impl Status {
    /// Reads a status response (Dune API reference: "Get Execution Status"). Errors: `InvalidResponse` naming the field.
    pub fn from_json(body: &[u8]) -> Result<Status> {
        let m = object(body, "status response")?;
        Self::from_map(m, "status response")
    }

    fn from_map(m: Map<String, Value>, what: &str) -> Result<Status> {
        let state = required_str(&m, "state", what)?;
        Ok(Status {
            execution_id: required_str(&m, "execution_id", what)?,
            state: ExecState::parse(&state),
            is_execution_finished: m.get("is_execution_finished").and_then(Value::as_bool),
            queue_position: m.get("queue_position").and_then(Value::as_u64),
            error_message: error_message(&m),
            metadata: m.get("result_metadata").and_then(ResultMetadata::from_json),
            raw: m,
        })
    }

    /// Finished: a terminal state, or Dune says so for a state this client does not know.
    pub fn finished(&self) -> bool {
        self.state.is_terminal() || self.is_execution_finished == Some(true)
    }
}

fn error_message(m: &Map<String, Value>) -> Option<String> {
    match m.get("error")? {
        Value::String(s) => Some(s.clone()),
        Value::Object(e) => Some(
            e.get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| Value::Object(e.clone()).to_string()),
        ),
        _ => None,
    }
}

/// One page of a JSON results response.
#[derive(Debug, Clone)]
pub struct Page {
    /// The execution the rows come from.
    pub execution_id: String,
    /// The query it is an execution of, when Dune says (not for raw SQL).
    pub query_id: Option<u64>,
    /// Its state.
    pub state: ExecState,
    /// Dune's own "finished" flag, when sent.
    pub is_execution_finished: Option<bool>,
    /// The error's message, for a failed execution.
    pub error_message: Option<String>,
    /// The page's rows, as Dune sent them.
    pub rows: Rows,
    /// The result's metadata.
    pub metadata: Option<ResultMetadata>,
    /// The offset of the next page; None on the last.
    pub next_offset: Option<u64>,
    /// The URL of the next page, as Dune wrote it.
    pub next_uri: Option<String>,
    /// When the execution ended (RFC 3339).
    pub execution_ended_at: Option<String>,
}

impl Page {
    /// Reads a results response, keeping its body as the rows' text.
    pub fn from_json(body: Vec<u8>) -> Result<Page> {
        let bad = |e: String| Error::InvalidResponse(format!("results response: {e}"));
        let text = String::from_utf8(body).map_err(|_| bad("not UTF-8".into()))?;
        let (fields, metadata, spans) = {
            let env: Envelope = serde_json::from_str(&text)
                .map_err(|e| bad(e.to_string().replace("invalid type: ", "")))?;
            let result = env.result.unwrap_or_default();
            let spans = match &result.rows {
                Some(rows) => spans_of(&text, rows).map_err(bad)?,
                None => Vec::new(),
            };
            (env.fields, result.metadata, spans)
        };
        let rows = Rows::from_spans(text, spans);
        let next_offset = fields.get("next_offset").and_then(Value::as_u64);
        let next_uri = fields
            .get("next_uri")
            .and_then(Value::as_str)
            .map(str::to_string);
        let execution_ended_at = fields
            .get("execution_ended_at")
            .and_then(Value::as_str)
            .map(str::to_string);
        let query_id = fields.get("query_id").and_then(Value::as_u64);
        let status = Status::from_map(fields, "results response")?;
        Ok(Page {
            query_id,
            next_offset,
            next_uri,
            execution_ended_at,
            execution_id: status.execution_id,
            state: status.state,
            is_execution_finished: status.is_execution_finished,
            error_message: status.error_message,
            rows,
            metadata: metadata.as_ref().and_then(ResultMetadata::from_json),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_cancel_spellings_and_unknown_states_parse() {
        assert_eq!(
            ExecState::parse("QUERY_STATE_CANCELED"),
            ExecState::Cancelled
        );
        assert_eq!(
            ExecState::parse("QUERY_STATE_CANCELLED"),
            ExecState::Cancelled
        );
        let s = ExecState::parse("QUERY_STATE_SOMETHING_NEW");
        assert!(!s.is_terminal());
        assert_eq!(s.short(), "SOMETHING_NEW");
    }

    #[test]
    fn status_tolerates_missing_and_extra_fields() {
        let s = Status::from_json(br#"{"execution_id":"01X","state":"QUERY_STATE_PENDING","queue_position":33894,"brand_new":1}"#).unwrap();
        assert_eq!(s.queue_position, Some(33894));
        assert!(!s.finished());
        let s = Status::from_json(
            br#"{"execution_id":"01X","state":"QUERY_STATE_NEW","is_execution_finished":true}"#,
        )
        .unwrap();
        assert!(s.finished(), "Dune's own flag wins for unknown states");
        let s = Status::from_json(br#"{"execution_id":"01X","state":"QUERY_STATE_FAILED","error":{"type":"T","message":"line 1:8: boom"}}"#).unwrap();
        assert_eq!(s.error_message.as_deref(), Some("line 1:8: boom"));
    }

    #[test]
    fn bad_shapes_are_clear_errors() {
        let e = Status::from_json(b"{not json").unwrap_err();
        assert!(e.to_string().contains("invalid JSON"), "{e}");
        let e = Status::from_json(br#"{"execution_id":5,"state":"x"}"#).unwrap_err();
        assert!(
            e.to_string().contains("\"execution_id\" is a number"),
            "{e}"
        );
        let e = Page::from_json(
            br#"{"execution_id":"01X","state":"QUERY_STATE_COMPLETED","result":{"rows":[1]}}"#
                .to_vec(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("row 0 is not a JSON object"), "{e}");
    }
}
