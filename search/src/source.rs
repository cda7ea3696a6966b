//! `_source` filtering: include and exclude glob patterns on dotted paths.

use serde_json::{Map, Value};

use crate::eval::glob;
use crate::query::SourceFilter;

/// The `_source` a hit carries, `None` for `_source: false`.
pub fn project(doc: &Value, filter: &SourceFilter) -> Option<Value> {
    match filter {
        SourceFilter::All => Some(doc.clone()),
        SourceFilter::None => None,
        SourceFilter::Some { includes, excludes } => Some(match doc {
            Value::Object(m) => Value::Object(object(m, "", includes, excludes)),
            other => other.clone(),
        }),
    }
}

fn object(
    m: &Map<String, Value>,
    prefix: &str,
    inc: &[String],
    exc: &[String],
) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in m {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if exc.iter().any(|p| glob(p, &path)) {
            continue;
        }
        let included = inc.is_empty() || inc.iter().any(|p| glob(p, &path));
        if included && exc.is_empty() {
            out.insert(k.clone(), v.clone());
            continue;
        }
        let deeper = inc.is_empty()
            || included
            || inc
                .iter()
                .any(|p| p.starts_with(&format!("{path}.")) || p.contains('*'));
        match v {
            Value::Object(child) if deeper => {
                let inner = if included {
                    object(child, &path, &[], exc)
                } else {
                    object(child, &path, inc, exc)
                };
                if included || !inner.is_empty() {
                    out.insert(k.clone(), Value::Object(inner));
                }
            }
            _ if included => {
                out.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn includes_and_excludes() {
        let doc = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": {"f": 4}});
        let f = |inc: &[&str], exc: &[&str]| {
            project(
                &doc,
                &SourceFilter::Some {
                    includes: inc.iter().map(|s| s.to_string()).collect(),
                    excludes: exc.iter().map(|s| s.to_string()).collect(),
                },
            )
        };
        assert_eq!(f(&["a", "b.c"], &[]), Some(json!({"a": 1, "b": {"c": 2}})));
        assert_eq!(f(&["b"], &["b.d"]), Some(json!({"b": {"c": 2}})));
        assert_eq!(f(&[], &["e", "a"]), Some(json!({"b": {"c": 2, "d": 3}})));
        assert_eq!(f(&["*.f"], &[]), Some(json!({"e": {"f": 4}})));
        assert_eq!(project(&doc, &SourceFilter::None), None);
    }
}
