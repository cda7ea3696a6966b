//! Aggregations computed over JSON documents, for fields the index does not
//! hold as fast columns (tantivy's aggregation collector answers the
//! rest): `terms`, `date_histogram`, `histogram`, `avg`, `min`, `max`,
//! `sum`, `value_count`, `cardinality`, with sub-aggregations. Output in
//! Elasticsearch's shapes.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};

use crate::eval::{Doc, keyword, values_at};
use crate::query::{FieldKind, KEYWORDS, TIME_FIELD, field_kind};
use crate::{Error, Result, format_millis, parse_millis};

/// Whether tantivy can answer the request: every `field` is a fast column.
pub fn all_fast(req: &Value) -> bool {
    match req {
        Value::Object(m) => m.iter().all(|(k, v)| match (k.as_str(), v) {
            ("field", Value::String(f)) => f == TIME_FIELD || KEYWORDS.contains(&f.as_str()),
            _ => all_fast(v),
        }),
        Value::Array(a) => a.iter().all(all_fast),
        _ => true,
    }
}

fn err(msg: String) -> Error {
    Error::Query(format!("aggregations: {msg}"))
}

fn interval_ms(s: &str) -> Option<f64> {
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: f64 = digits.parse().ok()?;
    let unit = match &s[digits.len()..] {
        "ms" => 1.0,
        "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    Some(n * unit)
}

fn numbers(d: &Doc, field: &str) -> Vec<f64> {
    if field_kind(field) == FieldKind::Time {
        return values_at(&d.source, field)
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => parse_millis(s).map(|t| t as f64),
                Value::Number(n) => n.as_f64(),
                _ => None,
            })
            .collect();
    }
    values_at(&d.source, field)
        .into_iter()
        .filter_map(|v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        })
        .collect()
}

fn field<'a>(kind: &str, body: &'a Value) -> Result<&'a str> {
    body.get("field")
        .and_then(Value::as_str)
        .ok_or_else(|| err(format!("[{kind}] needs [field]")))
}

/// Computes the aggregations `req` (name → spec) over `docs`.
pub fn compute(req: &Value, docs: &[&Doc]) -> Result<Value> {
    let Value::Object(specs) = req else {
        return Err(err("the request must be an object".into()));
    };
    let mut out = Map::new();
    for (name, spec) in specs {
        let Value::Object(parts) = spec else {
            return Err(err(format!("[{name}] must be an object")));
        };
        let sub = parts.get("aggs").or_else(|| parts.get("aggregations"));
        let Some((kind, body)) = parts
            .iter()
            .find(|(k, _)| !matches!(k.as_str(), "aggs" | "aggregations" | "meta"))
        else {
            return Err(err(format!("[{name}] names no aggregation")));
        };
        out.insert(name.clone(), one(kind, body, sub, docs)?);
    }
    Ok(Value::Object(out))
}

fn bucket(
    key: Value,
    extra: Option<Value>,
    members: &[&Doc],
    sub: Option<&Value>,
) -> Result<Value> {
    let mut b = Map::new();
    if let Some(Value::Object(e)) = extra {
        b.extend(e);
    }
    b.insert("key".into(), key);
    b.insert("doc_count".into(), json!(members.len()));
    if let Some(s) = sub
        && let Value::Object(inner) = compute(s, members)?
    {
        b.extend(inner);
    }
    Ok(Value::Object(b))
}

