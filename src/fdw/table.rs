//! A dune_fdw foreign table as the planner and executor see it: its options, its server, and
//! its columns with the Dune column each one reads (`column_name`, else its own name).

use crate::backend::catalog::{ServerInfo, def_elems, server_by_oid};
use crate::backend::error::FdwResult;
use crate::backend::options::{self, Settings, TableOptions, TableSource};
use dune_api::DuneType;
use pg_format::{Rule, assumed_dune_type, rule};
use pgrx::{PgRelation, pg_sys};

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// The Dune column this column reads.
    pub remote: String,
    pub type_oid: pg_sys::Oid,
    pub typmod: i32,
    /// Dune's type of the column (option `dune_type`, which IMPORT sets), if known.
    pub dune: Option<DuneType>,
    /// Its collation compares equal only what is byte-for-byte equal.
    pub deterministic: bool,
    /// The query parameter this column stands for (option `param`): not a result column;
    /// `WHERE col = value` chooses the parameter's value, and the column returns it.
    pub param: Option<String>,
}

impl Column {
    /// What of a comparison or a sort on this column may be pushed to Dune.
    pub fn rule(&self) -> Rule {
        rule(
            self.type_oid.to_u32(),
            self.typmod,
            self.dune.as_ref(),
            self.deterministic,
        )
    }

    /// The Dune type literals compared with this column are written in: its `dune_type`, else
    /// the one its PostgreSQL type suggests (None: not known).
    pub fn literal_type(&self) -> Option<DuneType> {
        self.dune
            .clone()
            .or_else(|| assumed_dune_type(self.type_oid.to_u32()))
    }
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    /// The foreign table's oid.
    pub relid: pg_sys::Oid,
    /// `schema.name`, quoted where needed, for messages users may paste.
    pub qualified: String,
    pub server: ServerInfo,
    pub options: TableOptions,
    /// The settings of its scans and writes (its options over its server's).
    pub settings: Settings,
    /// One entry per attribute (attnum - 1); None for a dropped column.
    pub columns: Vec<Option<Column>>,
}

impl Table {
    pub fn load(relid: pg_sys::Oid) -> FdwResult<Table> {
        // SAFETY: the planner and executor call us for a foreign table they hold a lock on;
        // GetForeignTable errors out for anything else, and the column option lists are
        // catalog DefElem lists.
        unsafe {
            let ft = pg_sys::GetForeignTable(relid);
            let server = server_by_oid((*ft).serverid)?;
            let rel = PgRelation::open(relid);
            let name = rel.name().to_string();
            let quote = |s: &str| {
                let c = std::ffi::CString::new(s).unwrap_or_default();
                std::ffi::CStr::from_ptr(pg_sys::quote_identifier(c.as_ptr()))
                    .to_string_lossy()
                    .into_owned()
            };
            let qualified = format!("{}.{}", quote(rel.namespace()), quote(&name));
            let table_options = def_elems((*ft).options);
            let options = TableOptions::parse(&name, &table_options)?;
            let settings = options::settings(&server.options, &table_options)?;
            let columns = rel
                .tuple_desc()
                .iter()
                .map(|att| {
                    if att.is_dropped() {
                        return None;
                    }
                    let col_opts = def_elems(pg_sys::GetForeignColumnOptions(relid, att.num()));
                    let option = |name: &str| {
                        col_opts
                            .iter()
                            .find(|(k, _)| k == name)
                            .map(|(_, v)| v.clone())
                    };
                    let collation = att.attcollation;
                    Some(Column {
                        name: att.name().to_string(),
                        remote: option("column_name").unwrap_or_else(|| att.name().to_string()),
                        type_oid: att.type_oid().value(),
                        typmod: att.type_mod(),
                        dune: option("dune_type").map(|t| DuneType::parse(&t)),
                        deterministic: collation == pg_sys::InvalidOid
                            || pg_sys::get_collation_isdeterministic(collation),
                        param: option("param"),
                    })
                })
                .collect();
            Ok(Table {
                name,
                relid,
                qualified,
                server,
                options,
                settings,
                columns,
            })
        }
    }

    pub fn column(&self, attnum: i16) -> Option<&Column> {
        self.columns
            .get(usize::try_from(attnum).ok()?.checked_sub(1)?)?
            .as_ref()
    }

    /// Whether this is a latest-results table (`OPTIONS (view 'latest_results')`).
    pub fn is_latest_results(&self) -> bool {
        self.options.source == TableSource::LatestResults
    }

    pub fn live_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().flatten()
    }

    /// The columns that stand for query parameters (option `param`).
    pub fn param_columns(&self) -> impl Iterator<Item = &Column> {
        self.live_columns().filter(|c| c.param.is_some())
    }

    /// Each live column with its attribute number (1-based).
    pub fn live_columns_with_attno(&self) -> impl Iterator<Item = (i16, &Column)> {
        self.columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (i as i16 + 1, c)))
    }

    /// The column called `name` locally.
    pub fn named(&self, name: &str) -> Option<&Column> {
        self.live_columns().find(|c| c.name == name)
    }
}
