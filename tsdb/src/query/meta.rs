//! SHOW statements, database and retention-policy statements, and the
//! deleting ones (DROP MEASUREMENT, DROP SERIES, DELETE).

use std::collections::BTreeSet;

use regex::Regex;

use super::select::{matching_series, measurements};
use super::{Cell, ResultSeries, cond};
use crate::engine::{RetentionPolicy, Tsdb};
use crate::influxql::{Expr, MeasurementMatch, Source, Statement, TagKeyMatch, format_duration};
use crate::shard::Shard;

fn series(name: Option<&str>, columns: &[&str], values: Vec<Vec<Cell>>) -> ResultSeries {
    ResultSeries {
        name: name.map(str::to_owned),
        tags: None,
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        values,
    }
}

fn text(s: &str) -> Cell {
    Cell::String(s.to_owned())
}

fn page<T>(items: Vec<T>, limit: Option<u64>, offset: Option<u64>) -> Vec<T> {
    let skip = usize::try_from(offset.unwrap_or(0)).unwrap_or(usize::MAX);
    let it = items.into_iter().skip(skip);
    match limit {
        Some(n) if n > 0 => it.take(usize::try_from(n).unwrap_or(usize::MAX)).collect(),
        _ => it.collect(),
    }
}

/// Every shard of a database (all its retention policies).
fn shards(tsdb: &Tsdb, db: &str) -> Vec<std::sync::Arc<parking_lot::RwLock<Shard>>> {
    let Some(meta) = tsdb.database(db) else {
        return Vec::new();
    };
    meta.policies
        .keys()
        .filter_map(|rp| tsdb.shard(db, rp))
        .collect()
}

/// The measurements of `from` (all when empty) with series matching `cond`.
fn selected(
    shard: &Shard,
    from: &[Source],
    cond: Option<&Expr>,
    now: i64,
) -> Result<Vec<String>, String> {
    let names = if from.is_empty() {
        shard.by_measurement.keys().cloned().collect()
    } else {
        measurements(shard, from)?
    };
    Ok(names
        .into_iter()
        .filter(|m| cond.is_none() || !matching_series(shard, m, cond, now).is_empty())
        .collect())
}

/// One series per measurement (of `from`, all when empty, with series
/// matching `cond`) in every shard of `db`, its rows from `rows`, paged.
#[allow(clippy::too_many_arguments)]
fn per_measurement(
    tsdb: &Tsdb,
    db: &str,
    from: &[Source],
    cond: Option<&Expr>,
    now: i64,
    (limit, offset): (Option<u64>, Option<u64>),
    columns: &[&str],
    rows: impl Fn(&Shard, &str) -> Vec<Vec<Cell>>,
) -> Result<Vec<ResultSeries>, String> {
    exists(tsdb, db)?;
    let mut out = Vec::new();
    for s in shards(tsdb, db) {
        let s = s.read();
        for m in selected(&s, from, cond, now)? {
            let r = page(rows(&s, &m), limit, offset);
            if !r.is_empty() {
                out.push(series(Some(&m), columns, r));
            }
        }
    }
    Ok(out)
}

fn need_db<'a>(explicit: Option<&'a str>, default: Option<&'a str>) -> Result<&'a str, String> {
    explicit
        .or(default)
        .ok_or_else(|| "database name required".to_owned())
}

fn exists(tsdb: &Tsdb, db: &str) -> Result<(), String> {
    tsdb.database(db)
        .map(|_| ())
        .ok_or_else(|| format!("database not found: {db}"))
}

