//! Aggregate and selector functions over the points of one bucket, and the
//! transformations over a sequence of values (derivatives).

use crate::line::FieldValue;

use super::Cell;

/// The functions cfyd evaluates.
pub const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "mean",
    "median",
    "min",
    "max",
    "first",
    "last",
    "spread",
    "stddev",
    "percentile",
];
pub const TRANSFORMS: &[&str] = &["derivative", "non_negative_derivative"];

/// Functions whose result is a point of the input (its time can be kept).
pub fn is_selector(name: &str) -> bool {
    matches!(name, "min" | "max" | "first" | "last" | "percentile")
}

fn num(v: &FieldValue) -> Option<f64> {
    match v {
        FieldValue::Float(f) => Some(*f),
        FieldValue::Integer(i) => Some(*i as f64),
        FieldValue::Unsigned(u) => Some(*u as f64),
        _ => None,
    }
}

pub fn cell(v: &FieldValue) -> Cell {
    match v {
        FieldValue::Float(f) => Cell::Float(*f),
        FieldValue::Integer(i) => Cell::Integer(*i),
        FieldValue::Unsigned(u) => Cell::Unsigned(*u),
        FieldValue::Boolean(b) => Cell::Boolean(*b),
        FieldValue::String(s) => Cell::String(s.clone()),
    }
}

fn all_integers(points: &[(i64, FieldValue)]) -> bool {
    points
        .iter()
        .all(|(_, v)| matches!(v, FieldValue::Integer(_)))
}

/// The value of `name` over `points` (sorted by time) and, for selectors,
/// the time of the point it selected. Errors name what cannot be done.
pub fn aggregate(
    name: &str,
    arg: Option<f64>,
    points: &[(i64, FieldValue)],
) -> Result<(Cell, Option<i64>), String> {
    if name == "count" {
        return Ok((Cell::Integer(points.len() as i64), None));
    }
    if points.is_empty() {
        return Ok((Cell::Null, None));
    }
    let numeric = || -> Result<Vec<f64>, String> {
        points
            .iter()
            .map(|(_, v)| num(v))
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| format!("unsupported {name} type: the field is not numeric"))
    };
    let pick = |i: usize| -> (Cell, Option<i64>) {
        points
            .get(i)
            .map_or((Cell::Null, None), |(t, v)| (cell(v), Some(*t)))
    };
    Ok(match name {
        "first" => pick(0),
        "last" => pick(points.len() - 1),
        "sum" => {
            if all_integers(points) {
                let s = points.iter().fold(0i64, |acc, (_, v)| match v {
                    FieldValue::Integer(i) => acc.wrapping_add(*i),
                    _ => acc,
                });
                (Cell::Integer(s), None)
            } else {
                (Cell::Float(numeric()?.iter().sum()), None)
            }
        }
        "mean" => {
            let v = numeric()?;
            (Cell::Float(v.iter().sum::<f64>() / v.len() as f64), None)
        }
        "median" => {
            let mut v = numeric()?;
            v.sort_by(f64::total_cmp);
            let n = v.len();
            let m = if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            };
            (Cell::Float(m), None)
        }
        "min" | "max" => {
            let v = numeric()?;
            let mut best = 0;
            for (i, x) in v.iter().enumerate() {
                let better = if name == "min" {
                    *x < v[best]
                } else {
                    *x > v[best]
                };
                if better {
                    best = i;
                }
            }
            pick(best)
        }
        "spread" => {
            if all_integers(points) {
                let ints: Vec<i64> = points
                    .iter()
                    .filter_map(|(_, v)| match v {
                        FieldValue::Integer(i) => Some(*i),
                        _ => None,
                    })
                    .collect();
                let (lo, hi) = (
                    ints.iter().min().copied().unwrap_or(0),
                    ints.iter().max().copied().unwrap_or(0),
                );
                (Cell::Integer(hi.wrapping_sub(lo)), None)
            } else {
                let v = numeric()?;
                let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                (Cell::Float(hi - lo), None)
            }
        }
        "stddev" => {
            let v = numeric()?;
            if v.len() < 2 {
                (Cell::Null, None)
            } else {
                let mean = v.iter().sum::<f64>() / v.len() as f64;
                let var =
                    v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (v.len() - 1) as f64;
                (Cell::Float(var.sqrt()), None)
            }
        }
        "percentile" => {
            let p = arg.ok_or("percentile needs a percentile argument")?;
            if !(0.0..=100.0).contains(&p) {
                return Err(format!("invalid percentile: {p}"));
            }
            let mut idx: Vec<usize> = (0..points.len()).collect();
            let v = numeric()?;
            idx.sort_by(|a, b| v[*a].total_cmp(&v[*b]).then(a.cmp(b)));
            let i = ((points.len() as f64) * p / 100.0 + 0.5).floor() as i64 - 1;
            if i < 0 || i as usize >= idx.len() {
                (Cell::Null, None)
            } else {
                pick(idx[i as usize])
            }
        }
        other => return Err(format!("function {other}() is not supported yet by cfyd")),
    })
}

