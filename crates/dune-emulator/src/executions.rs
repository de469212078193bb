//! Executions and their life: PENDING (with a queue position) → EXECUTING → COMPLETED or
//! FAILED, or CANCELLED on request. States follow from the clock, so nothing runs in the
//! background.

use crate::catalog::{Catalog, ResultSet, Rows};
use crate::dunesql::Engine;
use crate::tables::Table;
use crate::time::rfc3339;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug)]
pub enum Outcome {
    Rows(Arc<ResultSet>),
    /// Dune kept only part of the result (QUERY_STATE_COMPLETED_PARTIAL): these rows.
    Partial(Arc<ResultSet>),
    Failed(String),
}

impl Outcome {
    /// The rows of a result, whole or partial.
    pub fn rows(&self) -> Option<&Arc<ResultSet>> {
        match self {
            Outcome::Rows(r) | Outcome::Partial(r) => Some(r),
            Outcome::Failed(_) => None,
        }
    }
}

#[derive(Debug)]
pub struct Execution {
    pub id: String,
    /// 0 for raw SQL executions.
    pub query_id: u64,
    pub params: BTreeMap<String, String>,
    pub submitted_ms: u64,
    pub pending_ms: u64,
    pub execution_ms: u64,
    pub outcome: Outcome,
    pub cancelled_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    Pending { queue_position: u64 },
    Executing,
    Completed,
    CompletedPartial,
    Failed,
    Cancelled,
}

impl Phase {
    pub fn state(self) -> &'static str {
        match self {
            Phase::Pending { .. } => "QUERY_STATE_PENDING",
            Phase::Executing => "QUERY_STATE_EXECUTING",
            Phase::Completed => "QUERY_STATE_COMPLETED",
            Phase::CompletedPartial => "QUERY_STATE_COMPLETED_PARTIAL",
            Phase::Failed => "QUERY_STATE_FAILED",
            Phase::Cancelled => "QUERY_STATE_CANCELLED",
        }
    }

    /// Whether the execution has a result (whole or partial).
    pub fn has_result(self) -> bool {
        matches!(self, Phase::Completed | Phase::CompletedPartial)
    }

    pub fn finished(self) -> bool {
        !matches!(self, Phase::Pending { .. } | Phase::Executing)
    }
}

impl Execution {
    fn started_ms(&self) -> u64 {
        self.submitted_ms + self.pending_ms
    }

    fn ended_ms(&self) -> u64 {
        self.started_ms() + self.execution_ms
    }

    pub fn phase(&self, now: u64) -> Phase {
        if let Some(c) = self.cancelled_ms
            && c < self.ended_ms()
        {
            return Phase::Cancelled;
        }
        if now < self.started_ms() {
            let left = self.started_ms() - now;
            return Phase::Pending {
                queue_position: left / 50 + 1,
            };
        }
        if now < self.ended_ms() {
            return Phase::Executing;
        }
        match self.outcome {
            Outcome::Rows(_) => Phase::Completed,
            Outcome::Partial(_) => Phase::CompletedPartial,
            Outcome::Failed(_) => Phase::Failed,
        }
    }

