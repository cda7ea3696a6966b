//! SELECT: sources → measurements → series (tag conditions) → groups (GROUP
//! BY tags) → rows: raw points, or aggregates per time bucket (GROUP BY
//! time with offset, fill) with derivatives; ORDER BY time DESC, LIMIT,
//! OFFSET, SLIMIT, SOFFSET.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use super::agg::{self, AGGREGATES, TRANSFORMS, cell, is_selector};
use super::cond::{self, Row, Val, field_val};
use super::{Cell, ResultSeries};
use crate::influxql::{Expr, Fill, GroupByTags, SelectStatement, Source, VarKind};
use crate::line::FieldValue;
use crate::shard::{Series, SeriesId, Shard};

/// Buckets one query may produce (per series).
pub const MAX_BUCKETS: i64 = 1_000_000;

/// One output column of an aggregate query.
#[derive(Debug, Clone)]
struct AggColumn {
    name: String,
    /// The aggregate (`mean`…), or `None` for a derivative of raw values.
    function: Option<String>,
    field: String,
    arg: Option<f64>,
    /// `(non_negative, unit ns)` when wrapped in a derivative.
    derivative: Option<(bool, i64)>,
}

enum Plan {
    Raw(Vec<RawColumn>),
    Aggregate(Vec<AggColumn>),
}

#[derive(Debug, Clone)]
enum RawColumn {
    Field(String),
    Tag(String),
}

fn field_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::VarRef { name, .. } => Some(name),
        _ => None,
    }
}

fn unique(names: &mut [String]) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for n in names.iter_mut() {
        let count = seen.entry(n.clone()).or_insert(0);
        if *count > 0 {
            *n = format!("{n}_{count}");
        }
        *count += 1;
    }
}

/// Reads one aggregate field expression.
fn agg_column(e: &Expr, alias: Option<&str>, grouped: bool) -> Result<AggColumn, String> {
    let Expr::Call { name, args } = e else {
        return Err("mixing aggregate and non-aggregate queries is not supported".into());
    };
    let out_name = alias.map_or_else(|| name.clone(), str::to_owned);
    if TRANSFORMS.contains(&name.as_str()) {
        let non_negative = name == "non_negative_derivative";
        let unit = match args.get(1) {
            None => 1_000_000_000,
            Some(Expr::Duration(d)) if *d > 0 => *d,
            Some(_) => return Err(format!("second argument to {name} must be a duration")),
        };
        return match args.first() {
            Some(inner @ Expr::Call { .. }) => {
                let mut c = agg_column(inner, None, grouped)?;
                c.name = out_name;
                c.derivative = Some((non_negative, unit));
                Ok(c)
            }
            Some(v) => {
                if grouped {
                    return Err(format!(
                        "aggregate function required inside the call to {name}"
                    ));
                }
                let field =
                    field_name(v).ok_or_else(|| format!("expected field argument in {name}()"))?;
                Ok(AggColumn {
                    name: out_name,
                    function: None,
                    field: field.to_owned(),
                    arg: None,
                    derivative: Some((non_negative, unit)),
                })
            }
            None => Err(format!("invalid number of arguments for {name}")),
        };
    }
    if !AGGREGATES.contains(&name.as_str()) {
        return Err(format!("function {name}() is not supported yet by cfyd"));
    }
    let field = args
        .first()
        .and_then(field_name)
        .ok_or_else(|| format!("expected field argument in {name}()"))?;
    let arg = match args.get(1) {
        Some(Expr::Number(f)) => Some(*f),
        Some(Expr::Integer(i)) => Some(*i as f64),
        Some(_) => return Err(format!("invalid argument to {name}()")),
        None if name == "percentile" => {
            return Err("invalid number of arguments for percentile, expected 2, got 1".into());
        }
        None => None,
    };
    Ok(AggColumn {
        name: out_name,
        function: Some(name.clone()),
        field: field.to_owned(),
        arg,
        derivative: None,
    })
}

