//! Single documents: `_doc/{id}` GET/PUT/POST/DELETE, `_create`,
//! `_update`, `_mget`, and the ≤ 6.x typed forms `/{index}/{type}/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use search::{EventIndex, SourceFilter};
use serde_json::{Map, Value, json};

use super::search::{Params, body_json};
use super::targets::{STORAGE_INDEX, concrete, writable};
use super::{EsErr, EsState, storage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Create or replace.
    Index,
    /// Create only; 409 when the id exists.
    Create,
}

/// What a write did.
pub struct Written {
    pub id: String,
    pub version: u64,
    pub result: &'static str,
    pub seq_no: u64,
}

impl Written {
    pub fn status(&self) -> StatusCode {
        if self.result == "created" {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        }
    }

    pub fn json(&self, index: &str, kind: &str) -> Value {
        json!({"_index": index, "_type": kind, "_id": self.id, "_version": self.version, "result": self.result,
               "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": self.seq_no, "_primary_term": 1})
    }
}

/// A document must be an object, and its `@timestamp` (if any) a date.
pub fn check_doc(doc: &Value) -> Result<(), EsErr> {
    if !doc.is_object() {
        return Err(EsErr::bad_request(
            "mapper_parsing_exception",
            "failed to parse, document is empty or not an object",
        ));
    }
    if EventIndex::time_of(doc, 0).is_none() {
        return Err(EsErr::bad_request(
            "mapper_parsing_exception",
            format!(
                "failed to parse field [@timestamp] of type [date]: [{}] is not a date",
                doc["@timestamp"]
            ),
        ));
    }
    Ok(())
}

fn conflict(id: &str) -> EsErr {
    EsErr::new(
        StatusCode::CONFLICT,
        "version_conflict_engine_exception",
        format!("[{id}]: version conflict, document already exists"),
    )
}

/// Writes one document (not yet committed).
pub fn write(idx: &EventIndex, id: Option<String>, doc: Value, op: Op) -> Result<Written, EsErr> {
    check_doc(&doc)?;
    if let (Op::Create, Some(i)) = (op, &id)
        && idx.get(i)?.is_some()
    {
        return Err(conflict(i));
    }
    let (id, version) = idx.put(id, doc)?;
    Ok(Written {
        id,
        version,
        result: if version == 1 { "created" } else { "updated" },
        seq_no: version - 1,
    })
}

fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(old) if old.is_object() && v.is_object() => merge(old, v),
                    _ => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// `_update`: merges `doc` into the stored document (or upserts).
pub fn apply_update(idx: &EventIndex, id: &str, body: &Value) -> Result<Written, EsErr> {
    if body.get("script").is_some() {
        return Err(EsErr::bad_request(
            "illegal_argument_exception",
            "scripted updates are not supported yet by cfyd; send a partial [doc]",
        ));
    }
    let patch = body.get("doc");
    let existing = idx.get(id)?;
    let doc = match (existing, patch) {
        (Some(hit), Some(p)) => {
            let mut d = hit.source;
            let before = d.clone();
            merge(&mut d, p);
            if d == before {
                return Ok(Written {
                    id: id.to_owned(),
                    version: hit.version,
                    result: "noop",
                    seq_no: hit.version - 1,
                });
            }
            d
        }
        (Some(_), None) => {
            return Err(EsErr::bad_request(
                "action_request_validation_exception",
                "Validation Failed: 1: script or doc is missing;",
            ));
        }
        (None, p) => {
            let upsert = if body.get("doc_as_upsert").and_then(Value::as_bool) == Some(true) {
                p.cloned()
            } else {
                body.get("upsert").cloned()
            };
            upsert.ok_or_else(|| {
                EsErr::new(
                    StatusCode::NOT_FOUND,
                    "document_missing_exception",
                    format!("[_doc][{id}]: document missing"),
                )
            })?
        }
    };
    write(idx, Some(id.to_owned()), doc, Op::Index)
}