    /// The status object, with exactly the fields Dune sends for this state.
    pub fn status(&self, now: u64) -> Map<String, Value> {
        let phase = self.phase(now);
        let mut m = Map::new();
        m.insert("execution_id".into(), json!(self.id));
        m.insert("query_id".into(), json!(self.query_id));
        m.insert("is_execution_finished".into(), json!(phase.finished()));
        m.insert("state".into(), json!(phase.state()));
        m.insert("submitted_at".into(), json!(rfc3339(self.submitted_ms)));
        m.insert("max_inflight_interactive_executions".into(), json!(3));
        m.insert("max_inflight_interactive_reached".into(), json!(0));
        match phase {
            Phase::Pending { queue_position } => {
                m.insert("queue_position".into(), json!(queue_position));
            }
            Phase::Executing => {
                m.insert(
                    "execution_started_at".into(),
                    json!(rfc3339(self.started_ms())),
                );
            }
            Phase::Cancelled => {
                let c = self.cancelled_ms.unwrap_or(now);
                if c >= self.started_ms() {
                    m.insert(
                        "execution_started_at".into(),
                        json!(rfc3339(self.started_ms())),
                    );
                    m.insert("execution_ended_at".into(), json!(rfc3339(c)));
                }
                m.insert("cancelled_at".into(), json!(rfc3339(c)));
                m.insert("execution_cost_credits".into(), json!(0));
            }
            Phase::Completed | Phase::CompletedPartial | Phase::Failed => {
                m.insert(
                    "expires_at".into(),
                    json!(rfc3339(self.ended_ms() + 90 * 86_400_000)),
                );
                m.insert(
                    "execution_started_at".into(),
                    json!(rfc3339(self.started_ms())),
                );
                m.insert("execution_ended_at".into(), json!(rfc3339(self.ended_ms())));
                let cost = if phase.has_result() { 10 } else { 0 };
                m.insert("execution_cost_credits".into(), json!(cost));
                if let Some(r) = self.outcome.rows() {
                    let all: Vec<usize> = (0..r.names.len()).collect();
                    let bytes = r.estimate_bytes(&all, r.len());
                    m.insert(
                        "result_metadata".into(),
                        json!({
                            "column_names": r.names,
                            "column_types": r.types,
                            "row_count": r.len(),
                            "result_set_bytes": bytes,
                            "total_row_count": r.len(),
                            "total_result_set_bytes": bytes,
                            "datapoint_count": r.len() * r.names.len() as u64,
                            "pending_time_millis": self.pending_ms,
                            "execution_time_millis": self.execution_ms,
                        }),
                    );
                }
            }
        }
        if phase == Phase::Failed
            && let Outcome::Failed(msg) = &self.outcome
        {
            m.insert(
                "error".into(),
                json!({
                    "type": "FAILED_TYPE_EXECUTION_FAILED",
                    "message": format!("{msg} [Execution ID: {}]", self.id),
                    "metadata": {"line": 1, "column": 1}
                }),
            );
        }
        m
    }

    pub fn pending_time_millis(&self) -> u64 {
        self.pending_ms
    }

    pub fn execution_time_millis(&self) -> u64 {
        self.execution_ms
    }
}

fn literal_column(token: &str) -> Option<(Value, &'static str)> {
    let t = token.trim();
    if let Some(s) = t.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Some((json!(s.replace("''", "'")), "varchar"));
    }
    if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") {
        return Some((json!(t.eq_ignore_ascii_case("true")), "boolean"));
    }
    if t.eq_ignore_ascii_case("null") {
        return Some((Value::Null, "unknown"));
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some((
            json!(i),
            if i32::try_from(i).is_ok() {
                "integer"
            } else {
                "bigint"
            },
        ));
    }
    if let Ok(f) = t.parse::<f64>() {
        return Some((json!(f), "double"));
    }
    None
}

/// Splits at commas outside single quotes.
fn split_select_list(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                cur.push(c)
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Finds an uploaded table by (namespace, name).
pub type TableLookup<'a> = &'a dyn Fn(&str, &str) -> Option<Arc<Table>>;

/// The words of `text` with their byte offsets.
fn words_at(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

/// `line L:C` of byte `at` of `sql`, as Trino places its errors.
fn place(sql: &str, at: usize) -> String {
    let before = &sql[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |p| p + 1) + 1;
    format!("line {line}:{col}")
}

/// The columns a select list names (`*`, or names separated by commas, quoted or not,
/// matched in any case), by position in `table`; `at` is the list's offset in `sql`.
fn select_list(sql: &str, at: usize, list: &str, table: &Table) -> Result<Vec<usize>, String> {
    if list.trim() == "*" {
        return Ok((0..table.columns.len()).collect());
    }
    let mut out = Vec::new();
    let mut offset = 0;
    for item in list.split(',') {
        let name = item.trim().trim_matches('"');
        let lead = item.len() - item.trim_start().len();
        let col = table
            .columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let here = place(sql, at + offset + lead);
                format!(
                    "{here}: Column '{}' cannot be resolved",
                    name.to_ascii_lowercase()
                )
            })?;
        out.push(col);
        offset += item.len() + 1;
    }
    Ok(out)
}