fn plan(stmt: &SelectStatement, shard: &Shard, measurement: &str) -> Result<Plan, String> {
    let has_call = stmt
        .fields
        .iter()
        .any(|f| matches!(f.expr, Expr::Call { .. }));
    if has_call {
        let cols = stmt
            .fields
            .iter()
            .map(|f| agg_column(&f.expr, f.alias.as_deref(), stmt.group_by_time.is_some()))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Plan::Aggregate(cols));
    }
    if stmt.group_by_time.is_some() {
        return Err("GROUP BY requires at least one aggregate function".into());
    }
    let fields = shard.field_types.get(measurement);
    let tags = shard.tag_index.get(measurement);
    let is_field = |n: &str| fields.is_some_and(|f| f.contains_key(n));
    let mut cols = Vec::new();
    for f in &stmt.fields {
        match &f.expr {
            Expr::Wildcard { kind } => {
                if *kind != Some(VarKind::Tag) {
                    cols.extend(
                        fields
                            .into_iter()
                            .flat_map(|f| f.keys())
                            .cloned()
                            .map(RawColumn::Field),
                    );
                }
                if *kind != Some(VarKind::Field) {
                    cols.extend(
                        tags.into_iter()
                            .flat_map(|t| t.keys())
                            .cloned()
                            .map(RawColumn::Tag),
                    );
                }
            }
            Expr::VarRef { name, kind } => {
                if *kind == Some(VarKind::Tag)
                    || (!is_field(name) && tags.is_some_and(|t| t.contains_key(name)))
                {
                    cols.push(RawColumn::Tag(name.clone()));
                } else {
                    cols.push(RawColumn::Field(name.clone()));
                }
            }
            _ => return Err("only fields, tags and functions are supported in SELECT yet".into()),
        }
    }
    // `*` lists fields and tags together in name order, as InfluxDB does.
    if stmt
        .fields
        .iter()
        .any(|f| matches!(f.expr, Expr::Wildcard { .. }))
    {
        cols.sort_by(|a, b| col_name(a).cmp(col_name(b)));
    }
    Ok(Plan::Raw(cols))
}

fn col_name(c: &RawColumn) -> &str {
    match c {
        RawColumn::Field(n) | RawColumn::Tag(n) => n,
    }
}

