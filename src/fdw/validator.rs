//! `dune_fdw_validator`: checks the options of the wrapper, servers, user mappings, foreign
//! tables and their columns when they are created or altered.

use crate::backend::error::{FdwResult, OrRaise};
use crate::backend::options::{self, Object};
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
    let pairs: Vec<(String, String)> = options
        .into_iter()
        .flatten()
        .map(|item| match item.split_once('=') {
            Some((name, value)) => (name.to_string(), value.to_string()),
            None => (item, String::new()),
        })
        .collect();
    options::validate(object, &pairs)
}

/// The validator of the dune_fdw wrapper.
#[pg_extern]
fn dune_fdw_validator(options: Vec<Option<String>>, catalog: Option<pg_sys::Oid>) {
    validate(options, catalog).or_raise()
}
