//! Result rows. A page keeps its rows as the raw JSON text Dune sent (split into rows, each
//! checked to be an object), so that they can be decoded straight into what is needed: prepared
//! cells for a typed table, the row's own text for jsonb, or (when values are wanted) a
//! compact form with the column names once and one value per column per row. Rows whose keys
//! disagree (a key missing, a key more) still line up: a missing key reads as NULL, a new key
//! becomes a new column.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
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

    /// The rows decoded into values.
    pub fn parse(&self) -> ParsedRows {
        let mut parsed = ParsedRows::default();
        for row in self.raw_rows() {
            let mut de = serde_json::Deserializer::from_str(row);
            // rows were checked to be objects when the page was read
            let values = RowSeed {
                columns: &mut parsed.columns,
            }
            .deserialize(&mut de)
            .unwrap_or_default();
            parsed.values.push(values);
        }
        let width = parsed.columns.len();
        for row in parsed.values.iter_mut().filter(|r| r.len() < width) {
            row.resize(width, Value::Null);
        }
        parsed
    }

    /// The rows as JSON objects.
    pub fn into_maps(self) -> Vec<Map<String, Value>> {
        self.parse().into_maps()
    }
}

/// Rows decoded compactly: the column names once, then one value per column per row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedRows {
    /// The column names, in the first row's order.
    pub columns: Vec<String>,
    /// One entry per row, each with one value per column.
    pub values: Vec<Vec<Value>>,
}

impl ParsedRows {
    /// The rows as JSON objects (keys in column order).
    pub fn into_maps(self) -> Vec<Map<String, Value>> {
        let columns = self.columns;
        self.values
            .into_iter()
            .map(|row| columns.iter().cloned().zip(row).collect())
            .collect()
    }
}

/// Finds (or adds) the column a key names, without allocating for known keys.
struct KeySeed<'a> {
    columns: &'a mut Vec<String>,
    guess: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a column name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<usize, E> {
        if self.columns.get(self.guess).is_some_and(|c| c == key) {
            return Ok(self.guess);
        }
        if let Some(i) = self.columns.iter().position(|c| c == key) {
            return Ok(i);
        }
        self.columns.push(key.to_string());
        Ok(self.columns.len() - 1)
    }
}

struct RowSeed<'a> {
    columns: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Vec<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a result row (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Value>, A::Error> {
        let mut row = vec![Value::Null; self.columns.len()];
        let mut position = 0;
        while let Some(i) = map.next_key_seed(KeySeed {
            columns: self.columns,
            guess: position,
        })? {
            if i >= row.len() {
                row.resize(i + 1, Value::Null);
            }
            row[i] = map.next_value()?;
            position = i + 1;
        }
        Ok(row)
    }
}

struct RowsVisitor;

impl<'de> Visitor<'de> for RowsVisitor {
    type Value = ParsedRows;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of result rows")
    }

    fn visit_unit<E: de::Error>(self) -> Result<ParsedRows, E> {
        Ok(ParsedRows::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ParsedRows, A::Error> {
        let mut rows = ParsedRows {
            columns: Vec::new(),
            values: Vec::with_capacity(seq.size_hint().unwrap_or(0)),
        };
        while let Some(row) = seq.next_element_seed(RowSeed {
            columns: &mut rows.columns,
        })? {
            rows.values.push(row);
        }
        let width = rows.columns.len();
        for row in rows.values.iter_mut().filter(|r| r.len() < width) {
            row.resize(width, Value::Null);
        }
        Ok(rows)
    }
}

impl<'de> Deserialize<'de> for ParsedRows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ParsedRows, D::Error> {
        d.deserialize_any(RowsVisitor)
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
    fn rows_line_up_even_when_keys_disagree() {
        let text = r#"[{"a":1,"b":"x"},{"b":"y","a":2},{"a":3},{"a":4,"b":"z","c":true}]"#;
        let rows = Rows::from_array(text).unwrap().parse();
        assert_eq!(rows.columns, vec!["a", "b", "c"]);
        assert_eq!(rows.values[1], vec![json!(2), json!("y"), Value::Null]);
        assert_eq!(rows.values[2], vec![json!(3), Value::Null, Value::Null]);
        assert_eq!(rows.values[3][2], json!(true));
        let maps = rows.into_maps();
        assert_eq!(maps[0]["b"], json!("x"));
    }

    #[test]
    fn escaped_keys_and_bad_rows() {
        let rows: ParsedRows = serde_json::from_str(r#"[{"a\"b":1}]"#).unwrap();
        assert_eq!(rows.columns, vec!["a\"b"]);
        let err = Rows::from_array("[1]").unwrap_err();
        assert!(err.contains("row 0 is not a JSON object"), "{err}");
        let mut two = Rows::from_array(r#"[{"a":1},{"a":2}]"#).unwrap();
        two.truncate(1);
        assert_eq!(two.raw_rows().collect::<Vec<_>>(), vec![r#"{"a":1}"#]);
        assert_eq!(two.parse().values.len(), 1);
        let env: Envelope =
            serde_json::from_str(r#"{"state":"X","result":null,"extra":[1]}"#).unwrap();
        assert!(env.result.is_none() && env.fields.contains_key("extra"));
    }
}
