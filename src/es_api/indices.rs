//! Cluster and index endpoints: `/`, `_cluster/health`, `_cat/indices`,
//! index create/get/delete, `_mapping`, `_refresh`/`_flush`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use search::query::{KEYWORDS, TEXT_FIELDS, TIME_FIELD};
use serde_json::{Map, Value, json};

use super::response::shards;
use super::search::{Params, body_json};
use super::targets::{EVENTS_INDEX, STORAGE_INDEX, Target, resolve};
use super::{EsErr, EsState, storage};

pub async fn info() -> Json<Value> {
    Json(json!({
        "name": "cfyd", "cluster_name": "cfyd", "cluster_uuid": "cfyd-events",
        "version": {"number": "7.10.2", "build_flavor": "default", "build_type": "cfyd", "build_hash": "cfyd", "build_date": "2021-01-13T00:42:12.435326Z",
                    "build_snapshot": false, "lucene_version": "8.7.0",
                    "minimum_wire_compatibility_version": "6.8.0", "minimum_index_compatibility_version": "6.0.0-beta1"},
        "tagline": "You Know, for Search",
    }))
}

pub async fn health(
    State(st): State<EsState>,
    index: Option<Path<String>>,
) -> Result<Json<Value>, EsErr> {
    let n = match index {
        Some(Path(expr)) => resolve(&st, &expr, false)?.len(),
        None => st.indices.names().len() + usize::from(st.model.is_some()),
    };
    Ok(Json(
        json!({"cluster_name": "cfyd", "status": "green", "timed_out": false, "number_of_nodes": 1, "number_of_data_nodes": 1,
        "active_primary_shards": n, "active_shards": n, "relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": 0,
        "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0, "active_shards_percent_as_number": 100.0}),
    ))
}

fn rows(st: &EsState, targets: &[Target]) -> Result<Vec<(String, u64, u64)>, EsErr> {
    targets
        .iter()
        .map(|t| {
            Ok(match t {
                Target::Index(name, idx) => {
                    (name.clone(), idx.len(), idx.disk_bytes().unwrap_or(0))
                }
                Target::Storage => {
                    let n = match &st.model {
                        Some(m) => storage::documents(m, None)?.len() as u64,
                        None => 0,
                    };
                    (STORAGE_INDEX.to_owned(), n, 0)
                }
            })
        })
        .collect()
}

fn cat_run(st: &EsState, expr: &str, p: &Params) -> Result<Response, EsErr> {
    let rows = rows(st, &resolve(st, expr, false)?)?;
    if p.iter().any(|(k, v)| k == "format" && v == "json") {
        let items: Vec<Value> = rows
            .iter()
            .map(|(name, docs, bytes)| json!({"health": "green", "status": "open", "index": name, "uuid": name, "pri": "1", "rep": "0",
                "docs.count": docs.to_string(), "docs.deleted": "0", "store.size": format!("{bytes}b"), "pri.store.size": format!("{bytes}b")}))
            .collect();
        return Ok(Json(items).into_response());
    }
    let mut out = String::new();
    if p.iter().any(|(k, _)| k == "v") {
        out.push_str(
            "health status index uuid pri rep docs.count docs.deleted store.size pri.store.size\n",
        );
    }
    for (name, docs, bytes) in rows {
        out.push_str(&format!(
            "green open {name} {name} 1 0 {docs} 0 {bytes}b {bytes}b\n"
        ));
    }
    Ok(out.into_response())
}

pub async fn cat(
    State(st): State<EsState>,
    UrlQuery(p): UrlQuery<Params>,
) -> Result<Response, EsErr> {
    cat_run(&st, "_all", &p)
}

pub async fn cat_some(
    State(st): State<EsState>,
    Path(expr): Path<String>,
    UrlQuery(p): UrlQuery<Params>,
) -> Result<Response, EsErr> {
    cat_run(&st, &expr, &p)
}

/// The event indices' fixed layout as ES mapping properties.
fn properties() -> Value {
    let mut root = Map::new();
    let mut put = |path: &str, kind: &str| {
        let mut node = &mut root;
        let parts: Vec<&str> = path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                node.insert((*part).to_owned(), json!({"type": kind}));
            } else {
                let entry = node
                    .entry((*part).to_owned())
                    .or_insert_with(|| json!({"properties": {}}));
                match entry.get_mut("properties").and_then(Value::as_object_mut) {
                    Some(next) => node = next,
                    None => return,
                }
            }
        }
    };
    put(TIME_FIELD, "date");
    for t in TEXT_FIELDS {
        put(t, "text");
    }
    for k in KEYWORDS.iter().filter(|k| **k != "_id") {
        put(k, "keyword");
    }
    Value::Object(root)
}