/// The measurements the sources name (that exist in the shard).
pub fn measurements(shard: &Shard, from: &[Source]) -> Result<Vec<String>, String> {
    let mut out = BTreeSet::new();
    for s in from {
        match s {
            Source::Measurement { name, .. } => {
                if shard.by_measurement.contains_key(name) {
                    out.insert(name.clone());
                }
            }
            Source::Regex { regex, .. } => {
                let re = Regex::new(regex).map_err(|e| e.to_string())?;
                out.extend(
                    shard
                        .by_measurement
                        .keys()
                        .filter(|m| re.is_match(m))
                        .cloned(),
                );
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// The series of `measurement` whose tags may satisfy `cond`.
pub fn matching_series(
    shard: &Shard,
    measurement: &str,
    cond: Option<&Expr>,
    now: i64,
) -> Vec<SeriesId> {
    let Some(ids) = shard.by_measurement.get(measurement) else {
        return Vec::new();
    };
    ids.iter()
        .copied()
        .filter(|id| {
            let Some(s) = shard.series.get(*id as usize) else {
                return false;
            };
            cond.is_none_or(|c| {
                cond::eval(c, None, s, now).and_then(|v| cond::truth(&v)) != Some(false)
            })
        })
        .collect()
}

fn group_key(
    s: &Series,
    by: &GroupByTags,
    all_tags: &[String],
) -> Result<Vec<(String, String)>, String> {
    let keys: Vec<String> = match by {
        GroupByTags::None => return Ok(Vec::new()),
        GroupByTags::All => all_tags.to_vec(),
        GroupByTags::Tags(t) => {
            let mut t = t.clone();
            t.sort();
            t.dedup();
            t
        }
        GroupByTags::Regex(r) => {
            let re = Regex::new(r).map_err(|e| e.to_string())?;
            all_tags
                .iter()
                .filter(|k| re.is_match(k))
                .cloned()
                .collect()
        }
    };
    Ok(keys
        .into_iter()
        .map(|k| {
            let v = s.tag(&k).unwrap_or_default().to_owned();
            (k, v)
        })
        .collect())
}

struct Ctx<'a> {
    shard: &'a Shard,
    stmt: &'a SelectStatement,
    now: i64,
    min: i64,
    max: i64,
    /// Rows must be checked against the whole condition.
    row_check: bool,
}

impl Ctx<'_> {
    /// Points of `field` of series `id` that satisfy the condition.
    fn points(&self, id: SeriesId, field: &str) -> Vec<(i64, FieldValue)> {
        let Some(col) = self.shard.columns.get(&(id, field.to_owned())) else {
            return Vec::new();
        };
        let mut pts = col.read(self.min, self.max);
        if self.row_check
            && let (Some(c), Some(series)) =
                (&self.stmt.condition, self.shard.series.get(id as usize))
        {
            pts.retain(|(t, _)| self.row_ok(c, id, series, *t));
        }
        pts
    }

    fn row_ok(&self, c: &Expr, id: SeriesId, series: &Series, t: i64) -> bool {
        let lookup = |name: &str| -> Option<Val> {
            let col = self.shard.columns.get(&(id, name.to_owned()))?;
            col.read(t, t).first().map(|(_, v)| field_val(v))
        };
        let row = Row {
            time: t,
            series,
            fields: &lookup,
        };
        cond::eval(c, Some(&row), series, self.now).and_then(|v| cond::truth(&v)) == Some(true)
    }
}

/// Runs a SELECT on one shard.
pub fn run(shard: &Shard, stmt: &SelectStatement, now: i64) -> Result<Vec<ResultSeries>, String> {
    let (min, mut max, exact) = cond::time_range(stmt.condition.as_ref(), now)?;
    if stmt.group_by_time.is_some() && max == i64::MAX {
        max = now;
    }
    let mut out = Vec::new();
    for m in measurements(shard, &stmt.from)? {
        let all_tags: Vec<String> = shard
            .tag_index
            .get(&m)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        let is_tag = |n: &str| all_tags.iter().any(|t| t == n);
        let row_check = stmt
            .condition
            .as_ref()
            .is_some_and(|c| !exact || cond::needs_fields(c, &is_tag));
        let ctx = Ctx {
            shard,
            stmt,
            now,
            min,
            max,
            row_check,
        };
        let p = plan(stmt, shard, &m)?;
        let mut groups: BTreeMap<Vec<(String, String)>, Vec<SeriesId>> = BTreeMap::new();
        for id in matching_series(shard, &m, stmt.condition.as_ref(), now) {
            let Some(s) = shard.series.get(id as usize) else {
                continue;
            };
            groups
                .entry(group_key(s, &stmt.group_by_tags, &all_tags)?)
                .or_default()
                .push(id);
        }
        for (key, mut ids) in groups {
            // Points at equal times come in series-key order, as InfluxDB
            // merges them (first/last/selectors depend on it).
            ids.sort_by_cached_key(|id| shard.series.get(*id as usize).map(Series::key));
            let (columns, rows) = match &p {
                Plan::Raw(cols) => raw_rows(&ctx, cols, &ids),
                Plan::Aggregate(cols) => agg_rows(&ctx, cols, &ids)?,
            };
            if rows.is_empty() {
                continue;
            }
            out.push(ResultSeries {
                name: Some(m.clone()),
                tags: (!matches!(stmt.group_by_tags, GroupByTags::None))
                    .then(|| key.into_iter().collect()),
                columns,
                values: rows,
            });
        }
    }
    let soffset = usize::try_from(stmt.soffset.unwrap_or(0)).unwrap_or(usize::MAX);
    let out: Vec<ResultSeries> = out.into_iter().skip(soffset).collect();
    Ok(match stmt.slimit {
        Some(n) if n > 0 => out
            .into_iter()
            .take(usize::try_from(n).unwrap_or(usize::MAX))
            .collect(),
        _ => out,
    })
}

fn limit_rows(ctx: &Ctx, mut rows: Vec<Vec<Cell>>) -> Vec<Vec<Cell>> {
    if ctx.stmt.order_desc {
        rows.reverse();
    }
    let offset = usize::try_from(ctx.stmt.offset.unwrap_or(0)).unwrap_or(usize::MAX);
    let rows = rows.into_iter().skip(offset);
    match ctx.stmt.limit {
        Some(n) if n > 0 => rows
            .take(usize::try_from(n).unwrap_or(usize::MAX))
            .collect(),
        _ => rows.collect(),
    }
}

fn raw_rows(ctx: &Ctx, cols: &[RawColumn], ids: &[SeriesId]) -> (Vec<String>, Vec<Vec<Cell>>) {
    let mut names: Vec<String> = std::iter::once("time".to_owned())
        .chain(cols.iter().map(|c| col_name(c).to_owned()))
        .collect();
    unique(&mut names[1..]);
    let mut rows: Vec<(i64, Vec<Cell>)> = Vec::new();
    for id in ids {
        let Some(series) = ctx.shard.series.get(*id as usize) else {
            continue;
        };
        let mut by_time: BTreeMap<i64, Vec<Cell>> = BTreeMap::new();
        for (i, c) in cols.iter().enumerate() {
            if let RawColumn::Field(f) = c {
                for (t, v) in ctx.points(*id, f) {
                    by_time
                        .entry(t)
                        .or_insert_with(|| vec![Cell::Null; cols.len()])[i] = cell(&v);
                }
            }
        }
        for (t, mut cells) in by_time {
            for (i, c) in cols.iter().enumerate() {
                if let RawColumn::Tag(k) = c {
                    cells[i] = series
                        .tag(k)
                        .map_or(Cell::Null, |v| Cell::String(v.to_owned()));
                }
            }
            rows.push((t, cells));
        }
    }
    rows.sort_by_key(|(t, _)| *t);
    let rows = rows
        .into_iter()
        .map(|(t, cells)| std::iter::once(Cell::Time(t)).chain(cells).collect())
        .collect();
    (names, limit_rows(ctx, rows))
}

fn agg_rows(
    ctx: &Ctx,
    cols: &[AggColumn],
    ids: &[SeriesId],
) -> Result<(Vec<String>, Vec<Vec<Cell>>), String> {
    let mut names: Vec<String> = std::iter::once("time".to_owned())
        .chain(cols.iter().map(|c| c.name.clone()))
        .collect();
    unique(&mut names[1..]);
    // Points per distinct field, all series of the group merged by time.
    let mut inputs: BTreeMap<&str, Vec<(i64, FieldValue)>> = BTreeMap::new();
    for c in cols {
        if inputs.contains_key(c.field.as_str()) {
            continue;
        }
        let mut pts: Vec<(i64, FieldValue)> = ids
            .iter()
            .flat_map(|id| ctx.points(*id, &c.field))
            .collect();
        pts.sort_by_key(|(t, _)| *t);
        inputs.insert(&c.field, pts);
    }
    let empty = Vec::new();
    let mut columns: Vec<Vec<(i64, Cell)>> = Vec::new();
    let bucket_times: Vec<i64>;
    match ctx.stmt.group_by_time {
        Some(g) => {
            let interval = g.interval_ns.max(1);
            let first_data = inputs.values().filter_map(|p| p.first().map(|x| x.0)).min();
            let lo = if ctx.min == i64::MIN {
                match first_data {
                    Some(t) => t,
                    None => return Ok((names, Vec::new())),
                }
            } else {
                ctx.min
            };
            let align = |t: i64| {
                let shifted = t.saturating_sub(g.offset_ns);
                shifted
                    .div_euclid(interval)
                    .saturating_mul(interval)
                    .saturating_add(g.offset_ns)
            };
            let start = align(lo);
            let end = ctx.max;
            let n = (end.saturating_sub(start)) / interval + 1;
            if n > MAX_BUCKETS {
                return Err(format!(
                    "max-select-buckets limit exceeded: ({n}/{MAX_BUCKETS})"
                ));
            }
            bucket_times = (0..n.max(0)).map(|i| start + i * interval).collect();
            for c in cols {
                let pts = inputs.get(c.field.as_str()).unwrap_or(&empty);
                let mut vals = Vec::with_capacity(bucket_times.len());
                let mut pos = 0;
                for bt in &bucket_times {
                    let bucket_end = bt.saturating_add(interval);
                    let from = pos;
                    while pos < pts.len() && pts[pos].0 < bucket_end {
                        pos += 1;
                    }
                    let slice: Vec<(i64, FieldValue)> = pts[from..pos]
                        .iter()
                        .filter(|(t, _)| *t >= *bt)
                        .cloned()
                        .collect();
                    // An empty bucket is null for every function here; count's
                    // 0 is put back after fill (InfluxDB: fill replaces it).
                    let (v, _) = if slice.is_empty() {
                        (Cell::Null, None)
                    } else {
                        agg::aggregate(c.function.as_deref().unwrap_or("mean"), c.arg, &slice)?
                    };
                    vals.push((*bt, v));
                }
                columns.push(vals);
            }
        }
        None => {
            let time = if ctx.min == i64::MIN { 0 } else { ctx.min };
            // A lone selector on one series reports its point's time (with
            // several series merged InfluxDB reports the range start).
            let single_selector = cols.len() == 1
                && ids.len() == 1
                && cols[0].derivative.is_none()
                && cols[0].function.as_deref().is_some_and(is_selector);
            let mut t_out = time;
            for c in cols {
                let pts = inputs.get(c.field.as_str()).unwrap_or(&empty);
                match &c.function {
                    None => {
                        // A derivative of raw values: one row per value.
                        let raw: Vec<(i64, Cell)> =
                            pts.iter().map(|(t, v)| (*t, cell(v))).collect();
                        columns.push(raw);
                    }
                    Some(f) => {
                        let (v, at) = agg::aggregate(f, c.arg, pts)?;
                        if single_selector && let Some(at) = at {
                            t_out = at;
                        }
                        columns.push(vec![(time, v)]);
                    }
                }
            }
            if single_selector {
                for col in &mut columns {
                    for (t, _) in col.iter_mut() {
                        *t = t_out;
                    }
                }
            }
            bucket_times = Vec::new();
        }
    }
    // Derivatives turn each column into rates between its values.
    for (c, col) in cols.iter().zip(columns.iter_mut()) {
        if let Some((non_negative, unit)) = c.derivative {
            *col = agg::derivative(col, unit, non_negative);
        }
    }
    let mut rows = assemble(ctx, &columns, &bucket_times);
    if ctx.stmt.group_by_time.is_some() && ctx.stmt.fill == Fill::Null {
        for (i, c) in cols.iter().enumerate() {
            if c.function.as_deref() == Some("count") && c.derivative.is_none() {
                for row in &mut rows {
                    if let Some(cell) = row.get_mut(i + 1).filter(|x| **x == Cell::Null) {
                        *cell = Cell::Integer(0);
                    }
                }
            }
        }
    }
    Ok((names, limit_rows(ctx, rows)))
}

/// Joins the columns on time and applies fill.
fn assemble(ctx: &Ctx, columns: &[Vec<(i64, Cell)>], buckets: &[i64]) -> Vec<Vec<Cell>> {
    let mut times: BTreeSet<i64> = columns
        .iter()
        .flat_map(|c| c.iter().map(|(t, _)| *t))
        .collect();
    if ctx.stmt.group_by_time.is_some() && columns.iter().all(|c| c.len() == buckets.len()) {
        times = buckets.iter().copied().collect();
    }
    let maps: Vec<BTreeMap<i64, Cell>> = columns
        .iter()
        .map(|c| c.iter().cloned().collect())
        .collect();
    let grid: Vec<(i64, Vec<Cell>)> = times
        .into_iter()
        .map(|t| {
            let cells = maps
                .iter()
                .map(|m| m.get(&t).cloned().unwrap_or(Cell::Null))
                .collect();
            (t, cells)
        })
        .collect();
    let filled = fill(grid, ctx.stmt.fill, ctx.stmt.group_by_time.is_some());
    filled
        .into_iter()
        .map(|(t, cells)| std::iter::once(Cell::Time(t)).chain(cells).collect())
        .collect()
}

fn as_f64(c: &Cell) -> Option<f64> {
    match c {
        Cell::Float(f) => Some(*f),
        Cell::Integer(i) => Some(*i as f64),
        Cell::Unsigned(u) => Some(*u as f64),
        _ => None,
    }
}

fn fill(mut grid: Vec<(i64, Vec<Cell>)>, how: Fill, by_time: bool) -> Vec<(i64, Vec<Cell>)> {
    let all_null = |cells: &[Cell]| cells.iter().all(|c| *c == Cell::Null);
    if !by_time {
        grid.retain(|(_, c)| !all_null(c));
        return grid;
    }
    let width = grid.first().map_or(0, |(_, c)| c.len());
    match how {
        Fill::Null => {}
        Fill::None => grid.retain(|(_, c)| !all_null(c)),
        Fill::Value(v) => {
            for (_, cells) in &mut grid {
                for c in cells.iter_mut().filter(|c| **c == Cell::Null) {
                    *c = if v.fract() == 0.0 && v.abs() < 9e15 {
                        Cell::Integer(v as i64)
                    } else {
                        Cell::Float(v)
                    };
                }
            }
        }
        Fill::Previous => {
            for col in 0..width {
                let mut last = Cell::Null;
                for (_, cells) in &mut grid {
                    if cells[col] == Cell::Null {
                        cells[col] = last.clone();
                    } else {
                        last = cells[col].clone();
                    }
                }
            }
        }
        Fill::Linear => {
            for col in 0..width {
                let known: Vec<(usize, i64, f64)> = grid
                    .iter()
                    .enumerate()
                    .filter_map(|(i, (t, c))| as_f64(&c[col]).map(|v| (i, *t, v)))
                    .collect();
                for w in known.windows(2) {
                    let ((i0, t0, v0), (i1, t1, v1)) = (w[0], w[1]);
                    for (t, cells) in grid.iter_mut().take(i1).skip(i0 + 1) {
                        let v = v0 + (v1 - v0) * ((*t - t0) as f64 / (t1 - t0) as f64);
                        cells[col] = Cell::Float(v);
                    }
                }
            }
        }
    }
    grid
}