/// Runs a non-SELECT statement.
pub fn run(
    tsdb: &Tsdb,
    stmt: &Statement,
    default_db: Option<&str>,
    now: i64,
) -> Result<Vec<ResultSeries>, String> {
    let err = |e: crate::engine::TsdbError| e.to_string();
    Ok(match stmt {
        Statement::Select(_) => Vec::new(),
        Statement::ShowDatabases => {
            let rows = tsdb.databases().iter().map(|d| vec![text(d)]).collect();
            vec![series(Some("databases"), &["name"], rows)]
        }
        Statement::ShowUsers => vec![series(None, &["user", "admin"], Vec::new())],
        Statement::ShowRetentionPolicies { database } => {
            let db = need_db(database.as_deref(), default_db)?;
            let meta = tsdb
                .database(db)
                .ok_or_else(|| format!("database not found: {db}"))?;
            let rows = meta
                .policies
                .iter()
                .map(|(name, rp)| {
                    vec![
                        text(name),
                        text(&format_duration(rp.duration)),
                        text(&format_duration(rp.shard_duration)),
                        Cell::Integer(i64::from(rp.replication)),
                        Cell::Boolean(*name == meta.default_rp),
                    ]
                })
                .collect();
            vec![series(
                None,
                &[
                    "name",
                    "duration",
                    "shardGroupDuration",
                    "replicaN",
                    "default",
                ],
                rows,
            )]
        }
        Statement::ShowMeasurements {
            database,
            measurement,
            condition,
            limit,
            offset,
        } => {
            let db = need_db(database.as_deref(), default_db)?;
            exists(tsdb, db)?;
            let re = match measurement {
                Some(MeasurementMatch::Regex(r)) => Some(Regex::new(r).map_err(|e| e.to_string())?),
                _ => None,
            };
            let mut names = BTreeSet::new();
            for s in shards(tsdb, db) {
                names.extend(selected(&s.read(), &[], condition.as_ref(), now)?);
            }
            let names: Vec<String> = names
                .into_iter()
                .filter(|n| match measurement {
                    Some(MeasurementMatch::Eq(m)) => n == m,
                    _ => re.as_ref().is_none_or(|r| r.is_match(n)),
                })
                .collect();
            let rows: Vec<Vec<Cell>> = page(names, *limit, *offset)
                .iter()
                .map(|n| vec![text(n)])
                .collect();
            if rows.is_empty() {
                Vec::new()
            } else {
                vec![series(Some("measurements"), &["name"], rows)]
            }
        }
        Statement::ShowTagKeys {
            database,
            from,
            condition,
            limit,
            offset,
        } => {
            let db = need_db(database.as_deref(), default_db)?;
            per_measurement(
                tsdb,
                db,
                from,
                condition.as_ref(),
                now,
                (*limit, *offset),
                &["tagKey"],
                |s, m| {
                    s.tag_index
                        .get(m)
                        .map(|t| t.keys().map(|k| vec![text(k)]).collect())
                        .unwrap_or_default()
                },
            )?
        }
        Statement::ShowTagValues {
            database,
            from,
            key,
            condition,
            limit,
            offset,
        } => {
            let db = need_db(database.as_deref(), default_db)?;
            exists(tsdb, db)?;
            let key_ok: Box<dyn Fn(&str) -> bool> = match key {
                TagKeyMatch::Eq(k) => {
                    let k = k.clone();
                    Box::new(move |x| x == k)
                }
                TagKeyMatch::NotEq(k) => {
                    let k = k.clone();
                    Box::new(move |x| x != k)
                }
                TagKeyMatch::In(ks) => {
                    let ks = ks.clone();
                    Box::new(move |x| ks.iter().any(|k| k == x))
                }
                TagKeyMatch::Regex(r) | TagKeyMatch::NotRegex(r) => {
                    let re = Regex::new(r).map_err(|e| e.to_string())?;
                    let neg = matches!(key, TagKeyMatch::NotRegex(_));
                    Box::new(move |x| re.is_match(x) != neg)
                }
            };
            let cond = condition.as_ref();
            per_measurement(
                tsdb,
                db,
                from,
                cond,
                now,
                (*limit, *offset),
                &["key", "value"],
                |s, m| {
                    let mut pairs = BTreeSet::new();
                    for id in matching_series(s, m, cond, now) {
                        if let Some(ser) = s.series.get(id as usize) {
                            for (k, v) in ser.tags.iter().filter(|(k, _)| key_ok(k)) {
                                pairs.insert((k.clone(), v.clone()));
                            }
                        }
                    }
                    pairs
                        .into_iter()
                        .map(|(k, v)| vec![text(&k), text(&v)])
                        .collect()
                },
            )?
        }
        Statement::ShowFieldKeys {
            database,
            from,
            limit,
            offset,
        } => {
            let db = need_db(database.as_deref(), default_db)?;
            per_measurement(
                tsdb,
                db,
                from,
                None,
                now,
                (*limit, *offset),
                &["fieldKey", "fieldType"],
                |s, m| {
                    s.field_types
                        .get(m)
                        .map(|f| {
                            f.iter()
                                .map(|(k, t)| vec![text(k), text(t.name())])
                                .collect()
                        })
                        .unwrap_or_default()
                },
            )?
        }
        Statement::ShowSeries {
            database,
            from,
            condition,
            limit,
            offset,
        } => {
            let db = need_db(database.as_deref(), default_db)?;
            exists(tsdb, db)?;
            let mut keys = BTreeSet::new();
            for s in shards(tsdb, db) {
                let s = s.read();
                for m in selected(&s, from, condition.as_ref(), now)? {
                    for id in matching_series(&s, &m, condition.as_ref(), now) {
                        if let Some(ser) = s.series.get(id as usize) {
                            keys.insert(ser.key());
                        }
                    }
                }
            }
            let rows: Vec<Vec<Cell>> = page(keys.into_iter().collect(), *limit, *offset)
                .iter()
                .map(|k| vec![text(k)])
                .collect();
            if rows.is_empty() {
                Vec::new()
            } else {
                vec![series(None, &["key"], rows)]
            }
        }
        Statement::CreateDatabase { name, retention } => {
            let policy = retention.as_ref().map(|r| {
                (
                    r.name
                        .clone()
                        .unwrap_or_else(|| crate::engine::DEFAULT_RP.to_owned()),
                    RetentionPolicy {
                        duration: r.duration.unwrap_or(0),
                        shard_duration: r.shard_duration.unwrap_or(crate::engine::DEFAULT_SHARD_NS),
                        replication: r.replication.unwrap_or(1),
                    },
                )
            });
            tsdb.create_database(name, policy).map_err(err)?;
            Vec::new()
        }
        Statement::DropDatabase { name } => {
            tsdb.drop_database(name).map_err(err)?;
            Vec::new()
        }
        Statement::CreateRetentionPolicy {
            name,
            database,
            duration,
            replication,
            shard_duration,
            default,
        } => {
            let rp = RetentionPolicy {
                duration: *duration,
                shard_duration: shard_duration.unwrap_or(
                    if *duration > 0 && *duration < crate::engine::DEFAULT_SHARD_NS {
                        3_600_000_000_000
                    } else {
                        crate::engine::DEFAULT_SHARD_NS
                    },
                ),
                replication: *replication,
            };
            tsdb.create_retention_policy(database, name, rp, *default)
                .map_err(err)?;
            Vec::new()
        }
        Statement::AlterRetentionPolicy {
            name,
            database,
            duration,
            replication,
            shard_duration,
            default,
        } => {
            tsdb.alter_retention_policy(
                database,
                name,
                *duration,
                *shard_duration,
                *replication,
                *default,
            )
            .map_err(err)?;
            Vec::new()
        }
        Statement::DropRetentionPolicy { name, database } => {
            tsdb.drop_retention_policy(database, name).map_err(err)?;
            Vec::new()
        }
        Statement::DropMeasurement { name } => {
            let db = need_db(None, default_db)?;
            let name = name.clone();
            tsdb.delete(db, &|s| s.measurement == name, i64::MIN, i64::MAX)
                .map_err(err)?;
            Vec::new()
        }
        Statement::DropSeries { from, condition } | Statement::Delete { from, condition } => {
            let db = need_db(None, default_db)?;
            let (min, max) = if matches!(stmt, Statement::Delete { .. }) {
                let (a, b, _) = cond::time_range(condition.as_ref(), now)?;
                (a, b)
            } else {
                (i64::MIN, i64::MAX)
            };
            let names: Option<BTreeSet<String>> = if from.is_empty() {
                None
            } else {
                let mut all = BTreeSet::new();
                for s in shards(tsdb, db) {
                    all.extend(measurements(&s.read(), from)?);
                }
                Some(all)
            };
            let cond_ref = condition.as_ref();
            tsdb.delete(
                db,
                &|s| {
                    names.as_ref().is_none_or(|n| n.contains(&s.measurement))
                        && cond_ref.is_none_or(|c| {
                            cond::eval(c, None, s, now).and_then(|v| cond::truth(&v)) != Some(false)
                        })
                },
                min,
                max,
            )
            .map_err(err)?;
            Vec::new()
        }
    })
}