fn mapping_of(t: &Target) -> Value {
    match t {
        Target::Storage => json!({"mappings": {"dynamic": false, "properties": {}}}),
        Target::Index(..) => json!({"mappings": {"dynamic": true, "properties": properties()}}),
    }
}

fn mapping_run(st: &EsState, expr: &str) -> Result<Response, EsErr> {
    let mut out = Map::new();
    for t in resolve(st, expr, false)? {
        out.insert(t.name().to_owned(), mapping_of(&t));
    }
    Ok(Json(Value::Object(out)).into_response())
}

pub async fn mapping_all(State(st): State<EsState>) -> Result<Response, EsErr> {
    mapping_run(&st, "_all")
}

pub async fn mapping(
    State(st): State<EsState>,
    Path(index): Path<String>,
) -> Result<Response, EsErr> {
    mapping_run(&st, &index)
}

pub async fn mapping_typed(
    State(st): State<EsState>,
    Path((index, _kind)): Path<(String, String)>,
) -> Result<Response, EsErr> {
    mapping_run(&st, &index)
}

/// Mappings are fixed (known paths indexed, every other path stored and
/// searched by the evaluator), so any mapping is already satisfied.
fn put_mapping_run(st: &EsState, index: &str, body: &[u8]) -> Result<Response, EsErr> {
    body_json(body)?;
    resolve(st, index, false)?;
    Ok(Json(json!({"acknowledged": true})).into_response())
}

pub async fn put_mapping(
    State(st): State<EsState>,
    Path(index): Path<String>,
    body: Bytes,
) -> Result<Response, EsErr> {
    put_mapping_run(&st, &index, &body)
}

pub async fn put_mapping_typed(
    State(st): State<EsState>,
    Path((index, _kind)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, EsErr> {
    put_mapping_run(&st, &index, &body)
}

pub async fn get_index(
    State(st): State<EsState>,
    Path(expr): Path<String>,
) -> Result<Response, EsErr> {
    if expr.starts_with('_') {
        return Err(EsErr::bad_request(
            "illegal_argument_exception",
            format!("this endpoint is not supported yet by cfyd: GET /{expr}"),
        ));
    }
    let targets = resolve(&st, &expr, false)?;
    let mut out = Map::new();
    for t in &targets {
        let aliases = if t.name() == EVENTS_INDEX {
            json!({"logstash-*": {}})
        } else {
            json!({})
        };
        let mut v = mapping_of(t);
        v["aliases"] = aliases;
        v["settings"] = json!({"index": {"number_of_shards": "1", "number_of_replicas": "0", "provided_name": t.name(), "uuid": t.name(), "version": {"created": "7100299"}}});
        out.insert(t.name().to_owned(), v);
    }
    Ok(Json(Value::Object(out)).into_response())
}

pub async fn create(
    State(st): State<EsState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, EsErr> {
    body_json(&body)?;
    if name == STORAGE_INDEX || name.starts_with("logstash-") || st.indices.get(&name).is_some() {
        return Err(EsErr::bad_request(
            "resource_already_exists_exception",
            format!("index [{name}] already exists"),
        ));
    }
    if !search::valid_index_name(&name) {
        return Err(EsErr::bad_request(
            "invalid_index_name_exception",
            format!(
                "Invalid index name [{name}], must be lowercase, must not start with '_', '-' or '+', and must not contain \\ / * ? \" < > | space , # :"
            ),
        ));
    }
    st.indices.ensure(&name)?;
    Ok(
        Json(json!({"acknowledged": true, "shards_acknowledged": true, "index": name}))
            .into_response(),
    )
}

pub async fn delete(
    State(st): State<EsState>,
    Path(expr): Path<String>,
) -> Result<Response, EsErr> {
    for t in resolve(&st, &expr, false)? {
        match t {
            Target::Storage => return Err(EsErr::read_only(STORAGE_INDEX)),
            Target::Index(name, _) if name == EVENTS_INDEX => {
                return Err(EsErr::bad_request(
                    "illegal_argument_exception",
                    "cloudify_events is the manager's event index and cannot be deleted; use _delete_by_query",
                ));
            }
            Target::Index(name, _) => {
                st.indices.delete(&name)?;
            }
        }
    }
    Ok((StatusCode::OK, Json(json!({"acknowledged": true}))).into_response())
}

fn refresh_run(st: &EsState, expr: &str) -> Result<Response, EsErr> {
    for t in resolve(st, expr, false)? {
        if let Target::Index(_, idx) = t {
            idx.commit()?;
        }
    }
    Ok(Json(json!({"_shards": shards()})).into_response())
}

pub async fn refresh_all(State(st): State<EsState>) -> Result<Response, EsErr> {
    refresh_run(&st, "_all")
}

pub async fn refresh(
    State(st): State<EsState>,
    Path(index): Path<String>,
) -> Result<Response, EsErr> {
    refresh_run(&st, &index)
}
