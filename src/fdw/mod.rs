//! The foreign-data wrapper: handler, validator, and catalog access.

pub mod catalog;
pub mod handler;
pub mod validator;