fn one(kind: &str, body: &Value, sub: Option<&Value>, docs: &[&Doc]) -> Result<Value> {
    match kind {
        "terms" => {
            let f = field(kind, body)?;
            let size = body.get("size").and_then(Value::as_u64).unwrap_or(10) as usize;
            let min = body
                .get("min_doc_count")
                .and_then(Value::as_u64)
                .unwrap_or(1) as usize;
            let mut groups: HashMap<String, Vec<&Doc>> = HashMap::new();
            for d in docs {
                let keys: HashSet<String> = values_at(&d.source, f)
                    .into_iter()
                    .filter_map(keyword)
                    .collect();
                for k in keys {
                    groups.entry(k).or_default().push(d);
                }
            }
            let by_key = body
                .get("order")
                .and_then(|o| o.get("_key").or_else(|| o.get("_term")))
                .and_then(Value::as_str);
            let mut groups: Vec<(String, Vec<&Doc>)> =
                groups.into_iter().filter(|(_, m)| m.len() >= min).collect();
            match by_key {
                Some("desc") => groups.sort_by(|a, b| b.0.cmp(&a.0)),
                Some(_) => groups.sort_by(|a, b| a.0.cmp(&b.0)),
                None => {
                    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)))
                }
            }
            let other: usize = groups.iter().skip(size).map(|(_, m)| m.len()).sum();
            let buckets = groups
                .iter()
                .take(size)
                .map(|(k, m)| bucket(json!(k), None, m, sub))
                .collect::<Result<Vec<_>>>()?;
            Ok(
                json!({"doc_count_error_upper_bound": 0, "sum_other_doc_count": other, "buckets": buckets}),
            )
        }
        "date_histogram" | "histogram" => {
            let f = field(kind, body)?;
            let interval = match kind {
                "histogram" => body.get("interval").and_then(Value::as_f64),
                _ => body
                    .get("fixed_interval")
                    .and_then(Value::as_str)
                    .and_then(interval_ms),
            }
            .filter(|i| *i > 0.0)
            .ok_or_else(|| err(format!("[{kind}] needs a positive fixed interval")))?;
            let min = body
                .get("min_doc_count")
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize;
            let mut groups: BTreeMap<i64, Vec<&Doc>> = BTreeMap::new();
            for d in docs {
                let keys: HashSet<i64> = numbers(d, f)
                    .into_iter()
                    .map(|x| (x / interval).floor() as i64)
                    .collect();
                for k in keys {
                    groups.entry(k).or_default().push(d);
                }
            }
            let (Some(first), Some(last)) =
                (groups.keys().next().copied(), groups.keys().last().copied())
            else {
                return Ok(json!({"buckets": []}));
            };
            if last - first > 65_000 {
                return Err(err(format!("[{kind}] would make more than 65000 buckets")));
            }
            let mut buckets = Vec::new();
            for k in first..=last {
                let members = groups.get(&k).map(Vec::as_slice).unwrap_or(&[]);
                if members.len() < min {
                    continue;
                }
                let key = k as f64 * interval;
                let extra = (kind == "date_histogram")
                    .then(|| json!({"key_as_string": format_millis(key as i64)}));
                buckets.push(bucket(json!(key), extra, members, sub)?);
            }
            Ok(json!({"buckets": buckets}))
        }
        "avg" | "min" | "max" | "sum" | "value_count" => {
            let f = field(kind, body)?;
            let xs: Vec<f64> = docs.iter().flat_map(|d| numbers(d, f)).collect();
            let value = match kind {
                "value_count" => Some(xs.len() as f64),
                "sum" => Some(xs.iter().sum()),
                _ if xs.is_empty() => None,
                "avg" => Some(xs.iter().sum::<f64>() / xs.len() as f64),
                "min" => xs.iter().copied().reduce(f64::min),
                _ => xs.iter().copied().reduce(f64::max),
            };
            Ok(json!({"value": value}))
        }
        "cardinality" => {
            let f = field(kind, body)?;
            let distinct: HashSet<String> = docs
                .iter()
                .flat_map(|d| values_at(&d.source, f).into_iter().filter_map(keyword))
                .collect();
            Ok(json!({"value": distinct.len()}))
        }
        other => Err(err(format!(
            "[{other}] on fields the index does not hold is not supported yet (terms, date_histogram, histogram, avg, min, max, sum, value_count, cardinality are)"
        ))),
    }
}
