//! One table of the PostgreSQL types dune_fdw knows by OID (the built-in OIDs of
//! `pg_type.dat`, stable across major versions): how a value of the type is decoded on the I/O
//! thread ([`Target`]), and how it compares in Dune's filters ([`Family`]). The conversion of
//! result cells and the deparsing of quals both read this table, so a type is added once.

use crate::prepare::Target;
use dune_api::DuneType;

/// How values of a PostgreSQL type compare when a filter is evaluated by Dune; decides which
/// operators and sorts may be pushed down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// int2, int4, int8, float4, float8, numeric: compared as numbers.
    Number,
    /// boolean.
    Bool,
    /// text, varchar, bpchar: compared as strings (order depends on the collation).
    Text,
    /// bytea (Dune's varbinary, written `0x…`).
    Bytes,
    /// timestamptz: instants.
    TimestampTz,
    /// timestamp without time zone.
    Timestamp,
    /// date.
    Date,
    /// Anything else: never pushed down.
    Other,
}

/// What dune_fdw does with one PostgreSQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeRule {
    /// How a Dune value is decoded for a column of this type.
    pub target: Target,
    /// How a value of this type compares on Dune.
    pub family: Family,
}

/// Built-in type OIDs (PostgreSQL's `pg_type.dat`).
pub mod oid {
    /// boolean
    pub const BOOL: u32 = 16;
    /// bytea
    pub const BYTEA: u32 = 17;
    /// bigint
    pub const INT8: u32 = 20;
    /// smallint
    pub const INT2: u32 = 21;
    /// integer
    pub const INT4: u32 = 23;
    /// text
    pub const TEXT: u32 = 25;
    /// json
    pub const JSON: u32 = 114;
    /// real
    pub const FLOAT4: u32 = 700;
    /// double precision
    pub const FLOAT8: u32 = 701;
    /// character(n)
    pub const BPCHAR: u32 = 1042;
    /// character varying(n)
    pub const VARCHAR: u32 = 1043;
    /// date
    pub const DATE: u32 = 1082;
    /// timestamp without time zone
    pub const TIMESTAMP: u32 = 1114;
    /// timestamp with time zone
    pub const TIMESTAMPTZ: u32 = 1184;
    /// numeric
    pub const NUMERIC: u32 = 1700;
    /// jsonb
    pub const JSONB: u32 = 3802;
}

const TABLE: &[(u32, Target, Family)] = &[
    (oid::INT2, Target::Int2, Family::Number),
    (oid::INT4, Target::Int4, Family::Number),
    (oid::INT8, Target::Int8, Family::Number),
    (oid::FLOAT4, Target::Float4, Family::Number),
    (oid::FLOAT8, Target::Float8, Family::Number),
    (oid::NUMERIC, Target::Raw, Family::Number),
    (oid::BOOL, Target::Bool, Family::Bool),
    (oid::TEXT, Target::Text, Family::Text),
    (oid::VARCHAR, Target::Raw, Family::Text),
    (oid::BPCHAR, Target::Raw, Family::Text),
    (oid::BYTEA, Target::Bytes, Family::Bytes),
    (oid::TIMESTAMPTZ, Target::TimestampTz, Family::TimestampTz),
    (oid::TIMESTAMP, Target::Timestamp, Family::Timestamp),
    (oid::DATE, Target::Date, Family::Date),
    (oid::JSONB, Target::Json, Family::Other),
    (oid::JSON, Target::Json, Family::Other),
];

/// The Dune type a column of local type `oid` is taken to have when nothing says which (a
/// hand-declared column without `dune_type`), for writing the literals compared with it in
/// DuneSQL: integers as integers, floats as doubles, and strings, bytes, booleans, dates and
/// timestamps as such; None (literals written by their own form) for numeric and the rest.
pub fn assumed_dune_type(oid: u32) -> Option<DuneType> {
    Some(match oid {
        oid::INT2 | oid::INT4 | oid::INT8 => DuneType::Bigint,
        oid::FLOAT4 | oid::FLOAT8 => DuneType::Double,
        oid::BOOL => DuneType::Boolean,
        oid::TEXT | oid::VARCHAR | oid::BPCHAR => DuneType::Varchar { length: None },
        oid::BYTEA => DuneType::Varbinary,
        oid::TIMESTAMPTZ | oid::TIMESTAMP => DuneType::Timestamp {
            precision: None,
            zoned: oid == oid::TIMESTAMPTZ,
        },
        oid::DATE => DuneType::Date,
        _ => return None,
    })
}

/// The rule for the type `oid`; any type not in the table (domains, enums, arrays, user types)
/// goes through its input function (`Target::Raw`) and is never pushed down.
pub fn type_rule(oid: u32) -> TypeRule {
    TABLE.iter().find(|(o, _, _)| *o == oid).map_or(
        TypeRule {
            target: Target::Raw,
            family: Family::Other,
        },
        |&(_, target, family)| TypeRule { target, family },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_has_one_rule_and_unknown_types_are_raw() {
        for (i, (o, _, _)) in TABLE.iter().enumerate() {
            assert!(TABLE[i + 1..].iter().all(|(p, _, _)| p != o), "{o} twice");
        }
        assert_eq!(type_rule(oid::TEXT).target, Target::Text);
        assert_eq!(type_rule(oid::VARCHAR).family, Family::Text);
        assert_eq!(type_rule(oid::JSONB).family, Family::Other);
        assert_eq!(type_rule(1186).target, Target::Raw, "interval");
    }
}
