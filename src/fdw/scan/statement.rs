//! The executor of a DuneSQL statement's scan (Dune's tables and uploads, joined or grouped
//! on Dune): the statement bound to the parameters' values, `require_filter` checked on what
//! is sent, the execution of the same statement reused within `max_age`, then the rows
//! through [`Reader`].

use crate::backend::error::{FdwError, FdwResult};
use crate::backend::waits::DEFAULT_WAIT;
use crate::fdw::scan::executor::ScanSetup;
use crate::fdw::scan::rows::{Reader, ReadsRows};
use crate::fdw::scan_plan::{ScanRelation, StatementScan};
use dune_api::{ExecutionId, ParamValue, ReadSpec, ResultCache, ResultSource, Select, Sql};

pub struct StatementExec {
    plan: StatementScan,
    reader: Reader,
}

impl StatementExec {
    pub fn new(setup: ScanSetup, plan: StatementScan) -> StatementExec {
        let select = &plan.select;
        let final_limit = match select.limit {
            Some(count) if plan.final_limit => Some((count, select.offset)),
            _ => None,
        };
        // a positional statement's rows are its outputs, c1, c2, … (the attributes')
        let wanted = (!select.positional()).then(|| {
            (0..select.items.len())
                .map(|i| select.output_name(i))
                .collect()
        });
        StatementExec {
            reader: Reader::new(setup, &plan.table, wanted, final_limit),
            plan,
        }
    }

    /// The read for these values: one statement with the conditions whose values can be
    /// written (one that cannot only widens a statement PostgreSQL rechecks, and then LIMIT
    /// and OFFSET are applied here; a statement whose rows are the answer cannot run without
    /// it). None when no row can match. `require_filter` is checked on what is sent, before
    /// anything is.
    fn spec(&self, values: &[ParamValue]) -> FdwResult<Option<ReadSpec>> {
        let plan = &self.plan;
        let bound = plan.select.bind(values);
        if bound.dropped && plan.exact {
            return Err(FdwError::InvalidArgument(format!(
                "a value compared in the grouped or joined query over foreign table \"{}\" cannot be written in DuneSQL (an infinity or NaN compared with a double, or a date past year 9999): nothing was run",
                plan.table
            )));
        }
        // a grouped statement answers even when no row matches (count(*) is 0), and a LEFT
        // JOIN's left rows come whatever its second table's conditions keep
        if bound.no_row && !plan.exact {
            return Ok(None);
        }
        check_required(&plan.relations, &bound.select)?;
        let sql = bound.select.to_sql();
        let source = match self.recent_execution(&sql) {
            Some(id) => ResultSource::Execution(ExecutionId::try_from(id.as_str())?),
            None => ResultSource::Sql {
                sql: Sql::try_from(sql.as_str())?,
                performance: plan.performance.clone(),
            },
        };
        let config = &self.reader.setup().config;
        Ok(Some(ReadSpec {
            source,
            read: Default::default(),
            limit: bound.select.limit,
            offset: 0,
            page_size: config.page_size,
            concurrency: config.fetch_concurrency,
            wait: DEFAULT_WAIT,
        }))
    }

    /// With `max_age`: the execution of the same DuneSQL that ended within it, as the result
    /// cache remembers it (nothing without the cache).
    fn recent_execution(&self, sql: &str) -> Option<String> {
        let max_age = self.plan.max_age_ms? as i64;
        let config = &self.reader.setup().config;
        let settings = config.cache.as_ref()?;
        let seen = ResultCache::for_account(settings, config).statement_seen(sql)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_millis() as i64;
        (now - seen.ended_ms <= max_age).then_some(seen.execution_id)
    }
}

/// `require_filter`: each relation whose rule names columns must have a condition sent that
/// restricts one of them (in WHERE, or in the ON of the join that brings it in).
fn check_required(relations: &[ScanRelation], select: &Select) -> FdwResult<()> {
    let conds = || {
        select
            .filters
            .iter()
            .chain(select.joins.iter().flat_map(|j| j.on.iter()))
    };
    for (rel, r) in relations.iter().enumerate() {
        if !r.require_filter.is_empty() && !conds().any(|c| c.restricts(rel, &r.require_filter)) {
            return Err(FdwError::FilterRequired {
                table: r.qualified.clone(),
                columns: r.require_filter.clone(),
            });
        }
    }
    Ok(())
}

impl ReadsRows for StatementExec {
    fn reader(&mut self) -> &mut Reader {
        &mut self.reader
    }

    fn begin(&mut self, values: &[ParamValue]) -> FdwResult<()> {
        match self.spec(values)? {
            Some(spec) => self.reader.start(spec).map(drop),
            None => {
                self.reader.nothing();
                Ok(())
            }
        }
    }
}
