//! The emulator's queries, read from a JSON data file: hand-written ones with their rows, and
//! synthetic ones whose rows are generated on demand (millions of rows, none stored).

use crate::synth::{self, Generator};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The data file shipped with the emulator.
pub const DEFAULT_DATA: &str = include_str!("../data/queries.json");

#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    pub queries: Vec<QueryDef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ParamDef {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    #[serde(
        default,
        rename = "enumOptions",
        skip_serializing_if = "Option::is_none"
    )]
    pub enum_options: Option<Vec<String>>,
    /// A multi-select parameter: its value is a list (the default is written as a JSON list).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multiselect: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// For synthetic queries: how the column's values are generated.
    #[serde(default)]
    pub generator: Option<Generator>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QueryDef {
    pub query_id: u64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub parameters: Vec<ParamDef>,
    pub columns: Vec<ColumnDef>,
    /// Rows in column order, already in Dune's JSON encoding.
    #[serde(default)]
    pub rows: Vec<Vec<Value>>,
    /// Row count of a synthetic query (overridden by a `rows` parameter).
    #[serde(default)]
    pub synthetic_rows: Option<u64>,
    /// Whether the emulator starts with a latest result for this query.
    #[serde(default = "yes")]
    pub latest: bool,
    #[serde(default)]
    pub pending_ms: Option<u64>,
    #[serde(default)]
    pub execution_ms: Option<u64>,
    /// When set, every execution of this query fails with this message.
    #[serde(default)]
    pub fail: Option<String>,
    /// Every execution ends in QUERY_STATE_COMPLETED_PARTIAL (Dune kept part of the result).
    #[serde(default)]
    pub partial: bool,
    #[serde(default)]
    pub is_private: bool,
    /// The rows kept for a parameter: as the query `WHERE <column> >= {{<param>}}` would keep
    /// them (dates compared by their day).
    #[serde(default)]
    pub rows_since: Option<RowsSince>,
}

/// A query whose rows depend on a date parameter (`rows_since`).
#[derive(Debug, Clone, Deserialize)]
pub struct RowsSince {
    pub param: String,
    pub column: String,
}

fn yes() -> bool {
    true
}

/// Where a result's rows come from.
#[derive(Debug)]
pub enum Rows {
    Stored(Vec<Vec<Value>>),
    Synthetic {
        generators: Vec<Generator>,
        count: u64,
        seed: u64,
    },
    /// An uploaded table as an execution saw it.
    Upload(crate::tables::Snapshot),
}

/// One result: its columns (names, Dune types) and its rows.
#[derive(Debug)]
pub struct ResultSet {
    pub names: Vec<String>,
    pub types: Vec<String>,
    pub rows: Rows,
}

