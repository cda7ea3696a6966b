//! `/events`: v2 query parameters answered from the event index; the v1 /
//! 3.2 form (an Elasticsearch query body) with a raw ES response; `POST
//! /search` (a raw ES query on `cloudify_storage`); and a live tail of new
//! events as server-sent events (beyond 3.3).

use std::ops::Bound;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use search::query::RangeValue;
use search::{Search, Sort, SourceFilter, es};
use serde_json::{Value, json};

use super::RestState;
use super::error::RestError;
use super::list::{ApiVersion, DEFAULT_SIZE};
use crate::es_api::{self, EVENTS_INDEX, EsErr, EsState, STORAGE_INDEX};

/// Filter keys 3.3 rewrote to `context.<key>`.
const CONTEXT_KEYS: &[&str] = &[
    "blueprint_id",
    "deployment_id",
    "execution_id",
    "node_id",
    "node_instance_id",
    "workflow_id",
];

/// How often the live tail looks for new events.
const TAIL_POLL: Duration = Duration::from_millis(200);
/// Most events one tail poll sends.
const TAIL_BATCH: usize = 500;

fn es_state(s: &RestState) -> Result<&EsState, RestError> {
    s.es.as_ref()
        .ok_or_else(|| RestError::internal("the event index is not open"))
}

fn bad(message: String) -> RestError {
    RestError::bad_parameters(message)
}

fn from_es(e: EsErr) -> RestError {
    if e.status.is_client_error() {
        RestError::bad_parameters(format!("{}: {}", e.kind, e.reason))
    } else {
        RestError::internal(e.reason)
    }
}

/// 3.3's `message.text` search: every keyword (reserved characters
/// dropped) must appear inside some word of the message.
fn message_words(val: &str) -> Vec<search::Query> {
    search::eval::tokens(val)
        .into_iter()
        .map(|(_, w)| search::Query::Wildcard {
            field: "message.text".into(),
            pattern: format!("*{w}*"),
        })
        .collect()
}

/// The v2 query parameters as a search.
fn v2_search(q: &[(String, String)]) -> Result<Search, RestError> {
    let mut s = Search {
        size: DEFAULT_SIZE,
        ..Search::default()
    };
    let mut filters: Vec<(String, Vec<String>)> = Vec::new();
    let mut clauses = Vec::new();
    for (k, val) in q {
        match k.as_str() {
            "_offset" => {
                s.from = val
                    .parse()
                    .map_err(|_| bad(format!("_offset must be an integer, got {val}")))?
            }
            "_size" => {
                s.size = val
                    .parse()
                    .map_err(|_| bad(format!("_size must be an integer, got {val}")))?
            }
            "_sort" => {
                let (field, descending) = match val.strip_prefix('-') {
                    Some(f) => (f, true),
                    None => (val.strip_prefix('+').unwrap_or(val), false),
                };
                s.sort.push(Sort {
                    field: es::field_name(field),
                    descending,
                });
            }
            "_include" => {
                s.source = SourceFilter::Some {
                    includes: val.split(',').map(str::to_owned).collect(),
                    excludes: Vec::new(),
                }
            }
            "_range" => {
                let parts: Vec<&str> = val.split(',').collect();
                let [field, from, to] = parts.as_slice() else {
                    return Err(bad(format!(
                        "_range must be <field>,<from>,<to>, got {val}"
                    )));
                };
                let bound = |t: &str| -> Result<Bound<RangeValue>, RestError> {
                    if t.is_empty() {
                        return Ok(Bound::Unbounded);
                    }
                    let value = if *field == "@timestamp" {
                        es::date(&json!(t), es_api::now_ms())
                            .map(|ms| RangeValue::Num(ms as f64))
                            .ok_or_else(|| bad(format!("not a timestamp: {t}")))?
                    } else {
                        t.parse()
                            .map_or_else(|_| RangeValue::Str(t.to_owned()), RangeValue::Num)
                    };
                    Ok(Bound::Included(value))
                };
                clauses.push(search::Query::Range {
                    field: es::field_name(field),
                    lower: bound(from)?,
                    upper: bound(to)?,
                });
            }
            "message.text" => clauses.extend(message_words(val)),
            k if k.starts_with('_') => {}
            k => {
                let field = if CONTEXT_KEYS.contains(&k) {
                    format!("context.{k}")
                } else {
                    k.to_owned()
                };
                match filters.iter_mut().find(|(f, _)| *f == field) {
                    Some((_, any)) => any.push(val.clone()),
                    None => filters.push((field, vec![val.clone()])),
                }
            }
        }
    }
    clauses.extend(
        filters
            .into_iter()
            .map(|(field, values)| search::Query::Term { field, values }),
    );
    s.query = search::Query::and(clauses);
    if s.size > search::MAX_PAGE {
        return Err(bad(format!(
            "_size must be at most {}, got {}",
            search::MAX_PAGE,
            s.size
        )));
    }
    Ok(s)
}