/// Whether a select list is `*` or plain column names (quoted or not).
fn simple_list(list: &str) -> bool {
    list.trim() == "*"
        || list.split(',').all(|item| {
            let name = item.trim();
            let name = name
                .strip_prefix('"')
                .and_then(|n| n.strip_suffix('"'))
                .unwrap_or(name);
            name.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// `SELECT * | <columns> FROM dune.<namespace>.<table> [LIMIT n]` on an uploaded table, read
/// from its chunks without a copy; `None` when the query reads no `dune.` table first or has
/// any other shape (the SQL engine runs those). The rows are those of the table now (a
/// snapshot).
fn plan_upload(sql: &str, tables: TableLookup) -> Option<Result<Arc<ResultSet>, String>> {
    let text = sql.trim_end().trim_end_matches(';').trim_end();
    let words = words_at(text);
    let from = words
        .iter()
        .position(|w| w.1.eq_ignore_ascii_case("from"))?;
    let (table_at, reference) = *words.get(from + 1)?;
    let name = reference.replace('"', "").to_ascii_lowercase();
    let parts: Vec<&str> = name.split('.').collect();
    if parts.first() != Some(&"dune") {
        return None;
    }
    let Some(table) = (parts.len() == 3)
        .then(|| tables(parts[1], parts[2]))
        .flatten()
    else {
        let here = place(sql, table_at);
        return Some(Err(format!("{here}: Table '{name}' does not exist")));
    };
    let tail: Vec<String> = words[from + 2..]
        .iter()
        .map(|w| w.1.to_ascii_lowercase())
        .collect();
    let limit = match tail.as_slice() {
        [] => None,
        [l, n] if l == "limit" => match n.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return Some(Err(format!("line 1:1: invalid LIMIT '{n}'"))),
        },
        _ => return None,
    };
    let list_at = words.get(1).map_or(0, |w| w.0);
    let list = &text[list_at..words[from].0];
    if !simple_list(list) {
        return None;
    }
    Some(select_list(sql, list_at, list, &table).map(|columns| {
        Arc::new(ResultSet {
            names: columns
                .iter()
                .map(|&c| table.columns[c].name.clone())
                .collect(),
            types: columns
                .iter()
                .map(|&c| table.columns[c].kind.name().to_string())
                .collect(),
            rows: Rows::Upload(table.snapshot(columns, limit)),
        })
    }))
}

/// `SELECT * FROM query_<id> [LIMIT n]`: the saved query's result with its default
/// parameters, as DuneSQL's query views give it.
fn plan_query_view(
    catalog: &Catalog,
    words: &[&str],
    lower: &[String],
) -> Result<Arc<ResultSet>, String> {
    let Some(id) = lower[3]
        .strip_prefix("query_")
        .and_then(|d| d.parse::<u64>().ok())
    else {
        return Err(format!("line 1:15: Table '{}' does not exist", words[3]));
    };
    let query = catalog
        .get(id)
        .ok_or_else(|| format!("line 1:15: Table 'query_{id}' does not exist"))?;
    let defaults = query.resolve_params(&BTreeMap::new())?;
    let full = query.result(&defaults);
    match &lower[4..] {
        [] => Ok(full),
        [l, n] if l == "limit" => {
            let n: u64 = n.parse().map_err(|_| format!("line 1:1: invalid LIMIT '{n}'"))?;
            let rows = (0..full.len().min(n))
                .map(|r| (0..full.names.len()).map(|c| full.cell(r, c)).collect())
                .collect();
            Ok(Arc::new(ResultSet { names: full.names.clone(), types: full.types.clone(), rows: Rows::Stored(rows) }))
        }
        _ => Err("line 1:1: the Dune API emulator reads query_<id> only as SELECT * FROM query_<id> [LIMIT n]".into()),
    }
}

/// `SELECT <constants> [AS name], ...` (no FROM): `None` when an item is not a constant.
fn plan_constants(list: &str) -> Option<Arc<ResultSet>> {
    let (mut names, mut types, mut row) = (Vec::new(), Vec::new(), Vec::new());
    for (i, item) in split_select_list(list).iter().enumerate() {
        let (expr, alias) = match item.to_ascii_lowercase().rfind(" as ") {
            Some(p) => (
                &item[..p],
                Some(item[p + 4..].trim().trim_matches('"').to_string()),
            ),
            None => (item.as_str(), None),
        };
        let (value, ty) = literal_column(expr)?;
        names.push(alias.unwrap_or_else(|| format!("_col{i}")));
        types.push(ty.to_string());
        row.push(value);
    }
    Some(Arc::new(ResultSet {
        names,
        types,
        rows: Rows::Stored(vec![row]),
    }))
}

/// Runs raw DuneSQL. A few shapes are answered directly: `SELECT * FROM query_<id> [LIMIT
/// n]` (a saved query's result, as DuneSQL's query views give), `SELECT * | <columns> FROM
/// dune.<namespace>.<table> [LIMIT n]` (an uploaded table, found by `tables`, read in place)
/// and `SELECT <constants> [AS name], ...`; every other statement runs on the SQL engine
/// ([`crate::dunesql`]) over the generated catalog and the uploads. Errors are Trino-like.
pub fn plan_sql(
    engine: &Engine,
    catalog: &Catalog,
    tables: TableLookup,
    sql: &str,
) -> Result<Arc<ResultSet>, String> {
    let text = sql.trim().trim_end_matches(';').trim();
    let words: Vec<&str> = text.split_whitespace().collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let first = lower.first().map(String::as_str).unwrap_or("");
    if first != "select" && first != "with" && !first.starts_with('(') {
        let first = words.first().copied().unwrap_or("");
        return Err(format!(
            "line 1:1: mismatched input '{first}'. Expecting: 'SELECT', 'WITH', <query>"
        ));
    }
    let run = || engine.run(sql, tables, crate::time::now_ms());
    if first != "select" {
        return run();
    }
    if let Some(planned) = plan_upload(sql, tables) {
        return planned;
    }
    if lower.len() >= 4 && lower[1] == "*" && lower[2] == "from" && lower[3].starts_with("query_") {
        return plan_query_view(catalog, &words, &lower);
    }
    let list = text[6..].trim();
    if !list.is_empty()
        && !lower.contains(&"from".to_string())
        && let Some(r) = plan_constants(list)
    {
        return Ok(r);
    }
    run()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::DEFAULT_DATA;

    #[test]
    fn runs_the_sql_it_understands() {
        let c = Catalog::parse(DEFAULT_DATA).unwrap();
        let none = |_: &str, _: &str| -> Option<Arc<Table>> { None };
        let engine = Engine::new();
        let plan_sql = |c: &Catalog, sql: &str| plan_sql(&engine, c, &none, sql);
        let r = plan_sql(&c, "select 1 as one, 'it''s' as s, 2.5, true").unwrap();
        assert_eq!(r.names, vec!["one", "s", "_col2", "_col3"]);
        assert_eq!(r.cell(0, 1), json!("it's"));
        let q = plan_sql(&c, "SELECT * FROM query_1252207 LIMIT 3;").unwrap();
        assert_eq!(q.len(), 3);
        assert!(
            plan_sql(&c, "selec 1")
                .unwrap_err()
                .contains("mismatched input 'selec'")
        );
        assert!(
            plan_sql(&c, "select * from query_42")
                .unwrap_err()
                .contains("does not exist")
        );
    }
}
