//! Result rows, read compactly: the column names once per page, then one value per column per
//! row, without a map or key strings per row. Rows whose keys disagree (a key missing, a key
//! more) still line up: a missing key reads as NULL, a new key becomes a new column.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    /// One entry per row, each with one value per column.
    pub values: Vec<Vec<Value>>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn truncate(&mut self, n: usize) {
        self.values.truncate(n);
    }

    /// The position of a column.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

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
    type Value = Rows;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of result rows")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Rows, E> {
        Ok(Rows::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Rows, A::Error> {
        let mut rows = Rows {
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

impl<'de> Deserialize<'de> for Rows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rows, D::Error> {
        d.deserialize_any(RowsVisitor)
    }
}

/// The `result` object of a results response.
#[derive(Debug, Default, Deserialize)]
pub struct ResultPart {
    #[serde(default)]
    pub rows: Rows,
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// A results response: the envelope's fields as JSON values (read tolerantly by the caller),
/// and the result read compactly.
#[derive(Debug, Default)]
pub struct Envelope {
    pub fields: Map<String, Value>,
    pub result: Option<ResultPart>,
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
        let mut env = Envelope::default();
        while let Some(key) = map.next_key::<String>()? {
            if key == "result" {
                env.result = map.next_value::<Option<ResultPart>>()?;
            } else {
                let v: Value = map.next_value()?;
                env.fields.insert(key, v);
            }
        }
        Ok(env)
    }
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Envelope, D::Error> {
        d.deserialize_map(EnvelopeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_line_up_even_when_keys_disagree() {
        let rows: Rows = serde_json::from_str(
            r#"[{"a":1,"b":"x"},{"b":"y","a":2},{"a":3},{"a":4,"b":"z","c":true}]"#,
        )
        .unwrap();
        assert_eq!(rows.columns, vec!["a", "b", "c"]);
        assert_eq!(rows.values[1], vec![json!(2), json!("y"), Value::Null]);
        assert_eq!(rows.values[2], vec![json!(3), Value::Null, Value::Null]);
        assert_eq!(rows.values[3][2], json!(true));
        let maps = rows.into_maps();
        assert_eq!(maps[0]["b"], json!("x"));
    }

    #[test]
    fn escaped_keys_and_bad_rows() {
        let rows: Rows = serde_json::from_str(r#"[{"a\"b":1}]"#).unwrap();
        assert_eq!(rows.columns, vec!["a\"b"]);
        let err = serde_json::from_str::<Rows>("[1]").unwrap_err().to_string();
        assert!(err.contains("expected a result row"), "{err}");
        let env: Envelope =
            serde_json::from_str(r#"{"state":"X","result":null,"extra":[1]}"#).unwrap();
        assert!(env.result.is_none() && env.fields.contains_key("extra"));
    }
}
