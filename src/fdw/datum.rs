//! PostgreSQL values as Dune literals: a constant of a qual when planning, a parameter's value
//! when a scan starts (`dune_api::ParamValue`, which the binder reads).

use dune_api::{Literal, ParamValue};
use pg_format::{date_text, timestamp_text};
use pgrx::{FromDatum, JsonB, pg_sys};
use std::ffi::CStr;

/// A datum of `type_oid` as a Dune literal, when Dune reads it as PostgreSQL does.
///
/// # Safety
/// `datum` must be a valid, non-NULL datum of `type_oid`.
pub unsafe fn datum_literal(datum: pg_sys::Datum, type_oid: pg_sys::Oid) -> Option<Literal> {
    // SAFETY: the caller guarantees the datum's type; varlena values are detoasted by the
    // output functions and text_to_cstring.
    unsafe {
        Some(match type_oid {
            pg_sys::INT2OID => Literal::Number((datum.value() as i16).to_string()),
            pg_sys::INT4OID => Literal::Number((datum.value() as i32).to_string()),
            pg_sys::INT8OID => Literal::Number((datum.value() as i64).to_string()),
            pg_sys::FLOAT4OID => {
                let f = f32::from_bits(datum.value() as u32);
                if !f.is_finite() {
                    return None;
                }
                Literal::Number(f.to_string())
            }
            pg_sys::FLOAT8OID => {
                let f = f64::from_bits(datum.value() as u64);
                if !f.is_finite() {
                    return None;
                }
                Literal::Number(f.to_string())
            }
            pg_sys::NUMERICOID => {
                let text = output_text(type_oid, datum);
                if !text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
                {
                    return None; // NaN, Infinity
                }
                Literal::Number(text)
            }
            pg_sys::BOOLOID => Literal::Bool(datum.value() != 0),
            pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID => {
                let p = pg_sys::text_to_cstring(datum.cast_mut_ptr());
                Literal::Text(CStr::from_ptr(p).to_string_lossy().into_owned())
            }
            pg_sys::BYTEAOID => {
                let v = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
                Literal::Bytes(pgrx::varlena::varlena_to_byte_slice(v).to_vec())
            }
            pg_sys::TIMESTAMPTZOID | pg_sys::TIMESTAMPOID => {
                Literal::Text(timestamp_text(datum.value() as i64)?)
            }
            pg_sys::DATEOID => Literal::Text(date_text(datum.value() as i32)?),
            _ => return None,
        })
    }
}

/// Whether a datum of `type_oid` is an infinity or NaN, which no Dune literal writes: Some(true)
/// for -infinity, Some(false) for +infinity and NaN (PostgreSQL orders NaN above every number).
///
/// # Safety
/// `datum` must be a valid, non-NULL datum of `type_oid`.
pub unsafe fn datum_infinity(datum: pg_sys::Datum, type_oid: pg_sys::Oid) -> Option<bool> {
    // SAFETY: the caller guarantees the datum's type.
    unsafe {
        match type_oid {
            pg_sys::FLOAT4OID => {
                let f = f32::from_bits(datum.value() as u32);
                (!f.is_finite()).then_some(f < 0.0)
            }
            pg_sys::FLOAT8OID => {
                let f = f64::from_bits(datum.value() as u64);
                (!f.is_finite()).then_some(f < 0.0)
            }
            pg_sys::NUMERICOID => match output_text(type_oid, datum).as_str() {
                "-Infinity" => Some(true),
                "Infinity" | "NaN" => Some(false),
                _ => None,
            },
            pg_sys::TIMESTAMPTZOID | pg_sys::TIMESTAMPOID => match datum.value() as i64 {
                i64::MIN => Some(true),
                i64::MAX => Some(false),
                _ => None,
            },
            pg_sys::DATEOID => match datum.value() as i32 {
                i32::MIN => Some(true),
                i32::MAX => Some(false),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The text of a non-NULL datum of type `ty`, by the type's output function.
pub unsafe fn output_text(ty: pg_sys::Oid, datum: pg_sys::Datum) -> String {
    // SAFETY: a non-NULL datum of `ty`; the output function returns a palloc'd C string.
    unsafe {
        let mut out_fn = pg_sys::InvalidOid;
        let mut varlena = false;
        pg_sys::getTypeOutputInfo(ty, &mut out_fn, &mut varlena);
        CStr::from_ptr(pg_sys::OidOutputFunctionCall(out_fn, datum))
            .to_string_lossy()
            .into_owned()
    }
}

/// The elements of a non-NULL array datum of type `array_type`, NULLs left out, with their
/// element type.
///
/// # Safety
/// `datum` must be a non-NULL value of the array type `array_type`.
pub unsafe fn array_datum_elements(
    datum: pg_sys::Datum,
    array_type: pg_sys::Oid,
) -> (pg_sys::Oid, Vec<pg_sys::Datum>) {
    // SAFETY: an array datum, deconstructed with its element type's layout.
    unsafe {
        let elem_type = pg_sys::get_element_type(array_type);
        let array = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *mut pg_sys::ArrayType;
        let (mut len, mut byval, mut align) = (0i16, false, 0i8);
        pg_sys::get_typlenbyvalalign(elem_type, &mut len, &mut byval, &mut align);
        let mut elems: *mut pg_sys::Datum = std::ptr::null_mut();
        let mut nulls: *mut bool = std::ptr::null_mut();
        let mut n = 0i32;
        pg_sys::deconstruct_array(
            array, elem_type, len as i32, byval, align as _, &mut elems, &mut nulls, &mut n,
        );
        let values = (0..n as usize)
            .filter(|&i| !*nulls.add(i))
            .map(|i| *elems.add(i))
            .collect();
        (elem_type, values)
    }
}

/// The value of a parameter of type `ty` evaluated when a scan starts: its literal (an array's
/// non-NULL elements), NULL, an infinity or NaN, or a value no literal writes.
///
/// # Safety
/// `datum` must be a valid datum of `ty` unless `isnull`.
pub unsafe fn param_value(datum: pg_sys::Datum, isnull: bool, ty: pg_sys::Oid) -> ParamValue {
    if isnull {
        return ParamValue::Null;
    }
    // SAFETY: a non-NULL datum of `ty`, as the function requires.
    unsafe {
        if let Some(negative) = datum_infinity(datum, ty) {
            return ParamValue::Infinite { negative };
        }
        if ty == pg_sys::JSONBOID {
            return match JsonB::from_polymorphic_datum(datum, false, ty) {
                Some(j) => ParamValue::Literals(vec![Literal::Text(j.0.to_string())]),
                None => ParamValue::Unwritable,
            };
        }
        let literals = if pg_sys::get_element_type(ty) != pg_sys::InvalidOid {
            let (elem, datums) = array_datum_elements(datum, ty);
            datums.into_iter().map(|e| datum_literal(e, elem)).collect()
        } else {
            datum_literal(datum, ty).map(|l| vec![l])
        };
        literals.map_or(ParamValue::Unwritable, ParamValue::Literals)
    }
}
