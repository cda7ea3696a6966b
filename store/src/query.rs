//! Queries over documents: equality filters, sorting, projection, pages.
//! Pure functions over `serde_json::Value`, independent of storage.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// Field equal to any of the values (OR); filters combine with AND.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub field: String,
    pub any_of: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub field: String,
    pub descending: bool,
}

/// What `list` returns and in which order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub filters: Vec<Filter>,
    /// Applied in order; ties keep id order.
    pub sort: Vec<Sort>,
    pub offset: usize,
    pub size: Option<usize>,
    /// Keep only these top-level (or dotted) fields.
    pub include: Option<Vec<String>>,
    /// Cursor: start after the item with this id (in the sorted order).
    pub after: Option<String>,
}

impl Query {
    pub fn filter(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.filters.push(Filter {
            field: field.to_owned(),
            any_of: vec![value.into()],
        });
        self
    }

    pub fn sort_by(mut self, field: &str, descending: bool) -> Self {
        self.sort.push(Sort {
            field: field.to_owned(),
            descending,
        });
        self
    }
}

/// Dotted path lookup: `a.b` is `doc["a"]["b"]`.
pub fn field<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |v, part| v.get(part))
}

pub fn matches(doc: &Value, filters: &[Filter]) -> bool {
    filters.iter().all(|f| {
        let v = field(doc, &f.field).unwrap_or(&Value::Null);
        f.any_of.iter().any(|want| loosely_equal(v, want))
    })
}

/// Filter values from query strings arrive as strings; `"2" == 2` and
/// `"true" == true` as Cloudify's REST filters allow.
fn loosely_equal(v: &Value, want: &Value) -> bool {
    if v == want {
        return true;
    }
    match (v, want) {
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            s.parse::<f64>().ok() == n.as_f64()
        }
        (Value::Bool(b), Value::String(s)) | (Value::String(s), Value::Bool(b)) => {
            s.eq_ignore_ascii_case(&b.to_string())
        }
        _ => false,
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// A total order over JSON values: null < bool < number < string < array < object.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(p, q)| compare(p, q))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        _ => rank(a)
            .cmp(&rank(b))
            .then_with(|| a.to_string().cmp(&b.to_string())),
    }
}

pub fn sort(items: &mut [(String, Value)], sorts: &[Sort]) {
    items.sort_by(|(ia, a), (ib, b)| {
        for s in sorts {
            let null = Value::Null;
            let o = compare(
                field(a, &s.field).unwrap_or(&null),
                field(b, &s.field).unwrap_or(&null),
            );
            let o = if s.descending { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        ia.cmp(ib)
    });
}

/// Keeps only the named fields (dotted paths keep the nested value).
pub fn project(doc: &Value, include: &[String]) -> Value {
    let mut out = Map::new();
    for path in include {
        if let Some(v) = field(doc, path) {
            insert_path(&mut out, path, v.clone());
        }
    }
    Value::Object(out)
}

fn insert_path(out: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => {
            out.insert(path.to_owned(), v);
        }
        Some((head, rest)) => {
            let entry = out
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                insert_path(m, rest, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_are_and_of_ors_with_string_coercion() {
        let doc = json!({"deployment_id": "d1", "n": 2, "ok": true, "ctx": {"k": "v"}});
        let f = |field: &str, vals: Vec<Value>| Filter {
            field: field.into(),
            any_of: vals,
        };
        assert!(matches(
            &doc,
            &[f("deployment_id", vec![json!("d0"), json!("d1")])]
        ));
        assert!(matches(
            &doc,
            &[f("n", vec![json!("2")]), f("ok", vec![json!("True")])]
        ));
        assert!(matches(&doc, &[f("ctx.k", vec![json!("v")])]));
        assert!(!matches(
            &doc,
            &[
                f("deployment_id", vec![json!("d1")]),
                f("n", vec![json!(3)])
            ]
        ));
        assert!(matches(&doc, &[f("missing", vec![Value::Null])]));
    }

    #[test]
    fn sorting_is_total_and_stable_by_id() {
        let mut items = vec![
            ("c".to_string(), json!({"t": 1})),
            ("a".to_string(), json!({"t": "x"})),
            ("b".to_string(), json!({"t": 1})),
            ("d".to_string(), json!({})),
        ];
        sort(
            &mut items,
            &[Sort {
                field: "t".into(),
                descending: false,
            }],
        );
        let ids: Vec<&str> = items.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(ids, vec!["d", "b", "c", "a"]);
    }

    #[test]
    fn projection_keeps_named_fields() {
        let doc = json!({"id": "x", "a": {"b": 1, "c": 2}, "z": 0});
        assert_eq!(
            project(&doc, &["id".into(), "a.b".into()]),
            json!({"id": "x", "a": {"b": 1}})
        );
    }
}
