//! `POST /write?db=…[&rp=…][&precision=…]`: line protocol in, 204 out;
//! 400 with the bad lines (good ones are still written), 404 for an
//! unknown database, 500 for an unknown retention policy.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

use super::{InfluxState, MAX_BODY, error, now_ns, version_headers};
use tsdb::TsdbError;
use tsdb::line::Precision;

fn body_text(headers: &HeaderMap, body: &Bytes) -> Result<String, Box<Response>> {
    let gzip = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let raw = if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                Box::new(error(
                    StatusCode::BAD_REQUEST,
                    &format!("bad gzip body: {e}"),
                ))
            })?;
        out
    } else {
        body.to_vec()
    };
    if raw.len() > MAX_BODY {
        return Err(Box::new(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Entity Too Large",
        )));
    }
    String::from_utf8(raw)
        .map_err(|_| Box::new(error(StatusCode::BAD_REQUEST, "body is not valid UTF-8")))
}

pub async fn write(
    State(s): State<InfluxState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(db) = q.get("db").filter(|d| !d.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "database is required");
    };
    let Some(precision) = Precision::parse(q.get("precision").map_or("", String::as_str)) else {
        return error(StatusCode::BAD_REQUEST, "invalid precision");
    };
    let text = match body_text(&headers, &body) {
        Ok(t) => t,
        Err(resp) => return *resp,
    };
    let tsdb = s.tsdb.clone();
    let db = db.clone();
    let rp = q.get("rp").cloned();
    let result = tokio::task::spawn_blocking(move || {
        tsdb.write_body(&db, rp.as_deref(), &text, precision, now_ns())
    })
    .await;
    let (outcome, bad) = match result {
        Ok(Ok(o)) => o,
        Ok(Err(e @ TsdbError::DatabaseNotFound(_))) => {
            return error(StatusCode::NOT_FOUND, &e.to_string());
        }
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    if !bad.is_empty() || !outcome.dropped.is_empty() {
        let mut parts: Vec<String> = bad.iter().map(ToString::to_string).collect();
        parts.extend(outcome.dropped.iter().cloned());
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "partial write: {} dropped={}",
                parts.join("\n"),
                outcome.dropped.len()
            ),
        );
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    version_headers(resp.headers_mut());
    resp
}
