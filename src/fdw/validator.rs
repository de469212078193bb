//! `dune_fdw_validator`: checks the options of the wrapper, servers, user mappings, foreign
//! tables and their columns when they are created or altered.

use crate::error::{FdwError, FdwResult, OrRaise};
use crate::fdw::catalog;
use crate::fdw::convert::parse_typed;
use crate::options::{self, Object};
use pgrx::FromDatum;
use pgrx::datum::Interval;
use pgrx::pg_sys::{self, BuiltinOid};
use pgrx::prelude::*;

fn object_of(catalog: pg_sys::Oid) -> Option<Object> {
    match BuiltinOid::from_u32(u32::from(catalog)).ok()? {
        BuiltinOid::ForeignDataWrapperRelationId => Some(Object::Wrapper),
        BuiltinOid::ForeignServerRelationId => Some(Object::Server),
        BuiltinOid::UserMappingRelationId => Some(Object::UserMapping),
        BuiltinOid::ForeignTableRelationId => Some(Object::Table),
        BuiltinOid::AttributeRelationId => Some(Object::Column),
        _ => None,
    }
}

fn validate(options: Vec<Option<String>>, catalog_oid: Option<pg_sys::Oid>) -> FdwResult<()> {
    let Some(object) = catalog_oid.and_then(object_of) else {
        return Ok(());
    };
    let mut seen: Vec<String> = Vec::new();
    for item in options.into_iter().flatten() {
        let (name, value) = item.split_once('=').unwrap_or((item.as_str(), ""));
        options::check(object, name, value)?;
        if object == Object::Table && name == "max_age" {
            let d = parse_typed(pg_sys::INTERVALOID, value);
            // SAFETY: parse_typed returned an interval datum.
            let i = unsafe { Interval::from_polymorphic_datum(d, false, pg_sys::INTERVALOID) };
            if i.is_none_or(|i| i.as_micros() < 0) {
                return Err(FdwError::InvalidArgument(format!(
                    "max_age must be a positive interval, not \"{value}\""
                )));
            }
        }
        if object == Object::Server && name == "api_url" && !catalog::is_superuser() {
            return Err(FdwError::InvalidOption {
                message: "only a superuser may set api_url".into(),
                hint: Some(
                    "api_url decides where API keys are sent; ask a superuser to change it.".into(),
                ),
            });
        }
        seen.push(name.to_string());
    }
    if object == Object::Table {
        options::check_table(&seen.iter().map(String::as_str).collect::<Vec<_>>())?;
    }
    Ok(())
}

/// The validator of the dune_fdw wrapper.
#[pg_extern]
fn dune_fdw_validator(options: Vec<Option<String>>, catalog: Option<pg_sys::Oid>) {
    validate(options, catalog).or_raise()
}
