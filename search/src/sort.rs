//! Sort keys: a document's values for the requested sort fields, ordered
//! so that the greater key comes first in the hits (tantivy keeps the top
//! keys), with missing values last in either direction as in ES and the
//! ingestion sequence breaking ties.

use std::cmp::Ordering;

use serde_json::Value;

use crate::parse_millis;
use crate::query::{FieldKind, Sort, field_kind};

#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    Missing,
    Num(f64),
    Str(String),
}

impl SortValue {
    fn cmp_present(&self, other: &SortValue) -> Ordering {
        match (self, other) {
            (SortValue::Num(a), SortValue::Num(b)) => a.total_cmp(b),
            (SortValue::Str(a), SortValue::Str(b)) => a.cmp(b),
            (SortValue::Num(_), _) => Ordering::Less,
            (_, SortValue::Num(_)) => Ordering::Greater,
            _ => Ordering::Equal,
        }
    }

    /// The value as ES reports it in a hit's `sort` array.
    pub fn to_json(&self) -> Value {
        match self {
            SortValue::Missing => Value::Null,
            SortValue::Num(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::from(*n as i64),
            SortValue::Num(n) => Value::from(*n),
            SortValue::Str(s) => Value::String(s.clone()),
        }
    }

    /// A `search_after` value for a sort field.
    pub fn from_json(field: &str, v: &Value) -> SortValue {
        match v {
            Value::Null => SortValue::Missing,
            Value::Number(n) => n.as_f64().map_or(SortValue::Missing, SortValue::Num),
            Value::String(s) if field_kind(field) == FieldKind::Time => parse_millis(s)
                .map_or_else(|| SortValue::Str(s.clone()), |ms| SortValue::Num(ms as f64)),
            Value::String(s) if field == "_score" || field == "_doc" => s
                .parse()
                .map_or_else(|_| SortValue::Str(s.clone()), SortValue::Num),
            Value::String(s) => SortValue::Str(s.clone()),
            Value::Bool(b) => SortValue::Str(b.to_string()),
            other => SortValue::Str(other.to_string()),
        }
    }
}

/// Compares one component: `Greater` when `a` comes first.
fn component(a: &SortValue, b: &SortValue, descending: bool) -> Ordering {
    match (a, b) {
        (SortValue::Missing, SortValue::Missing) => Ordering::Equal,
        (SortValue::Missing, _) => Ordering::Less,
        (_, SortValue::Missing) => Ordering::Greater,
        _ if descending => a.cmp_present(b),
        _ => a.cmp_present(b).reverse(),
    }
}

/// Whether `a` sorts no later than `b` in the given direction.
pub fn first_of(a: &SortValue, b: &SortValue, descending: bool) -> bool {
    component(a, b, descending) != Ordering::Less
}

/// A document's rank: the greater rank comes first.
#[derive(Debug, Clone, PartialEq)]
pub struct Rank {
    pub keys: Vec<SortValue>,
    pub descending: Vec<bool>,
    pub seq: u64,
}

impl Rank {
    fn cmp_keys(&self, keys: &[SortValue]) -> Ordering {
        for ((a, b), desc) in self.keys.iter().zip(keys).zip(&self.descending) {
            let c = component(a, b, *desc);
            if c != Ordering::Equal {
                return c;
            }
        }
        Ordering::Equal
    }

    /// Whether this document comes strictly after the `search_after` cursor.
    pub fn is_after(&self, cursor: &[SortValue]) -> bool {
        self.cmp_keys(cursor) == Ordering::Less
    }
}

impl PartialOrd for Rank {
    fn partial_cmp(&self, other: &Rank) -> Option<Ordering> {
        Some(
            self.cmp_keys(&other.keys)
                .then_with(|| other.seq.cmp(&self.seq)),
        )
    }
}

/// The sort actually applied: ES's default is `_score` descending.
pub fn effective(sort: &[Sort]) -> Vec<Sort> {
    if sort.is_empty() {
        vec![Sort {
            field: "_score".into(),
            descending: true,
        }]
    } else {
        sort.to_vec()
    }
}

/// The cursor of a `search_after` request, typed by the sort fields.
pub fn cursor(sort: &[Sort], after: &[Value]) -> Vec<SortValue> {
    sort.iter()
        .zip(after)
        .map(|(s, v)| SortValue::from_json(&s.field, v))
        .collect()
}
