//! `_bulk`: NDJSON actions with per-item results; one commit per touched
//! index before the answer.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use search::EventIndex;
use search::es::{Action, parse_bulk};
use serde_json::{Value, json};

use super::docs::{Op, apply_update, write};
use super::targets::{concrete, writable};
use super::{EsErr, EsState};

fn item(
    state: &EsState,
    it: search::es::BulkItem,
    default: Option<&str>,
    touched: &mut BTreeMap<String, (Arc<EventIndex>, HashSet<String>)>,
) -> Result<(String, Value), EsErr> {
    let index = it
        .index
        .as_deref()
        .or(default)
        .ok_or_else(|| {
            EsErr::bad_request(
                "action_request_validation_exception",
                "Validation Failed: 1: index is missing;",
            )
        })?
        .to_owned();
    let idx = writable(state, &index)?;
    let name = concrete(&index).to_owned();
    let entry = touched
        .entry(name.clone())
        .or_insert_with(|| (idx.clone(), HashSet::new()));
    // A second action on one id in one request sees the first.
    if let Some(id) = &it.id {
        if entry.1.contains(id) {
            idx.commit()?;
            entry.1.clear();
        }
        entry.1.insert(id.clone());
    }
    let doc = it.doc.unwrap_or(Value::Null);
    let w = match it.action {
        Action::Index => write(&idx, it.id, doc, Op::Index)?,
        Action::Create => write(&idx, it.id, doc, Op::Create)?,
        Action::Update => {
            let id = it.id.ok_or_else(|| {
                EsErr::bad_request(
                    "action_request_validation_exception",
                    "Validation Failed: 1: id is missing;",
                )
            })?;
            apply_update(&idx, &id, &doc)?
        }
        Action::Delete => {
            let id = it.id.ok_or_else(|| {
                EsErr::bad_request(
                    "action_request_validation_exception",
                    "Validation Failed: 1: id is missing;",
                )
            })?;
            let version = idx.get(&id)?.map_or(0, |h| h.version);
            let existed = idx.delete_id(&id)?;
            let (status, result) = if existed {
                (200, "deleted")
            } else {
                (404, "not_found")
            };
            return Ok((
                name.clone(),
                json!({"_index": name, "_type": "_doc", "_id": id, "_version": version + 1, "result": result, "status": status,
                "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": version, "_primary_term": 1}),
            ));
        }
    };
    let mut body = w.json(&name, "_doc");
    body["status"] = json!(w.status().as_u16());
    Ok((name, body))
}

fn run(state: &EsState, default: Option<&str>, body: &[u8]) -> Result<Response, EsErr> {
    let started = Instant::now();
    let text = std::str::from_utf8(body).map_err(|_| {
        EsErr::bad_request("illegal_argument_exception", "the _bulk body is not UTF-8")
    })?;
    let items = parse_bulk(text)?;
    let mut touched = BTreeMap::new();
    let mut results = Vec::with_capacity(items.len());
    let mut errors = false;
    for it in items {
        let action = it.action.name();
        let target = it
            .index
            .clone()
            .or(default.map(str::to_owned))
            .unwrap_or_default();
        let id = it.id.clone();
        match item(state, it, default, &mut touched) {
            Ok((_, r)) => results.push(json!({action: r})),
            Err(e) => {
                errors = true;
                results.push(json!({action: {"_index": concrete(&target), "_type": "_doc", "_id": id, "status": e.status.as_u16(), "error": e.item()}}));
            }
        }
    }
    for (idx, _) in touched.values() {
        idx.commit()?;
    }
    Ok(Json(
        json!({"took": started.elapsed().as_millis() as u64, "errors": errors, "items": results}),
    )
    .into_response())
}

pub async fn bulk_default(State(st): State<EsState>, body: Bytes) -> Result<Response, EsErr> {
    run(&st, None, &body)
}

pub async fn bulk(
    State(st): State<EsState>,
    Path(index): Path<String>,
    body: Bytes,
) -> Result<Response, EsErr> {
    run(&st, Some(&index), &body)
}
