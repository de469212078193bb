//! A datum written as an NDJSON value of its Dune column (`pg_format::RowWriter`): read by its
//! base type on the backend, checked against the Dune type before anything is sent.

use pg_format::{RowWriter, UploadType, oid};
use pgrx::{FromDatum, pg_sys};
use std::ffi::CStr;

/// How a column's datums are read.
#[derive(Debug, Clone, Copy)]
pub enum DatumKind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Bytea,
    Timestamp,
    Date,
    /// A varlena text (text, varchar, bpchar).
    Text,
    /// Through the type's output function (numeric, uuid, json, ...).
    Output(pg_sys::Oid),
}

/// How a column of base type `type_oid` is read.
pub fn datum_kind(type_oid: u32) -> DatumKind {
    match type_oid {
        oid::BOOL => DatumKind::Bool,
        oid::INT2 => DatumKind::Int2,
        oid::INT4 => DatumKind::Int4,
        oid::INT8 => DatumKind::Int8,
        oid::FLOAT4 => DatumKind::Float4,
        oid::FLOAT8 => DatumKind::Float8,
        oid::BYTEA => DatumKind::Bytea,
        oid::TIMESTAMP | oid::TIMESTAMPTZ => DatumKind::Timestamp,
        oid::DATE => DatumKind::Date,
        oid::TEXT | oid::VARCHAR | oid::BPCHAR => DatumKind::Text,
        other => {
            let (mut out, mut varlena) = (pg_sys::InvalidOid, false);
            // SAFETY: a type of a column of an open relation exists; getTypeOutputInfo only
            // reads the syscache and writes the two out-parameters.
            unsafe { pg_sys::getTypeOutputInfo(pg_sys::Oid::from(other), &mut out, &mut varlena) };
            DatumKind::Output(out)
        }
    }
}

/// The name PostgreSQL gives a type, for messages.
pub fn type_name(type_oid: pg_sys::Oid) -> String {
    // SAFETY: format_type_be palloc's the name of an existing type in the current context.
    unsafe {
        CStr::from_ptr(pg_sys::format_type_be(type_oid))
            .to_string_lossy()
            .into_owned()
    }
}

/// A float's shortest text, with PostgreSQL's spellings of the values JSON has no number for.
fn float_text(v: f64, shortest: String) -> String {
    match v {
        v if v.is_nan() => "NaN".into(),
        f64::INFINITY => "Infinity".into(),
        f64::NEG_INFINITY => "-Infinity".into(),
        _ => shortest,
    }
}

/// How a time Dune cannot hold is shown: `infinity`, `-infinity`, or its era.
fn out_of_range_text(infinity: bool, minus_infinity: bool) -> String {
    match (infinity, minus_infinity) {
        (true, _) => "infinity".into(),
        (_, true) => "-infinity".into(),
        _ => "a time outside the years 1 to 9999".into(),
    }
}

/// Writes one non-null datum of column `c`; Err((problem, value text)) when Dune's type
/// cannot hold it.
///
/// # Safety
/// `datum` is a non-null value of the column's type, valid in the current memory context.
pub unsafe fn write_value(
    w: &mut RowWriter,
    (key, kind, dune): (&str, DatumKind, UploadType),
    datum: pg_sys::Datum,
) -> Result<(), (String, String)> {
    let show = |s: String| pg_format::shorten(&s);
    // SAFETY: per this function's contract, each arm reads the datum as its type.
    unsafe {
        match kind {
            DatumKind::Bool => {
                w.boolean(key, datum.value() != 0);
                Ok(())
            }
            DatumKind::Int2 | DatumKind::Int4 | DatumKind::Int8 => {
                let v = match kind {
                    DatumKind::Int2 => datum.value() as i16 as i64,
                    DatumKind::Int4 => datum.value() as i32 as i64,
                    _ => datum.value() as i64,
                };
                w.integer(key, v, dune).map_err(|p| (p, v.to_string()))
            }
            DatumKind::Float4 => {
                let v = f32::from_bits(datum.value() as u32);
                let text = float_text(v as f64, format!("{v:?}"));
                w.float(key, v as f64, &text).map_err(|p| (p, text))
            }
            DatumKind::Float8 => {
                let v = f64::from_bits(datum.value() as u64);
                let text = float_text(v, format!("{v:?}"));
                w.float(key, v, &text).map_err(|p| (p, text))
            }
            DatumKind::Bytea => {
                let bytes = <&[u8]>::from_datum(datum, false).unwrap_or_default();
                w.bytes(key, bytes);
                Ok(())
            }
            DatumKind::Timestamp => {
                let v = datum.value() as i64;
                w.timestamp(key, v)
                    .map_err(|p| (p, out_of_range_text(v == i64::MAX, v == i64::MIN)))
            }
            DatumKind::Date => {
                let v = datum.value() as i32;
                w.date(key, v, dune)
                    .map_err(|p| (p, out_of_range_text(v == i32::MAX, v == i32::MIN)))
            }
            DatumKind::Text => {
                let text = <&str>::from_datum(datum, false).unwrap_or_default();
                w.text(key, text);
                Ok(())
            }
            DatumKind::Output(f) => {
                let text =
                    CStr::from_ptr(pg_sys::OidOutputFunctionCall(f, datum)).to_string_lossy();
                match dune {
                    UploadType::Varchar => {
                        w.text(key, &text);
                        Ok(())
                    }
                    t => w
                        .numeric(key, &text, t)
                        .map_err(|p| (p, show(text.into_owned()))),
                }
            }
        }
    }
}
