//! From a server and a role to a configured Dune client: the server's options, the role's
//! user mapping (its own, else PUBLIC), its USAGE right. Kept apart from everything else, as
//! postgres_fdw keeps its connection code apart.

use crate::backend::catalog::{self, ServerInfo};
use crate::backend::error::{FdwError, FdwResult};
use crate::backend::gucs;
use crate::backend::options;
use dune_api::{ApiKey, ClientConfig, DEFAULT_API_URL};
use pgrx::pg_sys;

/// The client settings for `role` on `server`. The functions and IMPORT need USAGE on the
/// server; a foreign-table scan needs only SELECT on the table (as with postgres_fdw).
pub fn config_for(
    server: &ServerInfo,
    role: pg_sys::Oid,
    check_usage: bool,
) -> FdwResult<ClientConfig> {
    if check_usage {
        catalog::check_usage(server, role)?;
    }
    let mapping = catalog::user_mapping_options(server, role)?;
    let key = mapping
        .iter()
        .find(|(k, _)| k == "api_key")
        .map(|(_, v)| ApiKey::new(v.clone()))
        .ok_or_else(|| FdwError::NoApiKey {
            server: server.name.clone(),
        })?;
    let mut config = ClientConfig::new(DEFAULT_API_URL, key)?;
    options::apply_server(&server.options, &mut config)?;
    Ok(config)
}

/// The client settings the dune_* functions use: the server named by `dune_fdw.server`, as
/// the current role.
pub fn for_functions() -> FdwResult<ClientConfig> {
    let server = catalog::server_by_name(&gucs::server_name())?;
    config_for(&server, catalog::current_role(), true)
}
