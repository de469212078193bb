//! The executor of a query result's scan: the request bound to the parameters' values (the
//! filters, the values of parameter columns), then the rows through [`Reader`].

use crate::backend::error::FdwResult;
use crate::backend::waits::DEFAULT_WAIT;
use crate::fdw::scan::executor::ScanSetup;
use crate::fdw::scan::rows::{Reader, ReadsRows};
use crate::fdw::scan_plan::ResultScan;
use dune_api::{Literal, PValue, ParamValue, ReadSpec, ResultSource, param_text};
use pg_format::Target;
use pgrx::pg_sys;
use std::ffi::CString;

pub struct ResultExec {
    plan: ResultScan,
    reader: Reader,
    /// ANALYZE: read a sample of this many rows (Dune's `sample_count`) instead.
    sample: Option<u64>,
}

impl ResultExec {
    pub fn new(setup: ScanSetup, plan: ResultScan) -> ResultExec {
        let final_limit = match plan.request.limit {
            Some(count) if plan.final_limit => Some((count, plan.request.offset)),
            _ => None,
        };
        let wanted = plan.request.columns.clone();
        ResultExec {
            reader: Reader::new(setup, &plan.table, wanted, final_limit),
            plan,
            sample: None,
        }
    }

    /// An executor that reads a sample of about `rows` rows of the table's result (Dune's
    /// `sample_count`: one request, datapoints = the sample's cells), for ANALYZE.
    pub fn sampling(setup: ScanSetup, plan: ResultScan, rows: u64) -> ResultExec {
        ResultExec {
            sample: Some(rows),
            ..ResultExec::new(setup, plan)
        }
    }

    /// What to read for these values: the request bound to them, with the query parameters
    /// that parameter columns were given. None when no row can match (a filter or a parameter
    /// column compared with NULL).
    fn spec(&self, values: &[ParamValue]) -> Option<ReadSpec> {
        let bound = self.plan.request.bind(values, self.sample)?;
        let source = self.with_param_values(&self.plan.source, values)?;
        let config = &self.reader.setup().config;
        Some(ReadSpec {
            source,
            read: bound.read,
            limit: bound.limit,
            offset: bound.offset,
            page_size: config.page_size,
            concurrency: config.fetch_concurrency,
            wait: DEFAULT_WAIT,
        })
    }

    /// `source` with the values parameter columns were given (over the table's `params`);
    /// None if one is NULL or not one value.
    fn with_param_values(
        &self,
        source: &ResultSource,
        values: &[ParamValue],
    ) -> Option<ResultSource> {
        let given = &self.plan.param_values;
        if given.is_empty() {
            return Some(source.clone());
        }
        let attrs = &self.reader.setup().attrs;
        let mut texts = Vec::new();
        for p in given {
            let literal: Literal = match &p.value {
                PValue::Lit(l) => l.clone(),
                PValue::Param(i) => match values.get(*i)? {
                    ParamValue::Literals(l) if l.len() == 1 => l[0].clone(),
                    _ => return None,
                },
            };
            // a date (the column's type, or the value's) is sent as its midnight
            let date = p.date
                || attrs.iter().any(|a| {
                    a.param.as_deref() == Some(p.name.as_str()) && a.target == Target::Date
                });
            texts.push((p.name.clone(), param_text(&literal, date)));
        }
        Some(source.with_params(&texts))
    }

    /// The text each parameter column returns: the value it was given, else the table's
    /// `params`, else NULL (Dune's default, unknown here).
    fn param_column_texts(&self, source: &ResultSource) -> Vec<Option<CString>> {
        let given = source.params();
        self.reader
            .setup()
            .attrs
            .iter()
            .map(|a| {
                let name = a.param.as_ref()?;
                let v = given?.as_map().get(name)?;
                let mut text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                // Dune's datetimes are UTC: said so, whatever the session's TimeZone
                if a.type_oid == pg_sys::TIMESTAMPTZOID {
                    text.push_str("+00");
                }
                CString::new(text).ok()
            })
            .collect()
    }
}

impl ReadsRows for ResultExec {
    fn reader(&mut self) -> &mut Reader {
        &mut self.reader
    }

    fn begin(&mut self, values: &[ParamValue]) -> FdwResult<()> {
        let Some(spec) = self.spec(values) else {
            self.reader.nothing();
            return Ok(());
        };
        let source = spec.source.clone();
        if self.reader.start(spec)? {
            self.reader.param_texts = self.param_column_texts(&source);
        }
        Ok(())
    }
}
