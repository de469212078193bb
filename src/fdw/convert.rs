//! Dune values to PostgreSQL datums, by the declared column type: fast paths for the common
//! types, the type's input function for everything else (numeric, timestamps, domains, enums).

use crate::fdw::table::Column;
use pgrx::pg_sys;
use pgrx::{IntoDatum, JsonB};
use serde_json::Value;
use std::ffi::CString;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Bool,
    Text,
    Bytea,
    Jsonb,
    /// JSON text through the type's input function (json).
    JsonText,
    /// The value's text through the type's input function.
    Input,
}

/// What a column of the latest-results view holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ViewRole {
    QueryId,
    Params,
    ExecutionId,
    RowNumber,
    Row,
}

#[derive(Debug, Clone)]
pub struct Attr {
    pub name: String,
    /// The Dune column read (None for a dropped column).
    pub remote: Option<String>,
    pub kind: Kind,
    pub typmod: i32,
    input_fn: pg_sys::Oid,
    ioparam: pg_sys::Oid,
    pub role: Option<ViewRole>,
}

impl Attr {
    pub fn dropped() -> Attr {
        Attr {
            name: String::new(),
            remote: None,
            kind: Kind::Text,
            typmod: -1,
            input_fn: pg_sys::InvalidOid,
            ioparam: pg_sys::InvalidOid,
            role: None,
        }
    }

    pub fn new(col: &Column, view: bool) -> Attr {
        let kind = match col.type_oid {
            pg_sys::INT2OID => Kind::Int2,
            pg_sys::INT4OID => Kind::Int4,
            pg_sys::INT8OID => Kind::Int8,
            pg_sys::FLOAT4OID => Kind::Float4,
            pg_sys::FLOAT8OID => Kind::Float8,
            pg_sys::BOOLOID => Kind::Bool,
            pg_sys::TEXTOID => Kind::Text,
            pg_sys::BYTEAOID => Kind::Bytea,
            pg_sys::JSONBOID => Kind::Jsonb,
            pg_sys::JSONOID => Kind::JsonText,
            _ => Kind::Input,
        };
        let (mut input_fn, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
        // SAFETY: a catalog lookup for a valid type oid (the column's).
        unsafe { pg_sys::getTypeInputInfo(col.type_oid, &mut input_fn, &mut ioparam) };
        let role = if view {
            match col.name.as_str() {
                "query_id" => Some(ViewRole::QueryId),
                "params" => Some(ViewRole::Params),
                "execution_id" => Some(ViewRole::ExecutionId),
                "row_number" => Some(ViewRole::RowNumber),
                "row" => Some(ViewRole::Row),
                _ => None,
            }
        } else {
            None
        };
        Attr {
            name: col.name.clone(),
            remote: Some(col.remote.clone()),
            kind,
            typmod: col.typmod,
            input_fn,
            ioparam,
            role,
        }
    }
}

/// A value shortened for an error message.
pub fn shorten(v: &Value) -> String {
    let text = match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    };
    if text.chars().count() > 80 {
        format!("{}...", text.chars().take(77).collect::<String>())
    } else {
        text
    }
}

fn int(v: &Value, min: i64, max: i64, what: &str) -> Result<i64, String> {
    let n = match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) | Value::Null => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(format!("out of range for type {what}")),
        None => Err(format!("not a valid {what}")),
    }
}

fn float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| "not a number".to_string()),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| "not a valid double precision".to_string()),
        _ => Err("not a number".into()),
    }
}

fn text_of(v: &Value) -> Result<String, String> {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.contains('\0') {
        return Err("contains the character \\u0000, which PostgreSQL text cannot hold".into());
    }
    Ok(s)
}

fn hex(s: &str) -> Result<Vec<u8>, String> {
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| "not 0x-prefixed hex".to_string())?;
    if digits.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| "not valid hex".to_string()))
        .collect()
}

/// The datum for `v` in a column described by `attr`; None for SQL NULL. An Err is the
/// problem, for the caller's message. Input functions may raise their own ERROR, which the
/// scan's error context completes with table, column, row and value.
///
/// # Safety
/// Must run on the backend thread, in the memory context the datum should live in.
pub unsafe fn to_datum(attr: &Attr, v: &Value) -> Result<Option<pg_sys::Datum>, String> {
    if v.is_null() {
        return Ok(None);
    }
    // SAFETY: datums are built by pgrx's IntoDatum (palloc in the current context) or by the
    // type's own input function, called with its documented arguments.
    unsafe {
        let d = match attr.kind {
            Kind::Int2 => {
                (int(v, i16::MIN as i64, i16::MAX as i64, "smallint")? as i16).into_datum()
            }
            Kind::Int4 => {
                (int(v, i32::MIN as i64, i32::MAX as i64, "integer")? as i32).into_datum()
            }
            Kind::Int8 => int(v, i64::MIN, i64::MAX, "bigint")?.into_datum(),
            Kind::Float4 => (float(v)? as f32).into_datum(),
            Kind::Float8 => float(v)?.into_datum(),
            Kind::Bool => match v {
                Value::Bool(b) => b.into_datum(),
                Value::String(s) if s == "true" || s == "false" => (s == "true").into_datum(),
                _ => return Err("not a boolean".into()),
            },
            Kind::Text => text_of(v)?.as_str().into_datum(),
            Kind::Bytea => match v {
                Value::String(s) => hex(s)?.into_datum(),
                _ => return Err("not 0x-prefixed hex".into()),
            },
            Kind::Jsonb => JsonB(v.clone()).into_datum(),
            Kind::JsonText | Kind::Input => {
                let text = if attr.kind == Kind::JsonText {
                    v.to_string()
                } else {
                    text_of(v)?
                };
                let c = CString::new(text).map_err(|_| "contains a NUL character".to_string())?;
                Some(pg_sys::OidInputFunctionCall(
                    attr.input_fn,
                    c.as_ptr().cast_mut(),
                    attr.ioparam,
                    attr.typmod,
                ))
            }
        };
        Ok(d)
    }
}

/// Parses `text` with the input function of `type_oid` (for option values such as max_age).
pub fn parse_typed(type_oid: pg_sys::Oid, text: &str) -> pg_sys::Datum {
    let (mut input_fn, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
    let c = CString::new(text.replace('\0', "")).expect("NULs removed");
    // SAFETY: catalog lookup and input function call for a built-in type; an invalid text
    // raises the type's own ERROR.
    unsafe {
        pg_sys::getTypeInputInfo(type_oid, &mut input_fn, &mut ioparam);
        pg_sys::OidInputFunctionCall(input_fn, c.as_ptr().cast_mut(), ioparam, -1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_and_hex_are_checked() {
        assert_eq!(int(&json!(5), 0, 10, "x"), Ok(5));
        assert_eq!(int(&json!("7"), 0, 10, "x"), Ok(7));
        assert!(
            int(&json!(50000), -32768, 32767, "smallint")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(int(&json!(1.5), 0, 10, "x").is_err());
        assert_eq!(hex("0xdead").unwrap(), vec![0xde, 0xad]);
        assert!(hex("dead").is_err() && hex("0xabc").is_err());
        assert!(shorten(&json!("x".repeat(200))).ends_with("..."));
    }
}