impl ResultSet {
    pub fn len(&self) -> u64 {
        match &self.rows {
            Rows::Stored(r) => r.len() as u64,
            Rows::Synthetic { count, .. } => *count,
            Rows::Upload(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of column `col` in row `row`, in Dune's JSON encoding.
    pub fn cell(&self, row: u64, col: usize) -> Value {
        match &self.rows {
            Rows::Stored(r) => r[row as usize].get(col).cloned().unwrap_or(Value::Null),
            Rows::Synthetic {
                generators, seed, ..
            } => synth::cell(generators[col], *seed, col, row),
            Rows::Upload(s) => s.cell(row, col),
        }
    }

    /// `total_result_set_bytes` for these columns over `total` rows, estimated from a sample.
    pub fn estimate_bytes(&self, columns: &[usize], total: u64) -> u64 {
        let probe = self.len().min(64);
        if probe == 0 {
            return 0;
        }
        let sum: u64 = (0..probe)
            .map(|row| {
                columns
                    .iter()
                    .map(|&c| crate::encode::value_bytes(&self.cell(row, c)))
                    .sum::<u64>()
            })
            .sum();
        sum * total / probe
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

impl Catalog {
    pub fn parse(text: &str) -> Result<Catalog, String> {
        let catalog: Catalog = serde_json::from_str(text).map_err(|e| format!("data file: {e}"))?;
        for q in &catalog.queries {
            if q.synthetic_rows.is_some() && q.columns.iter().any(|c| c.generator.is_none()) {
                return Err(format!(
                    "query {}: every synthetic column needs a generator",
                    q.query_id
                ));
            }
            if let Some(bad) = q.rows.iter().position(|r| r.len() != q.columns.len()) {
                return Err(format!(
                    "query {}: row {bad} does not have {} values",
                    q.query_id,
                    q.columns.len()
                ));
            }
        }
        Ok(catalog)
    }

    pub fn get(&self, query_id: u64) -> Option<&QueryDef> {
        self.queries.iter().find(|q| q.query_id == query_id)
    }
}

impl QueryDef {
    /// The query's parameters with `given` applied over the defaults; an unknown name is an
    /// error worded as Dune words it.
    pub fn resolve_params(
        &self,
        given: &BTreeMap<String, Value>,
    ) -> Result<BTreeMap<String, String>, String> {
        let unknown: Vec<&str> = given
            .keys()
            .filter(|k| !self.parameters.iter().any(|p| &p.key == *k))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(format!("unknown parameters ({})", unknown.join(", ")));
        }
        Ok(self
            .parameters
            .iter()
            .map(|p| {
                let v = match (given.get(&p.key), p.multiselect) {
                    // one canonical form for a list, whichever way it came
                    (Some(Value::String(s)), true) => Value::from(vec![s.clone()]).to_string(),
                    (Some(Value::String(s)), false) => s.clone(),
                    (Some(other), _) => other.to_string(),
                    (None, _) => p.value.clone(),
                };
                (p.key.clone(), v)
            })
            .collect())
    }

    /// The stored rows the parameters keep (all of them, unless `rows_since`).
    fn stored_rows(&self, params: &BTreeMap<String, String>) -> Vec<Vec<Value>> {
        let Some(since) = &self.rows_since else {
            return self.rows.clone();
        };
        let col = self.columns.iter().position(|c| c.name == since.column);
        // `2024-03-05`, `2024-03-05 00:00:00` and ISO forms all start with the day
        let day = |text: &str| text.get(..10).map(str::to_string);
        let from = params.get(&since.param).and_then(|v| day(v));
        self.rows
            .iter()
            .filter(|row| {
                let cell = col.and_then(|c| row.get(c)).and_then(Value::as_str);
                match (cell.and_then(day), &from) {
                    (Some(d), Some(f)) => &d >= f,
                    _ => false,
                }
            })
            .cloned()
            .collect()
    }

    /// The result of running this query with resolved parameters.
    pub fn result(&self, params: &BTreeMap<String, String>) -> Arc<ResultSet> {
        let names = self.columns.iter().map(|c| c.name.clone()).collect();
        let types = self.columns.iter().map(|c| c.kind.clone()).collect();
        let rows = match self.synthetic_rows {
            Some(default) => Rows::Synthetic {
                generators: self
                    .columns
                    .iter()
                    .map(|c| c.generator.expect("checked at load"))
                    .collect(),
                count: params
                    .get("rows")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(default),
                seed: self.query_id,
            },
            None => Rows::Stored(self.stored_rows(params)),
        };
        Arc::new(ResultSet { names, types, rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_data_file_loads() {
        let c = Catalog::parse(DEFAULT_DATA).unwrap();
        let nft = c.get(1_252_207).expect("1252207 is shipped");
        assert_eq!(nft.columns[0].name, "Rank");
        assert!(c.get(1_258_228).is_some());
        let err = nft.resolve_params(&BTreeMap::from([("Nope".to_string(), Value::from(1))]));
        assert_eq!(err.unwrap_err(), "unknown parameters (Nope)");
    }
}
