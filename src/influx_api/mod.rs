//! The InfluxDB 1.x HTTP API on 8086 over the embedded time-series store:
//! `/ping`, `/health`, `/write` (line protocol, precision, rp, gzip,
//! partial writes) and `/query` (InfluxQL, GET or POST form, `epoch`,
//! `pretty`, `chunked`). Authentication parameters (`u`/`p`, basic auth)
//! are accepted and not checked, as InfluxDB with auth disabled.

mod query;
mod write;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

/// The InfluxDB version cfyd answers as (clients read the header).
pub const VERSION: &str = "1.8.10";

/// Largest `/write` body, after decompression (InfluxDB's default 25 MB).
pub const MAX_BODY: usize = 25_000_000;

#[derive(Clone)]
pub struct InfluxState {
    pub tsdb: Arc<tsdb::Tsdb>,
}

pub fn router(state: InfluxState) -> Router {
    Router::new()
        .route("/ping", get(ping).head(ping))
        .route("/health", get(health))
        .route("/write", axum::routing::post(write::write))
        .route("/query", get(query::query).post(query::query))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

fn version_headers(h: &mut HeaderMap) {
    h.insert("X-Influxdb-Version", HeaderValue::from_static(VERSION));
    h.insert("X-Influxdb-Build", HeaderValue::from_static("OSS"));
    let id = uuid::Uuid::new_v4().to_string();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("Request-Id", v.clone());
        h.insert("X-Request-Id", v);
    }
}

/// An InfluxDB error: `{"error": …}` and the `X-Influxdb-Error` header.
pub fn error(status: StatusCode, message: &str) -> Response {
    let mut resp = (status, axum::Json(json!({ "error": message }))).into_response();
    version_headers(resp.headers_mut());
    if let Ok(v) = HeaderValue::from_str(&message.replace(['\r', '\n'], " ")) {
        resp.headers_mut().insert("X-Influxdb-Error", v);
    }
    resp
}

async fn ping() -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    version_headers(resp.headers_mut());
    resp
}

async fn health() -> Response {
    let mut resp = axum::Json(json!({
        "name": "influxdb", "message": "ready for queries and writes",
        "status": "pass", "checks": [], "version": VERSION,
    }))
    .into_response();
    version_headers(resp.headers_mut());
    resp
}

/// Nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Flushes and compacts the store in the background until `stop`, then
/// flushes once more so a clean stop leaves an empty WAL.
pub async fn maintain(store: Arc<tsdb::Tsdb>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        ticks += 1;
        let s = store.clone();
        // Retention is applied by a compaction once a minute.
        let retention = ticks.is_multiple_of(6) && store.has_retention();
        let done = tokio::task::spawn_blocking(move || {
            if retention {
                s.compact(now_ns()).map(|_| true)
            } else {
                s.maintain(now_ns())
            }
        })
        .await;
        if let Ok(Err(e)) = done {
            tracing::error!(error = %e, "metrics store maintenance failed");
        }
    }
    let s = store.clone();
    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.flush()).await {
        tracing::error!(error = %e, "cannot flush the metrics store at stop");
    }
}
