//! Executes InfluxQL on a [`Tsdb`]: one result per statement, with an
//! error in the result (not a failure of the request) when a statement
//! cannot run, as InfluxDB answers.

pub mod agg;
pub mod cond;
mod meta;
pub mod select;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::engine::Tsdb;
use crate::influxql::{Expr, Statement, parse};

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    /// Nanoseconds since the epoch.
    Time(i64),
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    Boolean(bool),
    String(String),
}

/// One series of a statement's result.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSeries {
    pub name: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub columns: Vec<String>,
    pub values: Vec<Vec<Cell>>,
}

/// A statement's result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatementResult {
    pub statement_id: usize,
    pub series: Vec<ResultSeries>,
    /// `(level, text)`.
    pub messages: Vec<(String, String)>,
    pub error: Option<String>,
}

fn bind_expr(e: &mut Expr, params: &Map<String, Value>) -> Result<(), String> {
    match e {
        Expr::BoundParam(name) => {
            let v = params
                .get(name.as_str())
                .ok_or_else(|| format!("missing parameter: {name}"))?;
            *e = match v {
                Value::String(s) => Expr::String(s.clone()),
                Value::Bool(b) => Expr::Bool(*b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => Expr::Integer(i),
                    None => Expr::Number(n.as_f64().unwrap_or(f64::NAN)),
                },
                other => return Err(format!("unsupported parameter value: {other}")),
            };
            Ok(())
        }
        Expr::Binary { lhs, rhs, .. } => {
            bind_expr(lhs, params)?;
            bind_expr(rhs, params)
        }
        Expr::Call { args, .. } => args.iter_mut().try_for_each(|a| bind_expr(a, params)),
        _ => Ok(()),
    }
}

fn bind(stmt: &mut Statement, params: &Map<String, Value>) -> Result<(), String> {
    let cond = match stmt {
        Statement::Select(s) => {
            for f in &mut s.fields {
                bind_expr(&mut f.expr, params)?;
            }
            &mut s.condition
        }
        Statement::ShowMeasurements { condition, .. }
        | Statement::ShowTagKeys { condition, .. }
        | Statement::ShowTagValues { condition, .. }
        | Statement::ShowSeries { condition, .. }
        | Statement::DropSeries { condition, .. }
        | Statement::Delete { condition, .. } => condition,
        _ => return Ok(()),
    };
    match cond {
        Some(c) => bind_expr(c, params),
        None => Ok(()),
    }
}

/// Parses and runs `text`; `Err` is a parse error (the whole request
/// fails, as in InfluxDB). `via_get` adds InfluxDB's deprecation warning
/// to statements that write.
pub fn run(
    tsdb: &Tsdb,
    text: &str,
    database: Option<&str>,
    params: &Map<String, Value>,
    now: i64,
    via_get: bool,
) -> Result<Vec<StatementResult>, String> {
    let statements = parse(text).map_err(|e| e.to_string())?;
    Ok(statements
        .into_iter()
        .enumerate()
        .map(|(i, mut stmt)| {
            let mut r = StatementResult {
                statement_id: i,
                ..StatementResult::default()
            };
            if via_get && !stmt.is_read_only() {
                r.messages.push((
                    "warning".into(),
                    "deprecated use of a write statement in a read only context, please use a POST request instead".into(),
                ));
            }
            let outcome = bind(&mut stmt, params).and_then(|()| execute(tsdb, &stmt, database, now));
            match outcome {
                Ok(series) => r.series = series,
                Err(e) => r.error = Some(e),
            }
            r
        })
        .collect())
}

