//! Scroll contexts: `?scroll=5m` opens one, `_search/scroll` pages on,
//! `DELETE _search/scroll` clears. Pages are taken by offset in the
//! search's order, so a scroll sorted by `_doc` (or time) over an
//! append-only event index sees each event once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use search::Search;
use serde_json::{Value, json};

use super::response::search_body;
use super::search::{Options, Params, execute, keep_alive};
use super::targets::resolve;
use super::{EsErr, EsState};

/// Most open scroll contexts (ES's `search.max_open_scroll_context`).
pub const MAX_CONTEXTS: usize = 500;

struct Ctx {
    expr: String,
    kind: Option<String>,
    search: Search,
    options: Options,
    next_from: usize,
    keep: Duration,
    expires: Instant,
}

#[derive(Default)]
pub struct Scrolls {
    open: Mutex<HashMap<String, Ctx>>,
}

fn missing(id: &str) -> EsErr {
    EsErr::new(
        StatusCode::NOT_FOUND,
        "search_context_missing_exception",
        format!("No search context found for id [{id}]"),
    )
}

/// Opens a context and answers its first page (none for 1.x `scan`).
pub fn open(
    state: &EsState,
    expr: &str,
    kind: Option<&str>,
    search: Search,
    options: Options,
    keep: Duration,
    started: Instant,
) -> Result<Response, EsErr> {
    let targets = resolve(state, expr, options.ignore_unavailable)?;
    let mut page = search.clone();
    if options.scan {
        page.size = 0;
    }
    let (n, hits, aggs) = execute(state, &targets, kind, &page)?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let took = started.elapsed().as_millis() as u64;
    let body = search_body(n, &hits, aggs, &search, options.shape, took, Some(&id));
    let mut open = state.scrolls.open.lock();
    let now = Instant::now();
    open.retain(|_, c| c.expires > now);
    if open.len() >= MAX_CONTEXTS {
        return Err(EsErr::bad_request(
            "exception",
            format!(
                "Trying to create too many scroll contexts. Must be less than or equal to: [{MAX_CONTEXTS}]"
            ),
        ));
    }
    open.insert(
        id,
        Ctx {
            expr: expr.to_owned(),
            kind: kind.map(str::to_owned),
            next_from: search.from + hits.len(),
            search,
            options,
            keep,
            expires: now + keep,
        },
    );
    Ok(Json(body).into_response())
}

/// The scroll id and keep-alive from a JSON body, a raw-id body (1.x) or
/// the URL.
fn scroll_request(body: &[u8], p: &Params) -> (Option<String>, Option<String>) {
    let from_url = |k: &str| p.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let text = String::from_utf8_lossy(body).trim().to_owned();
    let json: Option<Value> = serde_json::from_str(&text).ok();
    let id = json
        .as_ref()
        .and_then(|j| j.get("scroll_id"))
        .and_then(|v| match v {
            Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_owned),
            other => other.as_str().map(str::to_owned),
        })
        .or_else(|| (!text.is_empty() && json.is_none()).then_some(text.clone()))
        .or_else(|| from_url("scroll_id"));
    let keep = json
        .as_ref()
        .and_then(|j| j.get("scroll"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| from_url("scroll"));
    (id, keep)
}

fn page(state: &EsState, id: &str, keep: Option<String>) -> Result<Response, EsErr> {
    let started = Instant::now();
    let (expr, kind, mut search, options) = {
        let mut open = state.scrolls.open.lock();
        let ctx = open
            .get_mut(id)
            .filter(|c| c.expires > Instant::now())
            .ok_or_else(|| missing(id))?;
        if let Some(k) = keep {
            ctx.keep = keep_alive(&k)?;
        }
        ctx.expires = Instant::now() + ctx.keep;
        let mut s = ctx.search.clone();
        s.from = ctx.next_from;
        (ctx.expr.clone(), ctx.kind.clone(), s, ctx.options.clone())
    };
    let targets = resolve(state, &expr, options.ignore_unavailable)?;
    search.aggs = None;
    let (n, hits, _) = execute(state, &targets, kind.as_deref(), &search)?;
    if let Some(ctx) = state.scrolls.open.lock().get_mut(id) {
        ctx.next_from += hits.len();
    }
    let took = started.elapsed().as_millis() as u64;
    Ok(Json(search_body(
        n,
        &hits,
        None,
        &search,
        options.shape,
        took,
        Some(id),
    ))
    .into_response())
}

pub async fn next(
    State(st): State<EsState>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    let (id, keep) = scroll_request(&body, &p);
    let id = id.ok_or_else(|| {
        EsErr::bad_request(
            "action_request_validation_exception",
            "Validation Failed: 1: scrollId is missing;",
        )
    })?;
    page(&st, &id, keep)
}

pub async fn next_by_path(
    State(st): State<EsState>,
    Path(id): Path<String>,
    UrlQuery(p): UrlQuery<Params>,
) -> Result<Response, EsErr> {
    let keep = p
        .iter()
        .find(|(k, _)| k == "scroll")
        .map(|(_, v)| v.clone());
    page(&st, &id, keep)
}

fn cleared(state: &EsState, ids: &[String]) -> Response {
    let mut open = state.scrolls.open.lock();
    let n = if ids.iter().any(|i| i == "_all") {
        let n = open.len();
        open.clear();
        n
    } else {
        ids.iter()
            .filter(|i| open.remove(i.as_str()).is_some())
            .count()
    };
    let status = if n == 0 && !ids.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    (status, Json(json!({"succeeded": true, "num_freed": n}))).into_response()
}

pub async fn clear(
    State(st): State<EsState>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Response {
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let mut ids: Vec<String> = match json.as_ref().and_then(|j| j.get("scroll_id")) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    if ids.is_empty() {
        let (id, _) = scroll_request(&body, &p);
        ids.extend(
            id.into_iter()
                .flat_map(|s| s.split(',').map(str::to_owned).collect::<Vec<_>>()),
        );
    }
    cleared(&st, &ids)
}

pub async fn clear_by_path(State(st): State<EsState>, Path(id): Path<String>) -> Response {
    let ids: Vec<String> = id.split(',').map(str::to_owned).collect();
    cleared(&st, &ids)
}
