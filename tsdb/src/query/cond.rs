//! WHERE clauses: the time range they imply (for pruning), and their value
//! for a series (tags only, three-valued) or a row (time, tags, fields).

use regex::Regex;

use crate::influxql::{BinaryOp, Expr};
use crate::line::FieldValue;
use crate::shard::Series;

/// A value while evaluating an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Num(f64),
    Int(i64),
    Str(String),
    Bool(bool),
    /// An instant or a duration, in nanoseconds.
    Time(i64),
    Regex(String),
}

impl Val {
    fn num(&self) -> Option<f64> {
        match self {
            Val::Num(f) => Some(*f),
            Val::Int(i) | Val::Time(i) => Some(*i as f64),
            _ => None,
        }
    }
}

pub fn field_val(v: &FieldValue) -> Val {
    match v {
        FieldValue::Float(f) => Val::Num(*f),
        FieldValue::Integer(i) => Val::Int(*i),
        FieldValue::Unsigned(u) => Val::Num(*u as f64),
        FieldValue::Boolean(b) => Val::Bool(*b),
        FieldValue::String(s) => Val::Str(s.clone()),
    }
}

fn is_time(e: &Expr) -> bool {
    matches!(e, Expr::VarRef { name, .. } if name.eq_ignore_ascii_case("time"))
}