fn cell_num(c: &Cell) -> Option<f64> {
    match c {
        Cell::Float(f) => Some(*f),
        Cell::Integer(i) => Some(*i as f64),
        Cell::Unsigned(u) => Some(*u as f64),
        _ => None,
    }
}

/// `derivative` / `non_negative_derivative` over `(time, value)` in time
/// order: the rate per `unit` between consecutive non-null values, at the
/// later time; the first value yields none.
pub fn derivative(values: &[(i64, Cell)], unit: i64, non_negative: bool) -> Vec<(i64, Cell)> {
    let mut out = Vec::new();
    let mut prev: Option<(i64, f64)> = None;
    for (t, c) in values {
        let Some(v) = cell_num(c) else {
            continue;
        };
        if let Some((pt, pv)) = prev {
            let dt = (*t - pt) as f64;
            if dt > 0.0 {
                let rate = (v - pv) / (dt / unit as f64);
                if !(non_negative && rate < 0.0) {
                    out.push((*t, Cell::Float(rate)));
                }
            }
        }
        prev = Some((*t, v));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pts(v: &[f64]) -> Vec<(i64, FieldValue)> {
        v.iter()
            .enumerate()
            .map(|(i, x)| (i as i64 * 10, FieldValue::Float(*x)))
            .collect()
    }

    #[test]
    fn aggregates_and_selectors() {
        let p = pts(&[3.0, 1.0, 4.0, 1.0, 5.0]);
        let f = |n: &str| aggregate(n, None, &p).unwrap().0;
        assert_eq!(f("count"), Cell::Integer(5));
        assert_eq!(f("sum"), Cell::Float(14.0));
        assert_eq!(f("mean"), Cell::Float(2.8));
        assert_eq!(f("median"), Cell::Float(3.0));
        assert_eq!(
            aggregate("max", None, &p).unwrap(),
            (Cell::Float(5.0), Some(40))
        );
        assert_eq!(
            aggregate("min", None, &p).unwrap(),
            (Cell::Float(1.0), Some(10))
        );
        assert_eq!(f("spread"), Cell::Float(4.0));
        assert_eq!(
            aggregate("percentile", Some(50.0), &p).unwrap().0,
            Cell::Float(3.0)
        );
        assert_eq!(aggregate("count", None, &[]).unwrap().0, Cell::Integer(0));
        assert_eq!(aggregate("mean", None, &[]).unwrap().0, Cell::Null);
        let ints = vec![(0, FieldValue::Integer(2)), (1, FieldValue::Integer(5))];
        assert_eq!(aggregate("sum", None, &ints).unwrap().0, Cell::Integer(7));
        let s = vec![(0, FieldValue::String("x".into()))];
        assert!(aggregate("mean", None, &s).is_err());
        assert!(aggregate("nope", None, &p).is_err());
    }

    #[test]
    fn derivatives() {
        let v = vec![
            (0, Cell::Float(10.0)),
            (10_000_000_000, Cell::Float(30.0)),
            (20_000_000_000, Cell::Null),
            (30_000_000_000, Cell::Float(20.0)),
        ];
        let d = derivative(&v, 1_000_000_000, false);
        assert_eq!(
            d,
            vec![
                (10_000_000_000, Cell::Float(2.0)),
                (30_000_000_000, Cell::Float(-0.5))
            ]
        );
        assert_eq!(derivative(&v, 1_000_000_000, true).len(), 1);
    }
}
