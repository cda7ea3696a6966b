//! The executor against a naive model: random points in two series, random
//! GROUP BY time intervals and aggregates; every bucket's value must be what
//! a direct computation over the points gives.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::Map;
use tsdb::line::{FieldValue, Point, Precision};
use tsdb::query::{Cell, run};
use tsdb::{Tsdb, TsdbConfig};

fn model(func: &str, values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return if func == "count" { Some(0.0) } else { None };
    }
    let n = values.len() as f64;
    Some(match func {
        "count" => n,
        "sum" => values.iter().sum(),
        "mean" => values.iter().sum::<f64>() / n,
        "min" => values.iter().copied().fold(f64::INFINITY, f64::min),
        "max" => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        "first" => values[0],
        "last" => values[values.len() - 1],
        "spread" => {
            values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                - values.iter().copied().fold(f64::INFINITY, f64::min)
        }
        _ => unreachable!(),
    })
}

fn as_f64(c: &Cell) -> Option<f64> {
    match c {
        Cell::Float(f) => Some(*f),
        Cell::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn aggregates_match_the_model(
        points in proptest::collection::vec((0i64..1000, 0u8..2, -1000i32..1000), 1..200),
        interval in 1i64..300,
        func in prop::sample::select(vec!["count", "sum", "mean", "min", "max", "first", "last", "spread"]),
        host_filter in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = Tsdb::open(dir.path(), TsdbConfig { fsync: false, ..TsdbConfig::default() }).unwrap();
        db.create_database("db", None).unwrap();
        let pts: Vec<Point> = points
            .iter()
            .map(|(t, h, v)| Point {
                measurement: "m".into(),
                tags: vec![("host".into(), format!("h{h}"))],
                fields: vec![("v".into(), FieldValue::Float(f64::from(*v) / 4.0))],
                timestamp: Some(*t),
            })
            .collect();
        db.write("db", None, pts, Precision::Seconds, 0).unwrap();
        // The model: last write wins per (series, time), then filter.
        let mut latest: std::collections::BTreeMap<(u8, i64), f64> = Default::default();
        for (t, h, v) in &points {
            latest.insert((*h, *t), f64::from(*v) / 4.0);
        }
        let filter = if host_filter { " AND host = 'h0'" } else { "" };
        let q = format!(
            "SELECT {func}(v) FROM m WHERE time >= 0s AND time < 1000s{filter} GROUP BY time({interval}s) fill(none)"
        );
        let r = run(&db, &q, Some("db"), &Map::new(), 2_000_000_000_000, false).unwrap();
        prop_assert_eq!(&r[0].error, &None);
        let rows = r[0].series.first().map(|s| s.values.clone()).unwrap_or_default();
        let mut expected = Vec::new();
        let mut start = 0;
        while start < 1000 {
            let mut vals: Vec<(i64, f64)> = latest
                .iter()
                .filter(|((h, t), _)| (!host_filter || *h == 0) && *t >= start && *t < start + interval)
                .map(|((_, t), v)| (*t, *v))
                .collect();
            vals.sort_by_key(|(t, _)| *t);
            let vs: Vec<f64> = vals.iter().map(|(_, v)| *v).collect();
            if !vs.is_empty() {
                expected.push((start * 1_000_000_000, model(func, &vs).unwrap()));
            }
            start += interval;
        }
        prop_assert_eq!(rows.len(), expected.len(), "{} {:?}", q, rows);
        for (row, (t, want)) in rows.iter().zip(&expected) {
            prop_assert_eq!(&row[0], &Cell::Time(*t));
            let got = as_f64(&row[1]).unwrap();
            prop_assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{} at {}: {} != {}", func, t, got, want);
        }
    }
}