/// The instant an expression without variables denotes (`now() - 1h`,
/// `'2016-01-01T00:00:00Z'`, `1451606400000ms`, a bare integer in ns).
pub fn instant(e: &Expr, now: i64) -> Option<i64> {
    match e {
        Expr::Now => Some(now),
        Expr::Duration(d) | Expr::Integer(d) => Some(*d),
        Expr::Number(f) if f.is_finite() => Some(*f as i64),
        Expr::String(s) => crate::time::parse_rfc3339(s),
        Expr::Binary { op, lhs, rhs } => {
            let (a, b) = (instant(lhs, now)?, instant(rhs, now)?);
            match op {
                BinaryOp::Add => a.checked_add(b),
                BinaryOp::Sub => a.checked_sub(b),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The time range `[min, max]` a condition restricts rows to, and whether
/// it is exact (time appears only in a top-level AND chain).
pub fn time_range(cond: Option<&Expr>, now: i64) -> Result<(i64, i64, bool), String> {
    let mut range = (i64::MIN, i64::MAX, true);
    if let Some(c) = cond {
        narrow(c, now, &mut range)?;
    }
    Ok(range)
}

fn mentions_time(e: &Expr) -> bool {
    match e {
        Expr::Binary { lhs, rhs, .. } => mentions_time(lhs) || mentions_time(rhs),
        other => is_time(other),
    }
}

fn narrow(e: &Expr, now: i64, r: &mut (i64, i64, bool)) -> Result<(), String> {
    let Expr::Binary { op, lhs, rhs } = e else {
        return Ok(());
    };
    if *op == BinaryOp::And {
        narrow(lhs, now, r)?;
        return narrow(rhs, now, r);
    }
    if *op == BinaryOp::Or {
        if mentions_time(e) {
            r.2 = false;
        }
        return Ok(());
    }
    let (t_left, other, op) = if is_time(lhs) {
        (true, rhs, *op)
    } else if is_time(rhs) {
        (false, lhs, *op)
    } else {
        return Ok(());
    };
    let v = instant(other, now).ok_or_else(|| format!("invalid time comparison: time {op} ..."))?;
    // Normalise to `time <op> v`.
    let op = if t_left {
        op
    } else {
        match op {
            BinaryOp::Lt => BinaryOp::Gt,
            BinaryOp::Lte => BinaryOp::Gte,
            BinaryOp::Gt => BinaryOp::Lt,
            BinaryOp::Gte => BinaryOp::Lte,
            o => o,
        }
    };
    match op {
        BinaryOp::Gt => r.0 = r.0.max(v.saturating_add(1)),
        BinaryOp::Gte => r.0 = r.0.max(v),
        BinaryOp::Lt => r.1 = r.1.min(v.saturating_sub(1)),
        BinaryOp::Lte => r.1 = r.1.min(v),
        BinaryOp::Eq => {
            r.0 = r.0.max(v);
            r.1 = r.1.min(v);
        }
        _ => r.2 = false,
    }
    Ok(())
}

/// What a row looks like to the evaluator.
pub struct Row<'a> {
    pub time: i64,
    pub series: &'a Series,
    /// The row's field values, by name.
    pub fields: &'a dyn Fn(&str) -> Option<Val>,
}

/// `Some(true|false)` when decided, `None` when it depends on what is not
/// known (fields or time in a series-level check).
pub fn eval(e: &Expr, row: Option<&Row>, series: &Series, now: i64) -> Option<Val> {
    match e {
        Expr::Binary { op, lhs, rhs } => {
            if *op == BinaryOp::And || *op == BinaryOp::Or {
                let a = eval(lhs, row, series, now).and_then(|v| truth(&v));
                let b = eval(rhs, row, series, now).and_then(|v| truth(&v));
                return match (op, a, b) {
                    (BinaryOp::And, Some(false), _) | (BinaryOp::And, _, Some(false)) => {
                        Some(Val::Bool(false))
                    }
                    (BinaryOp::And, Some(true), Some(true)) => Some(Val::Bool(true)),
                    (BinaryOp::Or, Some(true), _) | (BinaryOp::Or, _, Some(true)) => {
                        Some(Val::Bool(true))
                    }
                    (BinaryOp::Or, Some(false), Some(false)) => Some(Val::Bool(false)),
                    _ => None,
                };
            }
            let a = eval(lhs, row, series, now)?;
            let b = eval(rhs, row, series, now)?;
            Some(binary(*op, &a, &b))
        }
        Expr::VarRef { name, kind } => {
            if name.eq_ignore_ascii_case("time") && kind.is_none() {
                return row.map(|r| Val::Time(r.time));
            }
            let tag = series.tag(name).map(|t| Val::Str(t.to_owned()));
            match (kind, row) {
                (Some(crate::influxql::VarKind::Tag), _) => Some(tag.unwrap_or(Val::Null)),
                (_, Some(r)) => Some((r.fields)(name).or(tag).unwrap_or(Val::Null)),
                (_, None) => tag,
            }
        }
        Expr::Number(f) => Some(Val::Num(*f)),
        Expr::Integer(i) => Some(Val::Int(*i)),
        // Compared with time, `binary` reads a string as an instant.
        Expr::String(s) => Some(Val::Str(s.clone())),
        Expr::Bool(b) => Some(Val::Bool(*b)),
        Expr::Duration(d) => Some(Val::Time(*d)),
        Expr::Now => Some(Val::Time(now)),
        Expr::Regex(r) => Some(Val::Regex(r.clone())),
        _ => None,
    }
}

pub fn truth(v: &Val) -> Option<bool> {
    match v {
        Val::Bool(b) => Some(*b),
        Val::Null => Some(false),
        _ => None,
    }
}

fn regex_match(re: &str, text: &str) -> bool {
    Regex::new(re).is_ok_and(|r| r.is_match(text))
}

fn binary(op: BinaryOp, a: &Val, b: &Val) -> Val {
    use BinaryOp::*;
    // Time against a string: the string is an RFC 3339 instant.
    let (a, b) = match (a, b) {
        (Val::Time(_), Val::Str(s)) => (
            a.clone(),
            crate::time::parse_rfc3339(s).map_or(Val::Null, Val::Time),
        ),
        (Val::Str(s), Val::Time(_)) => (
            crate::time::parse_rfc3339(s).map_or(Val::Null, Val::Time),
            b.clone(),
        ),
        _ => (a.clone(), b.clone()),
    };
    match op {
        EqRegex | NotEqRegex => {
            let m = match (&a, &b) {
                (Val::Str(s), Val::Regex(r)) => regex_match(r, s),
                (Val::Null, Val::Regex(r)) => regex_match(r, ""),
                _ => false,
            };
            Val::Bool(if op == EqRegex { m } else { !m })
        }
        Add | Sub | Mul | Div | Mod => match (&a, &b) {
            (Val::Time(x), Val::Time(y)) => match op {
                Add => Val::Time(x.saturating_add(*y)),
                Sub => Val::Time(x.saturating_sub(*y)),
                _ => Val::Null,
            },
            _ => match (a.num(), b.num()) {
                (Some(x), Some(y)) => Val::Num(match op {
                    Add => x + y,
                    Sub => x - y,
                    Mul => x * y,
                    Div => x / y,
                    _ => x % y,
                }),
                _ => Val::Null,
            },
        },
        Eq | NotEq | Lt | Lte | Gt | Gte => {
            let ord = match (&a, &b) {
                (Val::Null, _) | (_, Val::Null) => return Val::Bool(op == NotEq && a != b),
                (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
                (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
                _ => match (a.num(), b.num()) {
                    (Some(x), Some(y)) => x.partial_cmp(&y),
                    _ => None,
                },
            };
            let Some(o) = ord else {
                return Val::Bool(op == NotEq);
            };
            Val::Bool(match op {
                Eq => o.is_eq(),
                NotEq => !o.is_eq(),
                Lt => o.is_lt(),
                Lte => o.is_le(),
                Gt => o.is_gt(),
                _ => o.is_ge(),
            })
        }
        And | Or => Val::Null,
    }
}

/// Whether the condition mentions any name other than `time` that is not
/// a tag of `tags` (so needs per-row field values).
pub fn needs_fields(e: &Expr, is_tag: &dyn Fn(&str) -> bool) -> bool {
    match e {
        Expr::Binary { lhs, rhs, .. } => needs_fields(lhs, is_tag) || needs_fields(rhs, is_tag),
        Expr::VarRef { name, kind } => {
            !name.eq_ignore_ascii_case("time")
                && (matches!(kind, Some(crate::influxql::VarKind::Field)) || !is_tag(name))
        }
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::influxql::Statement;
    use crate::influxql::parse;

    fn cond(q: &str) -> Expr {
        match parse(q).unwrap().remove(0) {
            Statement::Select(s) => s.condition.unwrap(),
            _ => panic!("not a select"),
        }
    }

    #[test]
    fn time_ranges() {
        let now = 10_000_000_000_000;
        let c = cond(
            "SELECT v FROM m WHERE time >= '1970-01-01T00:00:01Z' AND time < now() - 1s AND host = 'a'",
        );
        assert_eq!(
            time_range(Some(&c), now).unwrap(),
            (1_000_000_000, now - 1_000_000_001, true)
        );
        let c = cond("SELECT v FROM m WHERE time > 1000ms OR host = 'a'");
        assert!(!time_range(Some(&c), now).unwrap().2);
        let c = cond("SELECT v FROM m WHERE 5s <= time");
        assert_eq!(time_range(Some(&c), now).unwrap().0, 5_000_000_000);
    }

    #[test]
    fn series_and_rows() {
        let s = Series {
            measurement: "m".into(),
            tags: vec![("host".into(), "web1".into())],
        };
        let c = cond("SELECT v FROM m WHERE host =~ /^web/ AND v > 2");
        assert_eq!(eval(&c, None, &s, 0), None, "depends on the field");
        let c2 = cond("SELECT v FROM m WHERE host = 'db' AND v > 2");
        assert_eq!(eval(&c2, None, &s, 0), Some(Val::Bool(false)));
        let fields = |n: &str| (n == "v").then_some(Val::Num(3.0));
        let row = Row {
            time: 0,
            series: &s,
            fields: &fields,
        };
        assert_eq!(eval(&c, Some(&row), &s, 0), Some(Val::Bool(true)));
        assert!(needs_fields(&c, &|n| n == "host"));
    }
}
