//! The Elasticsearch query DSL subset, parsed sans-IO into an
//! [`EventQuery`]: `match_all`, `term`, `terms`, `match`, `match_phrase`,
//! `bool` (`must`, `filter`, `must_not` on one term each, and `should` on
//! one field), `range` on
//! `@timestamp`, `query_string` on `message.text`, and ES 1.x's `filtered`
//! and `and` forms that Cloudify 3.x sends; `from`, `size`, `sort`.
//! Anything else is an ES `parsing_exception`, never a wrong answer.

use serde_json::Value;

use crate::{EventQuery, parse_millis};

/// Deepest query nesting accepted.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct EsError {
    /// ES's error type, e.g. `parsing_exception`.
    pub kind: &'static str,
    pub reason: String,
}

fn unsupported(what: impl Into<String>) -> EsError {
    EsError {
        kind: "parsing_exception",
        reason: what.into(),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A whole `_search` body.
pub fn parse_search(body: &Value) -> Result<EventQuery, EsError> {
    let mut q = EventQuery {
        size: 10,
        ..EventQuery::default()
    };
    if !(body.is_object() || body.is_null()) {
        return Err(unsupported("the search body must be a JSON object"));
    }
    if let Some(f) = body.get("from") {
        q.offset = f
            .as_u64()
            .ok_or_else(|| unsupported("[from] must be a non-negative integer"))?
            as usize;
    }
    if let Some(s) = body.get("size") {
        q.size = s
            .as_u64()
            .ok_or_else(|| unsupported("[size] must be a non-negative integer"))?
            as usize;
    }
    if let Some(sort) = body.get("sort") {
        q.descending = sort_descending(sort)?;
    }
    if let Some(query) = body.get("query") {
        clause(query, &mut q, 0)?;
    }
    Ok(q)
}

fn sort_descending(sort: &Value) -> Result<bool, EsError> {
    let items: Vec<&Value> = match sort {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut desc = false;
    for item in items {
        let (field, order) = match item {
            Value::String(f) => (f.as_str(), "asc"),
            Value::Object(m) => match m.iter().next() {
                Some((f, spec)) => (
                    f.as_str(),
                    spec.get("order")
                        .and_then(Value::as_str)
                        .or(spec.as_str())
                        .unwrap_or("asc"),
                ),
                None => continue,
            },
            _ => return Err(unsupported("[sort] entries must be field names or objects")),
        };
        if field != "@timestamp" && field != "_doc" && field != "timestamp" {
            return Err(unsupported(format!(
                "sorting on [{field}] is not supported yet (only @timestamp)"
            )));
        }
        desc = order == "desc";
    }
    Ok(desc)
}

/// Adds one query clause to `q` as a conjunction.
fn clause(v: &Value, q: &mut EventQuery, depth: usize) -> Result<(), EsError> {
    if depth > MAX_DEPTH {
        return Err(unsupported(format!(
            "query nesting deeper than {MAX_DEPTH}"
        )));
    }
    let Some((kind, body)) = v
        .as_object()
        .and_then(|m| if m.len() == 1 { m.iter().next() } else { None })
    else {
        return Err(unsupported(
            "a query clause must be an object with exactly one key",
        ));
    };
    match kind.as_str() {
        "match_all" => Ok(()),
        "term" | "match" | "match_phrase" => {
            let (field, value) = body
                .as_object()
                .and_then(|m| m.iter().next())
                .ok_or_else(|| unsupported(format!("[{kind}] needs a field")))?;
            let value = value
                .get("query")
                .or_else(|| value.get("value"))
                .unwrap_or(value);
            let value = scalar(value).ok_or_else(|| {
                unsupported(format!("[{kind}] on [{field}] needs a scalar value"))
            })?;
            add_term(q, field, vec![value], kind);
            Ok(())
        }
        "terms" => {
            let (field, values) = body
                .as_object()
                .and_then(|m| m.iter().next())
                .ok_or_else(|| unsupported("[terms] needs a field"))?;
            let values: Vec<String> = values
                .as_array()
                .ok_or_else(|| unsupported("[terms] needs a list"))?
                .iter()
                .filter_map(scalar)
                .collect();
            add_term(q, field, values, kind);
            Ok(())
        }
        "range" => {
            let (field, spec) = body
                .as_object()
                .and_then(|m| m.iter().next())
                .ok_or_else(|| unsupported("[range] needs a field"))?;
            if field != "@timestamp" {
                return Err(unsupported(format!(
                    "[range] on [{field}] is not supported yet (only @timestamp)"
                )));
            }
            let bound = |keys: &[&str]| -> Result<Option<i64>, EsError> {
                for k in keys {
                    if let Some(v) = spec.get(*k).filter(|v| !v.is_null()) {
                        let ms = match v {
                            Value::Number(n) => n.as_i64(),
                            Value::String(s) => parse_millis(s),
                            _ => None,
                        };
                        return ms.map(Some).ok_or_else(|| {
                            unsupported(format!("[range] bound [{k}] is not a date: {v}"))
                        });
                    }
                }
                Ok(None)
            };
            let (gte, gt) = (bound(&["gte", "from"])?, bound(&["gt"])?);
            let (lte, lt) = (bound(&["lte", "to"])?, bound(&["lt"])?);
            let from = gte.or(gt.map(|x| x + 1));
            let to = lte.or(lt.map(|x| x - 1));
            q.from_ms = max_opt(q.from_ms, from);
            q.to_ms = min_opt(q.to_ms, to);
            Ok(())
        }
        "query_string" => {
            let text = body
                .get("query")
                .and_then(Value::as_str)
                .ok_or_else(|| unsupported("[query_string] needs [query]"))?;
            for part in text.split(" AND ") {
                let words = part
                    .trim()
                    .trim_start_matches("message.text:")
                    .replace('*', " ");
                if !words.trim().is_empty() {
                    q.words.push(words);
                }
            }
            Ok(())
        }
        "bool" => {
            for key in ["must", "filter"] {
                for c in list(body.get(key)) {
                    clause(c, q, depth + 1)?;
                }
            }
            let shoulds = list(body.get("should"));
            if !shoulds.is_empty() {
                should(&shoulds, q)?;
            }
            for c in list(body.get("must_not")) {
                must_not(c, q)?;
            }
            Ok(())
        }
        // ES 1.x forms.
        "filtered" => {
            if let Some(inner) = body.get("query") {
                clause(inner, q, depth + 1)?;
            }
            if let Some(f) = body.get("filter") {
                clause(f, q, depth + 1)?;
            }
            Ok(())
        }
        "and" => {
            let items = body.get("filters").unwrap_or(body);
            for c in list(Some(items)) {
                clause(c, q, depth + 1)?;
            }
            Ok(())
        }
        "constant_score" => match body.get("filter") {
            Some(f) => clause(f, q, depth + 1),
            None => Ok(()),
        },
        other => Err(unsupported(format!(
            "unknown or unsupported query [{other}]"
        ))),
    }
}

/// `should` clauses: an OR of term-like clauses on one field.
fn should(clauses: &[&Value], q: &mut EventQuery) -> Result<(), EsError> {
    let mut field: Option<String> = None;
    let mut values = Vec::new();
    for c in clauses {
        let mut one = EventQuery::default();
        clause(c, &mut one, 1)?;
        let [(f, vs)] = one.terms.as_slice() else {
            return Err(unsupported(
                "[should] is supported on term clauses of one field only",
            ));
        };
        if field.as_ref().is_some_and(|x| x != f)
            || !one.words.is_empty()
            || !one.exclude.is_empty()
            || one.from_ms.is_some()
            || one.to_ms.is_some()
        {
            return Err(unsupported(
                "[should] is supported on term clauses of one field only",
            ));
        }
        field = Some(f.clone());
        values.extend(vs.iter().cloned());
    }
    if let Some(f) = field {
        add_term(q, &f, values, "should");
    }
    Ok(())
}

/// One `must_not` clause: a term-like clause on a keyword or document path.
fn must_not(c: &Value, q: &mut EventQuery) -> Result<(), EsError> {
    let mut one = EventQuery::default();
    clause(c, &mut one, 1)?;
    match (
        one.terms.as_slice(),
        one.exclude.is_empty(),
        one.words.is_empty(),
    ) {
        ([t], true, true) if one.from_ms.is_none() && one.to_ms.is_none() => {
            q.exclude.push(t.clone());
            Ok(())
        }
        _ => Err(unsupported(
            "[must_not] is supported on one term clause each only",
        )),
    }
}

fn add_term(q: &mut EventQuery, field: &str, values: Vec<String>, _kind: &str) {
    let field = field.strip_suffix(".keyword").unwrap_or(field);
    if field == "message.text" {
        q.words.extend(values);
        return;
    }
    q.terms.push((field.to_owned(), values));
}

fn list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cloudify_32_client_body() {
        let q = parse_search(&json!({"from": 5, "size": 50, "sort": [{"@timestamp": {"order": "asc", "ignore_unmapped": true}}],
            "query": {"bool": {"must": [{"match": {"context.execution_id": "e1"}}], "should": [{"match": {"type": "cloudify_event"}}, {"match": {"type": "cloudify_log"}}]}}})).unwrap();
        assert_eq!((q.offset, q.size, q.descending), (5, 50, false));
        assert_eq!(
            q.terms,
            vec![
                ("context.execution_id".to_string(), vec!["e1".to_string()]),
                (
                    "type".to_string(),
                    vec!["cloudify_event".to_string(), "cloudify_log".to_string()]
                )
            ]
        );
    }

    #[test]
    fn es1_filtered_range_and_query_string() {
        let q = parse_search(&json!({"query": {"filtered": {"query": {"query_string": {"query": "message.text:*fail* AND message.text:*vm*"}},
            "filter": {"and": [{"term": {"level": "error"}}, {"range": {"@timestamp": {"from": "2015-01-01", "to": "2015-01-02"}}}]}}}, "sort": "@timestamp"})).unwrap();
        assert_eq!(
            q.terms,
            vec![("level".to_string(), vec!["error".to_string()])]
        );
        assert_eq!(q.words.len(), 2);
        assert_eq!(
            (q.from_ms, q.to_ms),
            (parse_millis("2015-01-01"), parse_millis("2015-01-02"))
        );
    }

    #[test]
    fn must_not_excludes_terms() {
        let q = parse_search(
            &json!({"query": {"bool": {"filter": [{"term": {"type": "cloudify_log"}}],
            "must_not": [{"term": {"level": "debug"}}, {"terms": {"logger": ["a", "b"]}}]}}}),
        )
        .unwrap();
        assert_eq!(q.terms.len(), 1);
        assert_eq!(
            q.exclude,
            vec![
                ("level".to_string(), vec!["debug".to_string()]),
                ("logger".to_string(), vec!["a".to_string(), "b".to_string()]),
            ]
        );
    }

    #[test]
    fn unsupported_forms_are_errors() {
        for body in [
            json!({"query": {"fuzzy": {"a": "b"}}}),
            json!({"query": {"bool": {"must_not": [{"match_phrase": {"message.text": "x"}}]}}}),
            json!({"sort": [{"level": "asc"}]}),
            json!({"size": -1}),
            json!([1]),
        ] {
            assert_eq!(
                parse_search(&body).unwrap_err().kind,
                "parsing_exception",
                "{body}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_json(s in "[\\[\\]{}\",:a-z0-9 ]{0,200}") {
            if let Ok(v) = serde_json::from_str::<Value>(&s) {
                let _ = parse_search(&v);
                let _ = parse_search(&serde_json::json!({"query": v}));
            }
        }
    }
}

/// One `_bulk` action with its document.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkItem {
    /// `index` or `create`: the target index and the document.
    Index {
        action: &'static str,
        index: Option<String>,
        id: Option<String>,
        doc: Value,
    },
    /// An action this index does not support (delete, update): reported per item.
    Unsupported { action: String },
}

/// Most lines one `_bulk` request may hold.
pub const MAX_BULK_LINES: usize = 200_000;

/// Parses `_bulk` NDJSON: action lines, each followed by its document
/// (except `delete`).
pub fn parse_bulk(text: &str) -> Result<Vec<BulkItem>, EsError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut out = Vec::new();
    let mut n = 0;
    while let Some(line) = lines.next() {
        n += 1;
        if n > MAX_BULK_LINES {
            return Err(unsupported(format!(
                "more than {MAX_BULK_LINES} lines in one _bulk request"
            )));
        }
        let action: Value = serde_json::from_str(line).map_err(|e| EsError {
            kind: "illegal_argument_exception",
            reason: format!("malformed action line: {e}"),
        })?;
        let Some((name, meta)) = action
            .as_object()
            .and_then(|m| if m.len() == 1 { m.iter().next() } else { None })
        else {
            return Err(EsError {
                kind: "illegal_argument_exception",
                reason: "an action line must be an object with one key".into(),
            });
        };
        let kind: &'static str = match name.as_str() {
            "index" => "index",
            "create" => "create",
            "delete" => {
                out.push(BulkItem::Unsupported {
                    action: name.clone(),
                });
                continue;
            }
            "update" => {
                let _ = lines.next();
                out.push(BulkItem::Unsupported {
                    action: name.clone(),
                });
                continue;
            }
            other => {
                return Err(EsError {
                    kind: "illegal_argument_exception",
                    reason: format!("unknown bulk action [{other}]"),
                });
            }
        };
        let doc_line = lines.next().ok_or_else(|| EsError {
            kind: "illegal_argument_exception",
            reason: "an index action without its document".into(),
        })?;
        n += 1;
        let doc: Value = serde_json::from_str(doc_line).map_err(|e| EsError {
            kind: "mapper_parsing_exception",
            reason: format!("failed to parse the document: {e}"),
        })?;
        out.push(BulkItem::Index {
            action: kind,
            index: meta
                .get("_index")
                .and_then(Value::as_str)
                .map(str::to_owned),
            id: meta.get("_id").and_then(scalar),
            doc,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod bulk_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bulk_lines() {
        let text = "{\"index\":{\"_index\":\"cloudify_events\",\"_id\":\"1\"}}\n{\"a\":1}\n{\"delete\":{\"_id\":\"2\"}}\n{\"create\":{}}\n{\"b\":2}\n";
        let items = parse_bulk(text).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[0],
            BulkItem::Index {
                action: "index",
                index: Some("cloudify_events".into()),
                id: Some("1".into()),
                doc: json!({"a": 1})
            }
        );
        assert!(matches!(items[1], BulkItem::Unsupported { .. }));
        assert!(parse_bulk("{\"index\":{}}\n").is_err());
        assert!(parse_bulk("nope\n").is_err());
    }
}
