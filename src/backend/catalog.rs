//! Reads from the system catalogs: foreign servers, their options, privileges and user
//! mappings. Every call runs on the backend thread.

use crate::backend::error::{FdwError, FdwResult};
use pgrx::{PgList, pg_sys};
use std::ffi::{CStr, CString};

/// A server of the dune_fdw wrapper.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub oid: pg_sys::Oid,
    pub name: String,
    pub options: Vec<(String, String)>,
}

/// The (name, value) pairs of a catalog options list.
///
/// # Safety
/// `list` must be NULL or a valid List of DefElem, as found in catalog structs.
pub unsafe fn def_elems(list: *mut pg_sys::List) -> Vec<(String, String)> {
    // SAFETY: the caller guarantees a List of DefElem; each defname and defGetString result is
    // a NUL-terminated string palloc'd in the current memory context.
    unsafe {
        PgList::<pg_sys::DefElem>::from_pg(list)
            .iter_ptr()
            .map(|d| {
                let name = CStr::from_ptr((*d).defname).to_string_lossy().into_owned();
                let value = CStr::from_ptr(pg_sys::defGetString(d))
                    .to_string_lossy()
                    .into_owned();
                (name, value)
            })
            .collect()
    }
}

fn server_from(server: *mut pg_sys::ForeignServer) -> FdwResult<ServerInfo> {
    // SAFETY: `server` comes from GetForeignServer*, which returns a palloc'd, filled struct
    // (or NULL, checked by the callers); GetForeignDataWrapper errors out on a bad oid.
    unsafe {
        let name = CStr::from_ptr((*server).servername)
            .to_string_lossy()
            .into_owned();
        let fdw = pg_sys::GetForeignDataWrapper((*server).fdwid);
        let fdw_name = CStr::from_ptr((*fdw).fdwname).to_string_lossy();
        if fdw_name != "dune_fdw" {
            return Err(FdwError::NotDuneServer(name));
        }
        Ok(ServerInfo {
            oid: (*server).serverid,
            name,
            options: def_elems((*server).options),
        })
    }
}

/// The server called `name`, which must belong to the dune_fdw wrapper.
pub fn server_by_name(name: &str) -> FdwResult<ServerInfo> {
    let cname = CString::new(name).map_err(|_| FdwError::NoServer(name.replace('\0', "")))?;
    // SAFETY: a valid C string; missing_ok = true makes a missing server a NULL, not an ERROR.
    let server = unsafe { pg_sys::GetForeignServerByName(cname.as_ptr(), true) };
    if server.is_null() {
        return Err(FdwError::NoServer(name.to_string()));
    }
    server_from(server)
}

/// The server with this oid (as referenced by a foreign table).
pub fn server_by_oid(oid: pg_sys::Oid) -> FdwResult<ServerInfo> {
    // SAFETY: GetForeignServer errors out (never returns NULL) for an unknown oid.
    let server = unsafe { pg_sys::GetForeignServer(oid) };
    server_from(server)
}

/// The role's name, for messages.
pub fn role_name(role: pg_sys::Oid) -> String {
    // SAFETY: noerr = true returns NULL for an unknown role instead of raising.
    unsafe {
        let p = pg_sys::GetUserNameFromId(role, true);
        if p.is_null() {
            format!("oid {}", u32::from(role))
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

/// The role the current statement runs as.
pub fn current_role() -> pg_sys::Oid {
    // SAFETY: GetUserId only reads backend state.
    unsafe { pg_sys::GetUserId() }
}

/// Refuses a role without USAGE on the server.
pub fn check_usage(server: &ServerInfo, role: pg_sys::Oid) -> FdwResult<()> {
    #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
    // SAFETY: plain catalog lookup with valid oids.
    let ok = unsafe {
        pg_sys::pg_foreign_server_aclcheck(server.oid, role, pg_sys::ACL_USAGE as pg_sys::AclMode)
    };
    #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15")))]
    // SAFETY: plain catalog lookup with valid oids.
    let ok = unsafe {
        pg_sys::object_aclcheck(
            pg_sys::BuiltinOid::ForeignServerRelationId.value(),
            server.oid,
            role,
            pg_sys::ACL_USAGE as pg_sys::AclMode,
        )
    };
    if ok == pg_sys::AclResult::ACLCHECK_OK {
        Ok(())
    } else {
        Err(FdwError::NoUsage {
            user: role_name(role),
            server: server.name.clone(),
        })
    }
}

fn mapping_exists(role: pg_sys::Oid, server: pg_sys::Oid) -> bool {
    // SAFETY: a syscache probe with two oid keys; the tuple is released before returning.
    unsafe {
        let tuple = pg_sys::SearchSysCache2(
            pg_sys::SysCacheIdentifier::USERMAPPINGUSERSERVER as i32,
            pg_sys::Datum::from(role),
            pg_sys::Datum::from(server),
        );
        if tuple.is_null() {
            return false;
        }
        pg_sys::ReleaseSysCache(tuple);
        true
    }
}

/// The options of the user mapping for `role` on the server (or of the PUBLIC mapping).
pub fn user_mapping_options(
    server: &ServerInfo,
    role: pg_sys::Oid,
) -> FdwResult<Vec<(String, String)>> {
    if !mapping_exists(role, server.oid) && !mapping_exists(pg_sys::InvalidOid, server.oid) {
        return Err(FdwError::NoUserMapping {
            user: role_name(role),
            server: server.name.clone(),
        });
    }
    // SAFETY: a mapping exists (checked above), so GetUserMapping returns it rather than raising.
    unsafe {
        let um = pg_sys::GetUserMapping(role, server.oid);
        Ok(def_elems((*um).options))
    }
}

/// Whether the current role is a superuser.
pub fn is_superuser() -> bool {
    // SAFETY: reads backend state only.
    unsafe { pg_sys::superuser() }
}

/// The cluster's data directory (PostgreSQL's `DataDir`), absolute.
pub fn data_directory() -> std::path::PathBuf {
    // SAFETY: DataDir is set by the postmaster before any backend runs and never changes; it
    // is read on the backend's thread.
    unsafe {
        let dir = pg_sys::DataDir;
        if dir.is_null() {
            return std::path::PathBuf::from(".");
        }
        let path = std::ffi::CStr::from_ptr(dir).to_string_lossy().into_owned();
        let path = std::path::PathBuf::from(path);
        if path.is_absolute() {
            path
        } else {
            std::env::current_dir().map_or(path.clone(), |cwd| cwd.join(path))
        }
    }
}
