//! The dataset catalog (API reference §16): `GET /v1/datasets?limit&offset&owner_handle&type`
//! and `GET /v1/datasets/{slug}`, over the tables raw SQL reads: the generated `dex.trades`
//! and `tokens.erc20` ([`crate::warehouse`]) and the uploaded tables. Read-scope keys may
//! use both.
//!
//! The reference documents only the outline (`{datasets: [{full_name, type, owner,
//! columns…}], total}`, limit ≤ 250); the rest is the emulator's choice \[inferred\]:
//! - `type` is `spell` for the two generated tables (both are Spellbook models on Dune) and
//!   `uploaded_table` for uploads; `owner` is `{handle, type}`: `dune`/`team` for spells, the
//!   namespace for uploads (`user` for the account's own, `team` otherwise);
//! - each column is `{name, type, nullable}`, with the declared DuneSQL type
//!   (`timestamp(3) with time zone` for `block_time`) and `nullable: true` for spells;
//! - the list is ordered by `full_name`, 50 by default; `total` counts the datasets that
//!   match `owner_handle` and `type` (exact matches), before `limit` and `offset`;
//! - an unknown slug answers 404 `{"error": "Dataset not found"}`; slugs are matched as
//!   written, lowercase (`dex.trades`, `dune.<namespace>.<table>`).

use crate::State;
use crate::http::{Request, Response};
use crate::manage::OWNER_HANDLE;
use crate::warehouse::{TOKENS_DEF, TRADES_DEF, TableDef};
use serde_json::{Value, json};

/// The most datasets one list request returns.
pub const MAX_LIMIT: u64 = 250;

/// The owner handle of the generated tables.
pub const SPELL_OWNER: &str = "dune";

/// A generated table as a dataset.
fn spell(def: &TableDef) -> Value {
    let columns: Vec<Value> = def
        .columns
        .iter()
        .map(|(name, ty)| json!({"name": name, "type": ty, "nullable": true}))
        .collect();
    json!({
        "full_name": format!("{}.{}", def.schema, def.name),
        "type": "spell",
        "owner": {"handle": SPELL_OWNER, "type": "team"},
        "columns": columns,
    })
}

/// Every dataset, ordered by full name.
fn all(state: &State) -> Vec<Value> {
    let mut out = vec![spell(&TRADES_DEF), spell(&TOKENS_DEF)];
    let tables: Vec<_> = state.lock().uploads.values().cloned().collect();
    for t in tables {
        let owner_type = if t.namespace == OWNER_HANDLE {
            "user"
        } else {
            "team"
        };
        let columns: Vec<Value> = t
            .columns
            .iter()
            .map(|c| json!({"name": c.name, "type": c.kind.name(), "nullable": c.nullable}))
            .collect();
        out.push(json!({
            "full_name": t.full_name(),
            "type": "uploaded_table",
            "owner": {"handle": t.namespace, "type": owner_type},
            "columns": columns,
        }));
    }
    out.sort_by(|a, b| a["full_name"].as_str().cmp(&b["full_name"].as_str()));
    out
}

/// `GET /v1/datasets`.
pub fn list(state: &State, req: &Request) -> Response {
    let (limit, offset) = match req.limit_offset(50, MAX_LIMIT) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let wanted = |d: &Value, key: &str, param: &str| {
        req.param(param)
            .filter(|v| !v.is_empty())
            .is_none_or(|v| d.pointer(key).and_then(Value::as_str) == Some(v))
    };
    let matching: Vec<Value> = all(state)
        .into_iter()
        .filter(|d| wanted(d, "/owner/handle", "owner_handle") && wanted(d, "/type", "type"))
        .collect();
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    Response::json(200, json!({"datasets": page, "total": total}).to_string())
}

/// `GET /v1/datasets/{slug}`.
pub fn get(state: &State, slug: &str) -> Response {
    let slug = slug.to_ascii_lowercase();
    match all(state)
        .into_iter()
        .find(|d| d["full_name"] == slug.as_str())
    {
        Some(d) => Response::json(200, d.to_string()),
        None => Response::error(404, "Dataset not found"),
    }
}
