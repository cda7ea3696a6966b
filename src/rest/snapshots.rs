//! `/snapshots` (v2): a zip of the whole store (JSON lines) and the file
//! server's blueprints and plugins; created, downloaded, uploaded, restored.

use std::io::{Read, Write};
use std::path::Path as FsPath;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Map, Value, json};

use super::RestState;
use super::error::RestError;
use super::list::{self, ApiVersion};
use crate::model::{BLUEPRINTS, DEPLOYMENTS, EXECUTIONS, Model, SNAPSHOTS, time};

const FIELDS: &[&str] = &["id", "created_at", "status", "error"];
/// File-server folders a snapshot carries.
const FOLDERS: &[&str] = &["blueprints", "uploaded-blueprints", "plugins"];
const STORE_FILE: &str = "store.jsonl";

fn zip_path(model: &Model, id: &str) -> std::path::PathBuf {
    model
        .resources
        .join("snapshots")
        .join(id)
        .join(format!("{id}.zip"))
}

fn io(e: impl std::fmt::Display) -> RestError {
    RestError::internal(e.to_string())
}

fn active_executions(model: &Model) -> Result<Vec<String>, RestError> {
    Ok(model
        .store
        .list(EXECUTIONS, &store::Query::default())?
        .items
        .into_iter()
        .filter(|e| {
            !matches!(
                e.doc["status"].as_str(),
                Some("terminated" | "failed" | "cancelled")
            )
        })
        .map(|e| e.id)
        .collect())
}

/// Writes the snapshot zip: every collection but snapshots, and the files.
fn write_snapshot(model: &Model, id: &str) -> Result<(), RestError> {
    let mut dump = Vec::new();
    model.store.export(&mut dump)?;
    let kept: Vec<&[u8]> = dump
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter(|l| {
            serde_json::from_slice::<Value>(l)
                .map(|v| v["collection"] != SNAPSHOTS)
                .unwrap_or(false)
        })
        .collect();
    let path = zip_path(model, id);
    std::fs::create_dir_all(path.parent().unwrap_or(FsPath::new("."))).map_err(io)?;
    let file = std::fs::File::create(&path).map_err(io)?;
    let mut z = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default();
    z.start_file(STORE_FILE, opts).map_err(io)?;
    for l in kept {
        z.write_all(l).map_err(io)?;
        z.write_all(b"\n").map_err(io)?;
    }
    for folder in FOLDERS {
        add_dir(
            &mut z,
            &model.resources.join(folder),
            &format!("resources/{folder}"),
            opts,
        )?;
    }
    z.finish().map_err(io)?;
    Ok(())
}

fn add_dir(
    z: &mut zip::ZipWriter<std::fs::File>,
    dir: &FsPath,
    prefix: &str,
    opts: zip::write::SimpleFileOptions,
) -> Result<(), RestError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = format!("{prefix}/{}", e.file_name().to_string_lossy());
        let kind = e.file_type().map_err(io)?;
        if kind.is_dir() {
            add_dir(z, &p, &name, opts)?;
        } else if kind.is_file() {
            z.start_file(&name, opts).map_err(io)?;
            std::io::copy(&mut std::fs::File::open(&p).map_err(io)?, z).map_err(io)?;
        }
    }
    Ok(())
}

