//! The layer under both SQL surfaces (`functions/` and `fdw/`): what a server and a role mean
//! for a client (catalog, connection, options), how the backend waits for Dune without going
//! deaf (blocking, waits), what it tells while it waits (progress, in_flight), the one error
//! type, the settings, the jsonb datums rows become, and the Rust heap (alloc). It imports neither surface; the
//! surfaces import it and the pure crates only, never each other (checked by
//! tests/structure/structure.py).

pub mod alloc;
pub mod blocking;
pub mod catalog;
pub mod connection;
pub mod error;
pub mod gucs;
pub mod in_flight;
pub mod jsonb;
pub mod options;
pub mod progress;
pub mod waits;
