//! The arguments `downsample`, `window_source` and a parallel worker's
//! `downsample_partition` share, checked: the relation and its columns, the filter, and
//! the window's request.

use pgrx::prelude::*;

use super::filter::check_filter;
use super::{tiers, Axis, RelationWindow, Request, Series, Source};
use crate::error::SensorResult;
use crate::pg::args::{RegClass, SqlName};
use crate::pg::row_groups::KeyColumn;
use crate::pg::time;

/// The arguments `downsample` and `window_source` share, checked: the relation and its
/// columns, the filter, and the window's request.
pub(super) struct WindowCall<'a> {
    pub(super) relation: RegClass,
    pub(super) time_column: SqlName,
    pub(super) value_column: SqlName,
    pub(super) series_column: Option<SqlName>,
    pub(super) filter: Option<&'a str>,
    pub(super) request: Request,
}

/// (relation, time column, value column, series column).
type WindowColumns = (
    Option<RegClass>,
    Option<SqlName>,
    Option<SqlName>,
    Option<SqlName>,
);
/// ("from", "to", points, method, gap).
type WindowRange<'a> = (
    Option<TimestampWithTimeZone>,
    Option<TimestampWithTimeZone>,
    Option<i32>,
    Option<&'a str>,
    Option<Interval>,
);

impl<'a> WindowCall<'a> {
    /// `None` when a required argument is NULL.
    pub(super) fn of(
        (relation, time_column, value_column, series_column): WindowColumns,
        (from, to, points, method, gap): WindowRange<'_>,
        filter: Option<&'a str>,
    ) -> SensorResult<Option<Self>> {
        let (
            Some(relation),
            Some(time_column),
            Some(value_column),
            Some(from),
            Some(to),
            Some(points),
            Some(method),
        ) = (
            relation,
            time_column,
            value_column,
            from,
            to,
            points,
            method,
        )
        else {
            return Ok(None);
        };
        let request = Request::new(
            method,
            points,
            time::unix_micros(from, "from")?,
            time::unix_micros(to, "to")?,
            gap.map(|g| time::length_micros(g, "gap")).transpose()?,
        )?;
        if let Some(filter) = filter {
            check_filter(filter)?;
        }
        Ok(Some(WindowCall {
            relation,
            time_column,
            value_column,
            series_column,
            filter,
            request,
        }))
    }

    /// Where the raw rows come from.
    pub(super) fn source(&self) -> SensorResult<Source> {
        Ok(Source {
            relation: self.relation.qualified_name()?,
            x: self.time_column.quoted(),
            value: self.value_column.quoted(),
            series: self
                .series_column
                .as_ref()
                .map(|c| -> SensorResult<Series> {
                    Ok(Series {
                        column: c.quoted(),
                        key: KeyColumn::of(self.relation.0, &c.0)?,
                    })
                })
                .transpose()?,
            // On lines of its own: a trailing -- comment ends with the line.
            conditions: self
                .filter
                .map(|f| format!("(\n{f}\n)"))
                .into_iter()
                .collect(),
            params: Vec::new(),
            axis: Axis::Time,
            origin: Some(RelationWindow {
                relation: self.relation.0,
                time_column: self.time_column.0.clone(),
                value_column: self.value_column.0.clone(),
                series_column: self.series_column.as_ref().map(|c| c.0.clone()),
                filter: self.filter.map(str::to_string),
            }),
        })
    }

    /// The rollup tier that serves the window, if any.
    pub(super) fn plan(
        &self,
        choice: tiers::SourceChoice,
    ) -> SensorResult<Option<tiers::TierPlan>> {
        tiers::plan(
            &tiers::TierQuery {
                relid: self.relation.0,
                time_column: &self.time_column.0,
                value_column: &self.value_column.0,
                series_column: self.series_column.as_ref().map(|c| c.0.as_str()),
                filter: self.filter,
                choice,
            },
            &self.request,
        )
    }
}