fn source_param(p: &Params) -> Result<SourceFilter, EsErr> {
    let mut inc = Vec::new();
    let mut exc = Vec::new();
    for (k, v) in p {
        match k.as_str() {
            "_source" if v == "false" => return Ok(SourceFilter::None),
            "_source" if v == "true" => {}
            "_source" | "_source_includes" | "_source_include" => {
                inc.extend(v.split(',').map(str::to_owned))
            }
            "_source_excludes" | "_source_exclude" => exc.extend(v.split(',').map(str::to_owned)),
            _ => {}
        }
    }
    Ok(if inc.is_empty() && exc.is_empty() {
        SourceFilter::All
    } else {
        SourceFilter::Some {
            includes: inc,
            excludes: exc,
        }
    })
}

/// A document as `GET _doc/{id}` shows it; `None` when missing.
fn fetch(
    state: &EsState,
    index: &str,
    kind: &str,
    id: &str,
    filter: &SourceFilter,
) -> Result<Value, EsErr> {
    let name = concrete(index);
    let found = if name == STORAGE_INDEX && state.model.is_some() {
        let model = state.model.as_ref().ok_or_else(|| EsErr::no_index(index))?;
        let k = (kind != "_doc").then_some(kind);
        storage::documents(model, k)?
            .into_iter()
            .find(|(_, d)| d.id == id)
            .map(|(_, d)| (d.source, 1, d.seq))
    } else {
        let idx = state
            .indices
            .get(name)
            .ok_or_else(|| EsErr::no_index(index))?;
        idx.get(id)?.map(|h| (h.source, h.version, h.seq))
    };
    Ok(match found {
        Some((source, version, seq)) => {
            let mut m = Map::new();
            for (k, v) in [
                ("_index", json!(name)),
                ("_type", json!(kind)),
                ("_id", json!(id)),
                ("_version", json!(version)),
                ("_seq_no", json!(seq)),
                ("_primary_term", json!(1)),
                ("found", json!(true)),
            ] {
                m.insert(k.into(), v);
            }
            if let Some(src) = search::source::project(&source, filter) {
                m.insert("_source".into(), src);
            }
            Value::Object(m)
        }
        None => json!({"_index": name, "_type": kind, "_id": id, "found": false}),
    })
}

