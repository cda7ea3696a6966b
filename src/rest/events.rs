//! `/events`: v2 query parameters answered from the event index; the v1 /
//! 3.2 form (an Elasticsearch query body on a GET) with a raw ES response.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use search::{EventQuery, parse_millis};
use serde_json::{Value, json};

use super::RestState;
use super::error::RestError;
use super::list::{ApiVersion, DEFAULT_SIZE};

/// Filter keys 3.3 rewrote to `context.<key>`.
const CONTEXT_KEYS: &[&str] = &[
    "blueprint_id",
    "deployment_id",
    "execution_id",
    "node_id",
    "node_instance_id",
    "workflow_id",
];

fn index(s: &RestState) -> Result<&search::EventIndex, RestError> {
    s.events
        .as_deref()
        .ok_or_else(|| RestError::internal("the event index is not open"))
}

fn bad(message: String) -> RestError {
    RestError::bad_parameters(message)
}

/// v2: `GET /events?execution_id=…&type=…&message.text=…&_range=@timestamp,a,b&_sort=@timestamp&_offset&_size&_include`.
pub async fn list(
    State(s): State<RestState>,
    Extension(v): Extension<ApiVersion>,
    Query(q): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Result<Response, RestError> {
    if v == ApiVersion::V1 || (!body.is_empty() && q.is_empty()) {
        return raw_es(&s, &body);
    }
    let mut query = EventQuery {
        size: DEFAULT_SIZE,
        ..EventQuery::default()
    };
    let mut include: Option<Vec<String>> = None;
    for (k, val) in &q {
        match k.as_str() {
            "_offset" => {
                query.offset = val
                    .parse()
                    .map_err(|_| bad(format!("_offset must be an integer, got {val}")))?
            }
            "_size" => {
                query.size = val
                    .parse()
                    .map_err(|_| bad(format!("_size must be an integer, got {val}")))?
            }
            "_sort" => query.descending = val.starts_with('-'),
            "_include" => include = Some(val.split(',').map(str::to_owned).collect()),
            "_range" => {
                let parts: Vec<&str> = val.split(',').collect();
                let [field, from, to] = parts.as_slice() else {
                    return Err(bad(format!(
                        "_range must be <field>,<from>,<to>, got {val}"
                    )));
                };
                if *field != "@timestamp" {
                    return Err(bad(format!(
                        "_range is supported on @timestamp only, got {field}"
                    )));
                }
                let when = |t: &str| -> Result<Option<i64>, RestError> {
                    if t.is_empty() {
                        Ok(None)
                    } else {
                        parse_millis(t)
                            .map(Some)
                            .ok_or_else(|| bad(format!("not a timestamp: {t}")))
                    }
                };
                query.from_ms = when(from)?;
                query.to_ms = when(to)?;
            }
            "message.text" => query.words.push(val.replace('*', " ")),
            k if k.starts_with('_') => {}
            k => {
                let field = if CONTEXT_KEYS.contains(&k) {
                    format!("context.{k}")
                } else {
                    k.to_owned()
                };
                match query.terms.iter_mut().find(|(f, _)| *f == field) {
                    Some((_, any)) => any.push(val.clone()),
                    None => query.terms.push((field, vec![val.clone()])),
                }
            }
        }
    }
    let size = query.size;
    let offset = query.offset;
    let (total, docs) = index(&s)?
        .search(&query)
        .map_err(|e| RestError::internal(e.to_string()))?;
    let items: Vec<Value> = docs.into_iter().map(|d| project(d, &include)).collect();
    Ok(Json(json!({"items": items, "metadata": {"pagination": {"total": total, "size": size, "offset": offset}}})).into_response())
}

fn project(doc: Value, include: &Option<Vec<String>>) -> Value {
    match (include, doc) {
        (Some(fields), Value::Object(m)) => {
            Value::Object(m.into_iter().filter(|(k, _)| fields.contains(k)).collect())
        }
        (_, d) => d,
    }
}

pub async fn post_v2(
    Extension(v): Extension<ApiVersion>,
    State(s): State<RestState>,
    body: Bytes,
) -> Result<Response, RestError> {
    if v == ApiVersion::V2 {
        return Err(RestError::method_not_allowed(
            "POST is not allowed on /api/v2/events; use GET with query parameters",
        ));
    }
    raw_es(&s, &body)
}

/// The 3.2 client's Elasticsearch body: `from`, `size`, `sort` on
/// `@timestamp`, and `match` clauses under `bool.must` / `bool.should`.
fn raw_es(s: &RestState, body: &[u8]) -> Result<Response, RestError> {
    let req: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| bad(format!("the request body is not JSON: {e}")))?
    };
    let mut query = EventQuery {
        offset: req.get("from").and_then(Value::as_u64).unwrap_or(0) as usize,
        size: req.get("size").and_then(Value::as_u64).unwrap_or(10) as usize,
        ..EventQuery::default()
    };
    query.descending = req["sort"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| s["@timestamp"]["order"] == "desc");
    let b = &req["query"]["bool"];
    for (clauses, must) in [(&b["must"], true), (&b["should"], false)] {
        for c in clauses.as_array().into_iter().flatten() {
            for (field, value) in c["match"].as_object().into_iter().flatten() {
                let value = value.get("query").unwrap_or(value);
                let Some(v) = value
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| value.as_number().map(|n| n.to_string()))
                else {
                    continue;
                };
                match query.terms.iter_mut().find(|(f, _)| f == field) {
                    Some((_, any)) if !must => any.push(v),
                    _ => query.terms.push((field.clone(), vec![v])),
                }
            }
        }
    }
    let (total, docs) = index(s)?
        .search(&query)
        .map_err(|e| RestError::internal(e.to_string()))?;
    let hits: Vec<Value> = docs
        .into_iter()
        .map(|d| json!({"_index": "cloudify_events", "_type": d["type"], "_id": d["_id"], "_score": null, "_source": d}))
        .collect();
    Ok((StatusCode::OK, Json(json!({"took": 0, "timed_out": false, "_shards": {"total": 1, "successful": 1, "failed": 0}, "hits": {"total": total, "max_score": null, "hits": hits}}))).into_response())
}
