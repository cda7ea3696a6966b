//! `GET|POST /query`: InfluxQL statements (from `q` in the URL or a form
//! body), one result per statement, times as RFC 3339 or `epoch` integers,
//! `pretty`, and `chunked` (newline-separated partial results).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{InfluxState, error, now_ns, version_headers};
use tsdb::query::{Cell, ResultSeries, StatementResult};

/// Divisor of a nanosecond time for `epoch=`; `None` means RFC 3339.
fn epoch_divisor(epoch: Option<&str>) -> Result<Option<i64>, String> {
    Ok(match epoch {
        None | Some("") => None,
        Some("ns" | "n") => Some(1),
        Some("u" | "µ" | "us") => Some(1_000),
        Some("ms") => Some(1_000_000),
        Some("s") => Some(1_000_000_000),
        Some("m") => Some(60_000_000_000),
        Some("h") => Some(3_600_000_000_000),
        Some(other) => return Err(format!("invalid epoch: {other}")),
    })
}

fn cell(c: &Cell, epoch: Option<i64>) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Time(t) => match epoch {
            Some(d) => json!(t.div_euclid(d)),
            None => json!(tsdb::time::format_rfc3339(*t)),
        },
        Cell::Float(f) if f.is_finite() => json!(f),
        Cell::Float(_) => Value::Null,
        Cell::Integer(i) => json!(i),
        Cell::Unsigned(u) => json!(u),
        Cell::Boolean(b) => json!(b),
        Cell::String(s) => json!(s),
    }
}

fn series_json(s: &ResultSeries, rows: &[Vec<Cell>], epoch: Option<i64>, partial: bool) -> Value {
    let mut o = Map::new();
    if let Some(n) = &s.name {
        o.insert("name".into(), json!(n));
    }
    if let Some(tags) = &s.tags {
        o.insert("tags".into(), json!(tags));
    }
    o.insert("columns".into(), json!(s.columns));
    if !rows.is_empty() {
        let values: Vec<Value> = rows
            .iter()
            .map(|r| Value::Array(r.iter().map(|c| cell(c, epoch)).collect()))
            .collect();
        o.insert("values".into(), Value::Array(values));
    }
    if partial {
        o.insert("partial".into(), json!(true));
    }
    Value::Object(o)
}

fn result_json(r: &StatementResult, epoch: Option<i64>) -> Value {
    let mut o = Map::new();
    o.insert("statement_id".into(), json!(r.statement_id));
    if !r.series.is_empty() {
        let series: Vec<Value> = r
            .series
            .iter()
            .map(|s| series_json(s, &s.values, epoch, false))
            .collect();
        o.insert("series".into(), Value::Array(series));
    }
    if !r.messages.is_empty() {
        let m: Vec<Value> = r
            .messages
            .iter()
            .map(|(level, text)| json!({"level": level, "text": text}))
            .collect();
        o.insert("messages".into(), Value::Array(m));
    }
    if let Some(e) = &r.error {
        o.insert("error".into(), json!(e));
    }
    Value::Object(o)
}

fn form(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

pub async fn query(
    State(s): State<InfluxState>,
    method: Method,
    Query(mut q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if method == Method::POST && is_form {
        for (k, v) in form(&body) {
            q.entry(k).or_insert(v);
        }
    }
    let Some(text) = q.get("q").filter(|t| !t.trim().is_empty()).cloned() else {
        return error(StatusCode::BAD_REQUEST, "missing required parameter \"q\"");
    };
    let epoch = match epoch_divisor(q.get("epoch").map(String::as_str)) {
        Ok(e) => e,
        Err(m) => return error(StatusCode::BAD_REQUEST, &m),
    };
    let params: Map<String, Value> = match q.get("params").filter(|p| !p.is_empty()) {
        None => Map::new(),
        Some(p) => match serde_json::from_str(p) {
            Ok(Value::Object(m)) => m,
            _ => return error(StatusCode::BAD_REQUEST, "error parsing query parameters"),
        },
    };
    let database = q.get("db").cloned().filter(|d| !d.is_empty());
    let via_get = method == Method::GET;
    let tsdb = s.tsdb.clone();
    let results = tokio::task::spawn_blocking(move || {
        tsdb::query::run(
            &tsdb,
            &text,
            database.as_deref(),
            &params,
            now_ns(),
            via_get,
        )
    })
    .await;
    let results = match results {
        Ok(Ok(r)) => r,
        Ok(Err(parse)) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("error parsing query: {parse}"),
            );
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let pretty = q.get("pretty").is_some_and(|p| p == "true");
    let chunked = q.get("chunked").is_some_and(|c| c == "true");
    let body = if chunked {
        let size: usize = q
            .get("chunk_size")
            .and_then(|c| c.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(10_000);
        chunked_body(&results, epoch, size)
    } else {
        let v =
            json!({ "results": results.iter().map(|r| result_json(r, epoch)).collect::<Vec<_>>() });
        let mut text = if pretty {
            serde_json::to_string_pretty(&v).unwrap_or_default()
        } else {
            v.to_string()
        };
        text.push('\n');
        text
    };
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    version_headers(resp.headers_mut());
    resp
}

/// Newline-separated `{"results":[…]}` objects of at most `size` rows each,
/// every one but the last of a series marked `partial`.
fn chunked_body(results: &[StatementResult], epoch: Option<i64>, size: usize) -> String {
    let mut out = String::new();
    for r in results {
        if r.series.is_empty() || r.error.is_some() {
            out.push_str(&json!({"results": [result_json(r, epoch)]}).to_string());
            out.push('\n');
            continue;
        }
        let total: usize = r.series.len();
        for (si, s) in r.series.iter().enumerate() {
            let chunks: Vec<&[Vec<Cell>]> = if s.values.is_empty() {
                vec![&[][..]]
            } else {
                s.values.chunks(size).collect()
            };
            let n = chunks.len();
            for (ci, rows) in chunks.into_iter().enumerate() {
                let last = si + 1 == total && ci + 1 == n;
                let series_partial = ci + 1 < n;
                let mut o = Map::new();
                o.insert("statement_id".into(), json!(r.statement_id));
                o.insert(
                    "series".into(),
                    json!([series_json(s, rows, epoch, series_partial)]),
                );
                if !last {
                    o.insert("partial".into(), json!(true));
                }
                out.push_str(&json!({"results": [Value::Object(o)]}).to_string());
                out.push('\n');
            }
        }
    }
    out
}