fn get_doc(
    state: &EsState,
    index: &str,
    kind: &str,
    id: &str,
    p: &Params,
) -> Result<Response, EsErr> {
    let doc = fetch(state, index, kind, id, &source_param(p)?)?;
    let status = if doc["found"] == true {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok((status, Json(doc)).into_response())
}

fn index_doc(
    state: &EsState,
    index: &str,
    kind: &str,
    id: Option<String>,
    p: &Params,
    body: &[u8],
    op: Op,
) -> Result<Response, EsErr> {
    let op = if p.iter().any(|(k, v)| k == "op_type" && v == "create") {
        Op::Create
    } else {
        op
    };
    let idx = writable(state, index)?;
    let w = write(&idx, id, body_json(body)?, op)?;
    idx.commit()?;
    Ok((w.status(), Json(w.json(concrete(index), kind))).into_response())
}

fn update_doc(
    state: &EsState,
    index: &str,
    kind: &str,
    id: &str,
    body: &[u8],
) -> Result<Response, EsErr> {
    let idx = writable(state, index)?;
    let w = apply_update(&idx, id, &body_json(body)?)?;
    idx.commit()?;
    Ok((w.status(), Json(w.json(concrete(index), kind))).into_response())
}

fn delete_doc(state: &EsState, index: &str, kind: &str, id: &str) -> Result<Response, EsErr> {
    let name = concrete(index);
    if name == STORAGE_INDEX {
        return Err(EsErr::read_only(name));
    }
    let idx: Arc<EventIndex> = state
        .indices
        .get(name)
        .ok_or_else(|| EsErr::no_index(index))?;
    let version = idx.get(id)?.map_or(0, |h| h.version);
    let existed = idx.delete_id(id)?;
    idx.commit()?;
    let (status, result) = if existed {
        (StatusCode::OK, "deleted")
    } else {
        (StatusCode::NOT_FOUND, "not_found")
    };
    Ok((status, Json(json!({"_index": name, "_type": kind, "_id": id, "_version": version + 1, "result": result,
        "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": version, "_primary_term": 1}))).into_response())
}

pub async fn get(
    State(st): State<EsState>,
    Path((index, id)): Path<(String, String)>,
    UrlQuery(p): UrlQuery<Params>,
) -> Result<Response, EsErr> {
    get_doc(&st, &index, "_doc", &id, &p)
}

pub async fn get_typed(
    State(st): State<EsState>,
    Path((index, kind, id)): Path<(String, String, String)>,
    UrlQuery(p): UrlQuery<Params>,
) -> Result<Response, EsErr> {
    get_doc(&st, &index, &kind, &id, &p)
}

pub async fn index(
    State(st): State<EsState>,
    Path((index, id)): Path<(String, String)>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    index_doc(&st, &index, "_doc", Some(id), &p, &body, Op::Index)
}

pub async fn index_typed(
    State(st): State<EsState>,
    Path((index, kind, id)): Path<(String, String, String)>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    index_doc(&st, &index, &kind, Some(id), &p, &body, Op::Index)
}

pub async fn create(
    State(st): State<EsState>,
    Path((index, id)): Path<(String, String)>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    index_doc(&st, &index, "_doc", Some(id), &p, &body, Op::Create)
}

pub async fn create_typed(
    State(st): State<EsState>,
    Path((index, kind, id)): Path<(String, String, String)>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    index_doc(&st, &index, &kind, Some(id), &p, &body, Op::Create)
}

pub async fn create_auto(
    State(st): State<EsState>,
    Path(index): Path<String>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    index_doc(&st, &index, "_doc", None, &p, &body, Op::Index)
}

pub async fn create_auto_typed(
    State(st): State<EsState>,
    Path((index, kind)): Path<(String, String)>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    if kind.starts_with('_') {
        return Err(EsErr::bad_request(
            "illegal_argument_exception",
            format!("this endpoint is not supported yet by cfyd: POST /{index}/{kind}"),
        ));
    }
    index_doc(&st, &index, &kind, None, &p, &body, Op::Index)
}

pub async fn update(
    State(st): State<EsState>,
    Path((index, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, EsErr> {
    update_doc(&st, &index, "_doc", &id, &body)
}

pub async fn update_typed(
    State(st): State<EsState>,
    Path((index, kind, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, EsErr> {
    update_doc(&st, &index, &kind, &id, &body)
}

pub async fn delete(
    State(st): State<EsState>,
    Path((index, id)): Path<(String, String)>,
) -> Result<Response, EsErr> {
    delete_doc(&st, &index, "_doc", &id)
}

pub async fn delete_typed(
    State(st): State<EsState>,
    Path((index, kind, id)): Path<(String, String, String)>,
) -> Result<Response, EsErr> {
    delete_doc(&st, &index, &kind, &id)
}

fn mget_run(
    state: &EsState,
    default_index: Option<&str>,
    body: &[u8],
    p: &Params,
) -> Result<Response, EsErr> {
    let req = body_json(body)?;
    let filter = source_param(p)?;
    let mut wanted: Vec<(String, String)> = Vec::new();
    if let Some(ids) = req.get("ids").and_then(Value::as_array) {
        let index = default_index.ok_or_else(|| {
            EsErr::bad_request(
                "action_request_validation_exception",
                "Validation Failed: 1: index is missing;",
            )
        })?;
        wanted.extend(
            ids.iter()
                .filter_map(Value::as_str)
                .map(|i| (index.to_owned(), i.to_owned())),
        );
    }
    for d in req
        .get("docs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let index = d.get("_index").and_then(Value::as_str).or(default_index);
        let id = d.get("_id").and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        });
        match (index, id) {
            (Some(i), Some(id)) => wanted.push((i.to_owned(), id)),
            _ => {
                return Err(EsErr::bad_request(
                    "action_request_validation_exception",
                    "Validation Failed: each doc needs [_index] and [_id];",
                ));
            }
        }
    }
    let docs: Vec<Value> = wanted
        .iter()
        .map(
            |(index, id)| match fetch(state, index, "_doc", id, &filter) {
                Ok(d) => d,
                Err(e) => json!({"_index": index, "_type": "_doc", "_id": id, "error": e.item()}),
            },
        )
        .collect();
    Ok(Json(json!({"docs": docs})).into_response())
}

pub async fn mget_all(
    State(st): State<EsState>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    mget_run(&st, None, &body, &p)
}

pub async fn mget(
    State(st): State<EsState>,
    Path(index): Path<String>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    mget_run(&st, Some(&index), &body, &p)
}
