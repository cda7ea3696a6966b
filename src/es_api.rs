//! An Elasticsearch-7-compatible HTTP API (9200) over the event index:
//! `/`, `_cluster/health`, `_cat/indices`, `_search`, `_count`, `_bulk`.
//! `cloudify_events` is the event index; 3.3's `logstash-*` daily names,
//! `_all` and comma lists resolve to it. Errors are ES's error JSON.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use search::EventIndex;
use search::es::{self, BulkItem, EsError};
use serde_json::{Value, json};

pub const EVENTS_INDEX: &str = "cloudify_events";

fn es_error(status: StatusCode, kind: &str, reason: &str) -> Response {
    (status, Json(json!({"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason}, "status": status.as_u16()}))).into_response()
}

fn from_es(e: EsError) -> Response {
    es_error(StatusCode::BAD_REQUEST, e.kind, &e.reason)
}

/// Whether an index expression names the event index.
pub fn resolves(expr: &str) -> bool {
    expr.split(',').all(|i| {
        let i = i.trim();
        i == EVENTS_INDEX
            || i == "_all"
            || i == "*"
            || i.starts_with("logstash-")
            || i == "logstash-*"
            || i == "cloudify_events*"
    })
}

pub fn router(index: Arc<EventIndex>) -> Router {
    Router::new()
        .route("/", get(info))
        .route("/_cluster/health", get(health))
        .route("/_cat/indices", get(cat_indices))
        .route("/_search", get(search_all).post(search_all))
        .route("/_count", get(count_all).post(count_all))
        .route("/_bulk", post(bulk_default))
        .route("/{index}/_search", get(search).post(search))
        .route("/{index}/_count", get(count).post(count))
        .route("/{index}/_bulk", post(bulk))
        .fallback(|| async {
            es_error(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                "this endpoint is not supported yet by cfyd",
            )
        })
        .layer(axum::middleware::map_response(
            |mut r: Response| async move {
                r.headers_mut().insert(
                    "X-Elastic-Product",
                    HeaderValue::from_static("Elasticsearch"),
                );
                r
            },
        ))
        .with_state(index)
}

async fn info() -> Json<Value> {
    Json(json!({
        "name": "cfyd", "cluster_name": "cfyd", "cluster_uuid": "cfyd-events",
        "version": {"number": "7.10.2", "build_flavor": "default", "build_type": "cfyd", "lucene_version": "8.7.0",
                    "minimum_wire_compatibility_version": "6.8.0", "minimum_index_compatibility_version": "6.0.0-beta1"},
        "tagline": "You Know, for Search",
    }))
}

async fn health() -> Json<Value> {
    Json(
        json!({"cluster_name": "cfyd", "status": "green", "timed_out": false, "number_of_nodes": 1, "number_of_data_nodes": 1,
                "active_primary_shards": 1, "active_shards": 1, "relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": 0}),
    )
}

async fn cat_indices(
    State(idx): State<Arc<EventIndex>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let docs = idx.len();
    if q.iter().any(|(k, v)| k == "format" && v == "json") {
        return Json(json!([{"health": "green", "status": "open", "index": EVENTS_INDEX, "pri": "1", "rep": "0", "docs.count": docs.to_string()}])).into_response();
    }
    format!("green open {EVENTS_INDEX} cfyd-events 1 0 {docs} 0\n").into_response()
}

fn body_json(body: &Bytes) -> Result<Value, EsError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| EsError {
        kind: "parsing_exception",
        reason: format!("request body is not JSON: {e}"),
    })
}

fn run_search(idx: &EventIndex, body: &Bytes, count_only: bool) -> Response {
    let req = match body_json(body) {
        Ok(v) => v,
        Err(e) => return from_es(e),
    };
    let mut q = match es::parse_search(&req) {
        Ok(q) => q,
        Err(e) => return from_es(e),
    };
    if count_only {
        q.size = 0;
    }
    let started = std::time::Instant::now();
    match idx.search(&q) {
        Ok((total, _)) if count_only => Json(json!({"count": total, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}})).into_response(),
        Ok((total, docs)) => {
            let hits: Vec<Value> = docs
                .into_iter()
                .map(|d| json!({"_index": EVENTS_INDEX, "_type": "_doc", "_id": d["_id"], "_score": null, "_source": d}))
                .collect();
            Json(json!({
                "took": started.elapsed().as_millis() as u64, "timed_out": false,
                "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                "hits": {"total": total, "max_score": null, "hits": hits},
            }))
            .into_response()
        }
        Err(e) => es_error(StatusCode::INTERNAL_SERVER_ERROR, "search_phase_execution_exception", &e.to_string()),
    }
}

fn missing(index: &str) -> Response {
    es_error(
        StatusCode::NOT_FOUND,
        "index_not_found_exception",
        &format!("no such index [{index}]"),
    )
}

async fn search_all(State(idx): State<Arc<EventIndex>>, body: Bytes) -> Response {
    run_search(&idx, &body, false)
}

async fn search(
    State(idx): State<Arc<EventIndex>>,
    Path(index): Path<String>,
    body: Bytes,
) -> Response {
    if !resolves(&index) {
        return missing(&index);
    }
    run_search(&idx, &body, false)
}

async fn count_all(State(idx): State<Arc<EventIndex>>, body: Bytes) -> Response {
    run_search(&idx, &body, true)
}

async fn count(
    State(idx): State<Arc<EventIndex>>,
    Path(index): Path<String>,
    body: Bytes,
) -> Response {
    if !resolves(&index) {
        return missing(&index);
    }
    run_search(&idx, &body, true)
}

async fn bulk_default(State(idx): State<Arc<EventIndex>>, body: Bytes) -> Response {
    run_bulk(&idx, None, &body)
}

async fn bulk(
    State(idx): State<Arc<EventIndex>>,
    Path(index): Path<String>,
    body: Bytes,
) -> Response {
    run_bulk(&idx, Some(index), &body)
}

/// Indexes the bulk documents and commits before answering (refresh=true).
fn run_bulk(idx: &EventIndex, default_index: Option<String>, body: &Bytes) -> Response {
    let text = String::from_utf8_lossy(body);
    let items = match es::parse_bulk(&text) {
        Ok(i) => i,
        Err(e) => return from_es(e),
    };
    let mut results = Vec::with_capacity(items.len());
    let mut docs = Vec::new();
    let mut errors = false;
    for item in items {
        match item {
            BulkItem::Index {
                action,
                index,
                id,
                mut doc,
            } => {
                let target = index.or_else(|| default_index.clone()).unwrap_or_default();
                if !resolves(&target) {
                    errors = true;
                    results.push(json!({action: {"_index": target, "status": 404, "error": {"type": "index_not_found_exception", "reason": format!("no such index [{target}]")}}}));
                    continue;
                }
                if let (Some(id), Value::Object(m)) = (&id, &mut doc) {
                    m.insert("_id".into(), Value::String(id.clone()));
                }
                results.push(json!({action: {"_index": EVENTS_INDEX, "_id": id, "status": 201, "result": "created"}}));
                docs.push(doc);
            }
            BulkItem::Unsupported { action } => {
                errors = true;
                results.push(json!({action.clone(): {"status": 400, "error": {"type": "illegal_argument_exception", "reason": format!("bulk [{action}] is not supported yet by cfyd")}}}));
            }
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    if let Err(e) = idx.append(docs, now).and_then(|_| idx.commit()) {
        return es_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "index_failed_engine_exception",
            &e.to_string(),
        );
    }
    Json(json!({"took": 0, "errors": errors, "items": results})).into_response()
}