/// v2: `GET /events?execution_id=…&type=…&message.text=…&_range=@timestamp,a,b&_sort=@timestamp&_offset&_size&_include`.
pub async fn list(
    State(s): State<RestState>,
    Extension(v): Extension<ApiVersion>,
    Query(q): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Result<Response, RestError> {
    if v == ApiVersion::V1 || (!body.is_empty() && q.is_empty()) {
        return raw(&s, EVENTS_INDEX, &body);
    }
    let search = v2_search(&q)?;
    let es = es_state(&s)?;
    let index = es
        .indices
        .get(EVENTS_INDEX)
        .ok_or_else(|| RestError::internal("the event index is not open"))?;
    let found = index.search(&search).map_err(|e| from_es(EsErr::from(e)))?;
    let items: Vec<Value> = found
        .hits
        .into_iter()
        .filter_map(|h| search::source::project(&h.source, &search.source))
        .collect();
    Ok(Json(json!({"items": items, "metadata": {"pagination": {"total": found.total, "size": search.size, "offset": search.from}}})).into_response())
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
    raw(&s, EVENTS_INDEX, &body)
}

/// `POST /search`: a raw Elasticsearch query on `cloudify_storage`.
pub async fn storage_search(
    State(s): State<RestState>,
    body: Bytes,
) -> Result<Response, RestError> {
    raw(&s, STORAGE_INDEX, &body)
}

/// A raw ES body on one index, answered with a raw ES response.
fn raw(s: &RestState, index: &str, body: &[u8]) -> Result<Response, RestError> {
    let r = es_api::search::run(es_state(s)?, index, None, body, &Vec::new()).map_err(from_es)?;
    Ok((StatusCode::OK, r).into_response())
}

/// `GET /events/stream?<v2 filters>`: new matching events as server-sent
/// events, each with its sequence number as the event id. `Last-Event-ID`
/// (or `_after=<seq>`) resumes after an event; `_from_start=true` replays
/// everything first.
pub async fn stream(
    State(s): State<RestState>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, RestError> {
    let mut search = v2_search(&q)?;
    let es = es_state(&s)?;
    let index = es
        .indices
        .get(EVENTS_INDEX)
        .ok_or_else(|| RestError::internal("the event index is not open"))?;
    let param = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(param("_after"))
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                bad(format!(
                    "the event id to resume after must be a number, got {v}"
                ))
            })
        })
        .transpose()?;
    let start = match resume {
        Some(seq) => Some(seq),
        None if param("_from_start") == Some("true") => None,
        None => index
            .last_seq()
            .map_err(|e| RestError::internal(e.to_string()))?,
    };
    search.sort = vec![Sort {
        field: "_doc".into(),
        descending: false,
    }];
    search.from = 0;
    search.size = TAIL_BATCH;
    let events = futures_util::stream::unfold(
        (index, search, start, std::collections::VecDeque::new()),
        |(index, mut search, mut last, mut ready)| async move {
            loop {
                if let Some(ev) = ready.pop_front() {
                    return Some((
                        Ok::<Event, std::convert::Infallible>(ev),
                        (index, search, last, ready),
                    ));
                }
                search.search_after = last.map(|l| vec![json!(l)]);
                match index.search(&search) {
                    Ok(found) if !found.hits.is_empty() => {
                        for h in found.hits {
                            last = Some(h.seq);
                            let data = search::source::project(&h.source, &search.source)
                                .unwrap_or(Value::Null);
                            ready.push_back(
                                Event::default()
                                    .id(h.seq.to_string())
                                    .data(data.to_string()),
                            );
                        }
                    }
                    Ok(_) => tokio::time::sleep(TAIL_POLL).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "live tail search failed; closing the stream");
                        return None;
                    }
                }
            }
        },
    );
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}
