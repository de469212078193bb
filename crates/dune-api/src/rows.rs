//! Result rows. A page keeps its rows as the raw JSON text Dune sent (split into rows, each
//! checked to be an object), so that they can be decoded straight into what is needed on the
//! I/O thread: prepared cells for a typed table, the row's own text for jsonb.

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;

/// A page's rows as the JSON text Dune sent: the response body, and where each row is in it.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    text: String,
    /// (start, length) of each row's object in `text`, found once when the page is read.
    spans: Vec<(usize, usize)>,
    /// Rows kept (a LIMIT may keep fewer than were sent).
    keep: usize,
}

/// Where each of `rows` (slices of `text`) is in `text`; every row must be a JSON object.
pub fn spans_of(text: &str, rows: &[&RawValue]) -> Result<Vec<(usize, usize)>, String> {
    let base = text.as_ptr() as usize;
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let row = r.get();
            if !row.starts_with('{') {
                let excerpt: String = row.chars().take(60).collect();
                let more = if excerpt.len() < row.len() { "..." } else { "" };
                return Err(format!("row {i} is not a JSON object: {excerpt}{more}"));
            }
            Ok((row.as_ptr() as usize - base, row.len()))
        })
        .collect()
}

impl Rows {
    /// The rows at `spans` of `text`.
    pub fn from_spans(text: String, spans: Vec<(usize, usize)>) -> Rows {
        let keep = spans.len();
        Rows { text, spans, keep }
    }

    /// The rows of a JSON array of objects.
    pub fn from_array(array: &str) -> Result<Rows, String> {
        let spans = {
            let rows: Vec<&RawValue> = serde_json::from_str(array)
                .map_err(|e| format!("\"rows\" is not an array of rows: {e}"))?;
            spans_of(array, &rows)?
        };
        Ok(Rows::from_spans(array.to_string(), spans))
    }

    /// Rows kept.
    pub fn len(&self) -> usize {
        self.keep
    }

    /// Whether no row is kept.
    pub fn is_empty(&self) -> bool {
        self.keep == 0
    }

    /// Drops the first `n` rows kept.
    pub fn skip(&mut self, n: usize) {
        let n = n.min(self.keep);
        self.spans.drain(..n);
        self.keep -= n;
    }

    /// Whether every row the page holds is kept (none was cut by a limit).
    pub fn all_kept(&self) -> bool {
        self.keep == self.spans.len()
    }

    /// The response body the rows are slices of.
    pub fn body(&self) -> &str {
        &self.text
    }

    /// Keeps the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        self.keep = self.keep.min(n);
    }

    /// Each kept row's JSON text.
    pub fn raw_rows(&self) -> impl ExactSizeIterator<Item = &str> {
        self.spans[..self.keep]
            .iter()
            .map(move |&(start, len)| &self.text[start..start + len])
    }

    /// The rows as JSON objects, each with its own keys (a row that cannot be read is empty).
    pub fn into_maps(self) -> Vec<Map<String, Value>> {
        self.raw_rows()
            .map(|row| serde_json::from_str(row).unwrap_or_default())
            .collect()
    }
}

/// The `result` object of a results response (rows borrowed from the response text).
#[derive(Debug, Default, Deserialize)]
pub struct ResultPart<'a> {
    #[serde(default, borrow)]
    pub rows: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// A results response: the envelope's fields as JSON values (read tolerantly by the caller),
/// and the result read compactly.
#[derive(Debug, Default)]
pub struct Envelope<'a> {
    pub fields: Map<String, Value>,
    pub result: Option<ResultPart<'a>>,
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope<'de>, A::Error> {
        let mut env = Envelope::default();
        while let Some(key) = map.next_key::<String>()? {
            if key == "result" {
                env.result = map.next_value::<Option<ResultPart<'de>>>()?;
            } else {
                let v: Value = map.next_value()?;
                env.fields.insert(key, v);
            }
        }
        Ok(env)
    }
}

impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Envelope<'de>, D::Error> {
        d.deserialize_map(EnvelopeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_read_as_objects_each_with_its_keys() {
        let text = r#"[{"a":1,"b":"x"},{"b":"y","a":2},{"a\"b":3}]"#;
        let maps = Rows::from_array(text).unwrap().into_maps();
        assert_eq!(maps[0]["b"], json!("x"));
        assert_eq!(maps[1]["a"], json!(2));
        assert_eq!(maps[2]["a\"b"], json!(3));
    }

    #[test]
    fn bad_rows_and_kept_rows() {
        let err = Rows::from_array("[1]").unwrap_err();
        assert!(err.contains("row 0 is not a JSON object"), "{err}");
        let mut two = Rows::from_array(r#"[{"a":1},{"a":2}]"#).unwrap();
        two.truncate(1);
        assert_eq!(two.raw_rows().collect::<Vec<_>>(), vec![r#"{"a":1}"#]);
        assert_eq!(two.into_maps().len(), 1);
        let env: Envelope =
            serde_json::from_str(r#"{"state":"X","result":null,"extra":[1]}"#).unwrap();
        assert!(env.result.is_none() && env.fields.contains_key("extra"));
    }
}