fn execute(
    tsdb: &Tsdb,
    stmt: &Statement,
    database: Option<&str>,
    now: i64,
) -> Result<Vec<ResultSeries>, String> {
    let Statement::Select(select) = stmt else {
        return meta::run(tsdb, stmt, database, now);
    };
    let db = select
        .from
        .iter()
        .find_map(|s| s.database())
        .or(database)
        .ok_or("database name required")?;
    let rp = tsdb
        .resolve_rp(db, select.from.iter().find_map(|s| s.retention_policy()))
        .map_err(|e| e.to_string())?;
    let Some(shard) = tsdb.shard(db, &rp) else {
        return Ok(Vec::new());
    };
    let shard = shard.read();
    select::run(&shard, select, now)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::engine::TsdbConfig;
    use crate::line::{Precision, parse_lines};

    fn db() -> (tempfile::TempDir, Tsdb) {
        let dir = tempfile::tempdir().unwrap();
        let t = Tsdb::open(dir.path(), TsdbConfig::default()).unwrap();
        t.create_database("db", None).unwrap();
        let mut body = String::new();
        for i in 0..60 {
            for (host, region) in [("a", "eu"), ("b", "us")] {
                let v = if host == "a" { i } else { 100 + i };
                body.push_str(&format!(
                    "cpu,host={host},region={region} value={v},n={i}i {}\n",
                    i * 10
                ));
            }
        }
        let (points, bad) = parse_lines(&body);
        assert!(bad.is_empty());
        t.write("db", None, points, Precision::Seconds, 0).unwrap();
        (dir, t)
    }

    fn q(t: &Tsdb, text: &str) -> StatementResult {
        let mut r = run(t, text, Some("db"), &Map::new(), 600_000_000_000, false).unwrap();
        r.remove(0)
    }

    #[test]
    fn aggregates_grouped_by_time_and_tags() {
        let (_d, t) = db();
        let r = q(
            &t,
            "SELECT mean(value) FROM cpu WHERE host = 'a' AND time >= 0s AND time < 300s GROUP BY time(100s)",
        );
        assert_eq!(r.error, None);
        let s = &r.series[0];
        assert_eq!(s.columns, vec!["time", "mean"]);
        assert_eq!(s.values.len(), 3);
        assert_eq!(s.values[0], vec![Cell::Time(0), Cell::Float(4.5)]);
        assert_eq!(
            s.values[2],
            vec![Cell::Time(200_000_000_000), Cell::Float(24.5)]
        );

        let r = q(&t, "SELECT max(value) FROM cpu GROUP BY host");
        assert_eq!(r.series.len(), 2);
        assert_eq!(r.series[1].tags.as_ref().unwrap()["host"], "b");
        assert_eq!(
            r.series[1].values[0],
            vec![Cell::Time(590_000_000_000), Cell::Float(159.0)]
        );

        let r = q(&t, "SELECT count(value) FROM cpu WHERE region =~ /^u/");
        assert_eq!(r.series[0].values[0][1], Cell::Integer(60));

        let r = q(
            &t,
            "SELECT mean(value) FROM cpu WHERE host = 'a' AND time >= 0s AND time < 50s GROUP BY time(20s) fill(none)",
        );
        assert_eq!(r.series[0].values.len(), 3);
        let r = q(
            &t,
            "SELECT derivative(mean(value), 1s) FROM cpu WHERE host = 'a' AND time >= 0s AND time < 100s GROUP BY time(20s)",
        );
        assert_eq!(
            r.series[0].values[0],
            vec![Cell::Time(20_000_000_000), Cell::Float(0.1)]
        );
    }

    #[test]
    fn raw_queries_show_and_errors() {
        let (_d, t) = db();
        let r = q(
            &t,
            "SELECT value, host FROM cpu WHERE value > 157 ORDER BY time DESC LIMIT 1",
        );
        assert_eq!(
            r.series[0].values,
            vec![vec![
                Cell::Time(590_000_000_000),
                Cell::Float(159.0),
                Cell::String("b".into())
            ]]
        );
        let r = q(&t, "SELECT * FROM cpu WHERE host = 'a' LIMIT 1");
        assert_eq!(
            r.series[0].columns,
            vec!["time", "host", "n", "region", "value"]
        );
        assert_eq!(
            q(&t, "SHOW MEASUREMENTS").series[0].values,
            vec![vec![Cell::String("cpu".into())]]
        );
        assert_eq!(
            q(&t, "SHOW TAG VALUES WITH KEY = host").series[0]
                .values
                .len(),
            2
        );
        assert_eq!(
            q(&t, "SHOW FIELD KEYS").series[0].values[0],
            vec![Cell::String("n".into()), Cell::String("integer".into())]
        );
        assert_eq!(q(&t, "SHOW SERIES").series[0].values.len(), 2);
        assert_eq!(
            q(&t, "SHOW RETENTION POLICIES").series[0].values[0][1],
            Cell::String("0s".into())
        );
        assert_eq!(
            q(&t, "SELECT value FROM cpu WHERE host = 'zzz'")
                .series
                .len(),
            0
        );
        assert!(q(&t, "SELECT nope(value) FROM cpu").error.is_some());
        let r = run(&t, "SELECT value FROM cpu", None, &Map::new(), 0, false).unwrap();
        assert_eq!(r[0].error.as_deref(), Some("database name required"));
        assert!(run(&t, "SELEC x", None, &Map::new(), 0, false).is_err());
        let r = q(&t, "DELETE FROM cpu WHERE host = 'a' AND time < 100s");
        assert_eq!(r.error, None);
        assert_eq!(
            q(&t, "SELECT count(value) FROM cpu WHERE host = 'a'").series[0].values[0][1],
            Cell::Integer(50)
        );
        q(&t, "DROP MEASUREMENT cpu");
        assert!(q(&t, "SHOW MEASUREMENTS").series.is_empty());
    }
}