pub async fn list(
    State(s): State<RestState>,
    Extension(v): Extension<ApiVersion>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, RestError> {
    // 3.3 ignored filters on snapshots; paging and sorting apply.
    let q: Vec<(String, String)> = q.into_iter().filter(|(k, _)| k.starts_with('_')).collect();
    let p = list::parse(&q, FIELDS, &[])?;
    list::page(&s.model.store, v, &p, SNAPSHOTS, |d| d.doc)
}

pub async fn get(
    State(s): State<RestState>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, RestError> {
    list::one(
        &s.model.store,
        SNAPSHOTS,
        "snapshot",
        &id,
        &q,
        FIELDS,
        |d| d.doc,
    )
}

pub async fn create(
    State(s): State<RestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, RestError> {
    let req = if body.is_empty() {
        Map::new()
    } else {
        super::body::json_object(&headers, &body)?
    };
    let include_metrics = list::boolean("include_metrics", req.get("include_metrics"), false)?;
    let include_credentials =
        list::boolean("include_credentials", req.get("include_credentials"), true)?;
    super::check_id("snapshot", &id)?;
    if s.model.store.get(SNAPSHOTS, &id)?.is_some() {
        return Err(RestError::conflict(format!(
            "snapshot with id '{id}' already exists"
        )));
    }
    let active = active_executions(&s.model)?;
    if !active.is_empty() {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "existing_running_execution_error",
            format!("There are running executions: {}", active.join(",")),
        ));
    }
    let now = time::now();
    s.model.store.insert(
        SNAPSHOTS,
        &id,
        json!({"id": id, "created_at": now, "status": "creating", "error": ""}),
    )?;
    let model = s.model.clone();
    let sid = id.clone();
    let result = tokio::task::spawn_blocking(move || write_snapshot(&model, &sid))
        .await
        .map_err(io)?;
    let (status, error) = match &result {
        Ok(()) => ("created", String::new()),
        Err(e) => ("failed", e.message.clone()),
    };
    let mut patch = Map::new();
    patch.insert("status".into(), json!(status));
    patch.insert("error".into(), json!(error));
    s.model.store.update(SNAPSHOTS, &id, patch, None)?;
    // The snapshot is taken in-process, synchronously: its execution is
    // recorded with the outcome.
    let exec_id = uuid::Uuid::new_v4().to_string();
    let exec = json!({
        "id": exec_id, "workflow_id": "create_snapshot", "blueprint_id": null, "deployment_id": null,
        "status": if result.is_ok() { "terminated" } else { "failed" }, "error": error, "created_at": now,
        "parameters": {"snapshot_id": id, "include_metrics": include_metrics, "include_credentials": include_credentials}, "is_system_workflow": true,
    });
    s.model.store.insert(EXECUTIONS, &exec_id, exec.clone())?;
    Ok((StatusCode::CREATED, Json(exec)).into_response())
}

pub async fn delete(
    State(s): State<RestState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, RestError> {
    let d = s
        .model
        .store
        .delete(SNAPSHOTS, &id, None)
        .map_err(|e| match e {
            store::Error::NotFound { .. } => {
                RestError::not_found(format!("snapshot {id} not found"))
            }
            other => other.into(),
        })?;
    let _ = tokio::fs::remove_dir_all(s.model.resources.join("snapshots").join(&id)).await;
    Ok(Json(d.doc))
}

pub async fn patch(
    State(s): State<RestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, RestError> {
    let req = super::body::json_object(&headers, &body)?;
    let status = req
        .get("status")
        .cloned()
        .ok_or_else(|| RestError::bad_parameters("status parameter is missing"))?;
    let mut patch = Map::new();
    patch.insert("status".into(), status);
    patch.insert(
        "error".into(),
        req.get("error").cloned().unwrap_or(json!("")),
    );
    s.model
        .store
        .update(SNAPSHOTS, &id, patch, None)
        .map_err(|e| match e {
            store::Error::NotFound { .. } => {
                RestError::not_found(format!("snapshot {id} not found"))
            }
            other => other.into(),
        })?;
    Ok(Json(Value::Null))
}

pub async fn download(
    State(s): State<RestState>,
    Path(id): Path<String>,
) -> Result<Response, RestError> {
    list::existing(&s.model.store, SNAPSHOTS, "snapshot", &id)?;
    let bytes = tokio::fs::read(zip_path(&s.model, &id))
        .await
        .map_err(|e| RestError::internal(format!("archive of snapshot {id} is missing: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename={id}.zip"),
            ),
        ],
        bytes,
    )
        .into_response())
}

pub async fn upload(
    State(s): State<RestState>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Result<Response, RestError> {
    if q.iter().any(|(k, _)| k == "snapshot_archive_url") {
        return Err(RestError::url_not_found("snapshot_archive_url"));
    }
    super::check_id("snapshot", &id)?;
    if s.model.store.get(SNAPSHOTS, &id)?.is_some() {
        return Err(RestError::conflict(format!(
            "snapshot with id '{id}' already exists"
        )));
    }
    if !body.starts_with(b"PK") {
        return Err(RestError::bad_parameters(
            "a snapshot archive must be a zip file",
        ));
    }
    let path = zip_path(&s.model, &id);
    tokio::fs::create_dir_all(path.parent().unwrap_or(FsPath::new(".")))
        .await
        .map_err(io)?;
    tokio::fs::write(&path, &body).await.map_err(io)?;
    let doc = json!({"id": id, "created_at": time::now(), "status": "uploaded", "error": ""});
    s.model.store.insert(SNAPSHOTS, &id, doc.clone())?;
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

/// Restores into a manager that has no blueprints or deployments yet.
pub async fn restore(
    State(s): State<RestState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, RestError> {
    let req = super::body::json_object(&headers, &body)?;
    if !req.contains_key("recreate_deployments_envs") || !req.contains_key("force") {
        return Err(RestError::bad_parameters(
            "recreate_deployments_envs and force are required",
        ));
    }
    let force = list::boolean("force", req.get("force"), false)?;
    list::existing(&s.model.store, SNAPSHOTS, "snapshot", &id)?;
    let active = active_executions(&s.model)?;
    if !active.is_empty() {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "existing_running_execution_error",
            format!("There are running executions: {}", active.join(",")),
        ));
    }
    let busy = s
        .model
        .store
        .list(BLUEPRINTS, &store::Query::default())?
        .total
        + s.model
            .store
            .list(DEPLOYMENTS, &store::Query::default())?
            .total;
    if busy > 0 && !force {
        return Err(RestError::bad_parameters(
            "Snapshot restoration requires an empty manager (it has blueprints or deployments); use force to restore anyway",
        ));
    }
    let model = s.model.clone();
    let sid = id.clone();
    tokio::task::spawn_blocking(move || restore_zip(&model, &sid))
        .await
        .map_err(io)??;
    let exec_id = uuid::Uuid::new_v4().to_string();
    let now = time::now();
    s.model.store.insert(
        EXECUTIONS,
        &exec_id,
        json!({"id": exec_id, "workflow_id": "restore_snapshot", "blueprint_id": null, "deployment_id": null, "status": "terminated", "error": "", "created_at": now, "parameters": {"snapshot_id": id}, "is_system_workflow": true}),
    )?;
    Ok(Json(
        json!({"id": exec_id, "created_at": now, "status": "terminated", "error": ""}),
    ))
}

fn restore_zip(model: &Model, id: &str) -> Result<(), RestError> {
    let file = std::fs::File::open(zip_path(model, id)).map_err(io)?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| RestError::bad_parameters(format!("snapshot archive is corrupt: {e}")))?;
    let mut store_lines = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(io)?;
        let name = f.name().to_owned();
        if name == STORE_FILE {
            f.by_ref()
                .take(1 << 30)
                .read_to_string(&mut store_lines)
                .map_err(io)?;
            continue;
        }
        let Some(rel) = name.strip_prefix("resources/") else {
            continue;
        };
        let rel =
            super::archive::safe_path(rel).map_err(|e| RestError::bad_parameters(e.to_string()))?;
        if f.is_dir() || !FOLDERS.iter().any(|d| rel.starts_with(d)) {
            continue;
        }
        let dest = model.resources.join(&rel);
        std::fs::create_dir_all(dest.parent().unwrap_or(FsPath::new("."))).map_err(io)?;
        let mut out = std::fs::File::create(&dest).map_err(io)?;
        std::io::copy(&mut f.by_ref().take(1 << 30), &mut out).map_err(io)?;
    }
    model.store.import(store_lines.as_bytes())?;
    Ok(())
}
