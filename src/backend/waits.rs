//! How long a statement waits for Dune, and the intervals users give for it: the `timeout`
//! arguments of the functions and the `max_age` table option, both read with PostgreSQL's own
//! interval parser (months count as 30 days, as `interval` arithmetic does).

use crate::backend::error::{FdwError, FdwResult};
use pgrx::datum::Interval;
use pgrx::{FromDatum, pg_sys};
use std::ffi::CString;
use std::time::Duration;

/// How long Dune runs a query at most (30 minutes); waits default to this.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30 * 60);

/// An interval argument as a wait. Errors: 22023 for a negative or overlong interval.
pub fn wait_of(timeout: Interval) -> FdwResult<Duration> {
    let micros = timeout.as_micros();
    if micros < 0 {
        return Err(FdwError::InvalidArgument(
            "timeout must not be negative".into(),
        ));
    }
    let micros = u64::try_from(micros)
        .map_err(|_| FdwError::InvalidArgument("timeout is too long".into()))?;
    Ok(Duration::from_micros(micros))
}

/// The `max_age` option's text (`'1 hour'`, `'90 minutes'`) as a duration. Errors: the
/// interval type's own 22007 for text it cannot read; 22023 for a negative interval.
pub fn max_age_of(text: &str) -> FdwResult<Duration> {
    let d = parse_typed(pg_sys::INTERVALOID, text);
    // SAFETY: parse_typed returned a non-NULL datum of type interval.
    let interval = unsafe { Interval::from_polymorphic_datum(d, false, pg_sys::INTERVALOID) };
    match interval {
        Some(i) if i.as_micros() >= 0 => wait_of(i),
        _ => Err(FdwError::InvalidArgument(format!(
            "max_age must be a positive interval, not \"{text}\""
        ))),
    }
}

/// Parses `text` with the input function of the built-in type `type_oid`; an invalid text
/// raises the type's own ERROR.
fn parse_typed(type_oid: pg_sys::Oid, text: &str) -> pg_sys::Datum {
    let (mut input_fn, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
    let c = CString::new(text.replace('\0', "")).expect("NULs removed");
    // SAFETY: catalog lookup and input function call for a built-in type, on the backend
    // thread; the datum is allocated in the current memory context.
    unsafe {
        pg_sys::getTypeInputInfo(type_oid, &mut input_fn, &mut ioparam);
        pg_sys::OidInputFunctionCall(input_fn, c.as_ptr().cast_mut(), ioparam, -1)
    }
}
