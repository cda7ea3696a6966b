//! `_search`, `_count`, `_delete_by_query` (and 1.x's typed `_query`)
//! over one or several indices.

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query as UrlQuery, State};
use axum::response::{IntoResponse, Response};
use search::{Query, Search, SourceFilter, TotalHits, es};
use serde_json::{Value, json};

use super::response::{EsHit, Shape, search_body, shards};
use super::targets::{Target, resolve};
use super::{EsErr, EsState, now_ms, storage};

pub type Params = Vec<(String, String)>;

/// Request options outside the query itself.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub shape: Shape,
    pub scroll: Option<Duration>,
    /// ES 1.x `search_type=scan`: the first answer has no hits.
    pub scan: bool,
    pub ignore_unavailable: bool,
}

fn param<'a>(p: &'a Params, k: &str) -> Option<&'a str> {
    p.iter()
        .rev()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
}

/// `5m`, `30s`, `1h`, `500ms`.
pub fn keep_alive(v: &str) -> Result<Duration, EsErr> {
    let bad = || {
        EsErr::bad_request(
            "illegal_argument_exception",
            format!("failed to parse setting [scroll] with value [{v}] as a time value"),
        )
    };
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        _ => return Err(bad()),
    };
    Ok(Duration::from_millis(ms.min(86_400_000)))
}

/// The body as JSON (`{}` when empty).
pub fn body_json(body: &[u8]) -> Result<Value, EsErr> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        EsErr::bad_request(
            "parsing_exception",
            format!("request body is not JSON: {e}"),
        )
    })
}

/// A search from the body and the URL parameters (which win).
pub fn build(body: &[u8], p: &Params) -> Result<(Search, Options), EsErr> {
    let now = now_ms();
    let mut s = es::parse_search(&body_json(body)?, now)?;
    let mut o = Options::default();
    let number = |k: &str, v: &str| -> Result<usize, EsErr> {
        v.parse().map_err(|_| {
            EsErr::bad_request(
                "illegal_argument_exception",
                format!("[{k}] must be a non-negative integer, got [{v}]"),
            )
        })
    };
    for (k, v) in p {
        match k.as_str() {
            "size" => s.size = number(k, v)?,
            "from" => s.from = number(k, v)?,
            "q" => {
                let df = param(p, "df").unwrap_or("message.text");
                let and =
                    param(p, "default_operator").is_some_and(|o| o.eq_ignore_ascii_case("and"));
                let q = es::parse_query(
                    &json!({"query_string": {"query": v, "default_field": df, "default_operator": if and {"AND"} else {"OR"}}}),
                    now,
                )?;
                s.query = Query::and(vec![s.query.clone(), q]);
            }
            "sort" => {
                let items: Vec<Value> = v.split(',').map(|x| json!(x)).collect();
                s.sort = es::parse_sort(&Value::Array(items))?;
            }
            "_source" => {
                s.source = match v.as_str() {
                    "true" => SourceFilter::All,
                    "false" => SourceFilter::None,
                    list => es::source_filter(&json!(list))?,
                }
            }
            "_source_includes" | "_source_include" | "_source_excludes" | "_source_exclude" => {
                let (mut inc, mut exc) = match std::mem::take(&mut s.source) {
                    SourceFilter::Some { includes, excludes } => (includes, excludes),
                    _ => (Vec::new(), Vec::new()),
                };
                let list = v.split(',').map(str::to_owned);
                if k.contains("include") {
                    inc.extend(list);
                } else {
                    exc.extend(list);
                }
                s.source = SourceFilter::Some {
                    includes: inc,
                    excludes: exc,
                };
            }
            "track_total_hits" => {
                s.total = match v.as_str() {
                    "true" => TotalHits::Object { limit: None },
                    "false" => TotalHits::Omitted,
                    n => TotalHits::Object {
                        limit: Some(number(k, n)?),
                    },
                }
            }
            "rest_total_hits_as_int" => o.shape.total_as_int = v == "true",
            "scroll" => o.scroll = Some(keep_alive(v)?),
            "search_type" => o.scan = v == "scan",
            "ignore_unavailable" => o.ignore_unavailable = v == "true",
            _ => {}
        }
    }
    if s.size > search::MAX_PAGE && o.scroll.is_none() {
        return Err(EsErr::bad_request(
            "illegal_argument_exception",
            format!(
                "Result window is too large, size must be less than or equal to [{}]",
                search::MAX_PAGE
            ),
        ));
    }
    Ok((s, o))
}

fn with_type(q: &Query, kind: Option<&str>) -> Query {
    match kind {
        Some(k) if k != "_doc" => Query::and(vec![q.clone(), Query::term("type", k)]),
        _ => q.clone(),
    }
}

/// Runs a search over the targets, merging their hits by rank.
pub fn execute(
    state: &EsState,
    targets: &[Target],
    kind: Option<&str>,
    s: &Search,
) -> Result<(usize, Vec<EsHit>, Option<Value>), EsErr> {
    if s.aggs.is_some() && targets.len() > 1 {
        return Err(EsErr::bad_request(
            "illegal_argument_exception",
            "aggregations over several indices are not supported yet; name one index",
        ));
    }
    let mut one = s.clone();
    if targets.len() > 1 {
        one.from = 0;
        one.size = s.from.saturating_add(s.size).min(search::MAX_PAGE);
    }
    let mut total = 0;
    let mut hits = Vec::new();
    let mut aggs = None;
    for t in targets {
        match t {
            Target::Index(name, idx) => {
                let mut q = one.clone();
                q.query = with_type(&one.query, kind);
                let found = idx.search(&q)?;
                total += found.total;
                aggs = aggs.or(found.aggs);
                let kind = kind.unwrap_or("_doc").to_owned();
                hits.extend(found.hits.into_iter().map(|hit| EsHit {
                    index: name.clone(),
                    kind: kind.clone(),
                    hit,
                }));
            }
            Target::Storage => {
                if s.aggs.is_some() {
                    return Err(EsErr::bad_request(
                        "illegal_argument_exception",
                        "aggregations on cloudify_storage are not supported yet",
                    ));
                }
                let Some(model) = &state.model else { continue };
                let docs = storage::documents(model, kind)?;
                let kinds: std::collections::HashMap<u64, &str> =
                    docs.iter().map(|(k, d)| (d.seq, *k)).collect();
                let only: Vec<search::eval::Doc> = docs.iter().map(|(_, d)| d.clone()).collect();
                let (n, page) = search::eval::search(&only, &one);
                total += n;
                for (rank, d) in page {
                    let score = one.sort.is_empty().then_some(1.0);
                    let sort = if one.sort.is_empty() {
                        Vec::new()
                    } else {
                        rank.keys.iter().map(|k| k.to_json()).collect()
                    };
                    hits.push(EsHit {
                        index: super::STORAGE_INDEX.to_owned(),
                        kind: kinds.get(&d.seq).copied().unwrap_or("_doc").to_owned(),
                        hit: search::Hit {
                            id: d.id.clone(),
                            seq: d.seq,
                            score,
                            sort,
                            source: d.source.clone(),
                            version: 1,
                            rank,
                        },
                    });
                }
            }
        }
    }
    if targets.len() > 1 {
        hits.sort_by(|a, b| {
            b.hit
                .rank
                .partial_cmp(&a.hit.rank)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        hits = hits.into_iter().skip(s.from).take(s.size).collect();
    }
    Ok((total, hits, aggs))
}

/// A whole `_search` request on an index expression.
pub fn run(
    state: &EsState,
    expr: &str,
    kind: Option<&str>,
    body: &[u8],
    p: &Params,
) -> Result<Response, EsErr> {
    let started = Instant::now();
    let (s, o) = build(body, p)?;
    let targets = resolve(state, expr, o.ignore_unavailable)?;
    if let Some(keep) = o.scroll {
        return super::scroll::open(state, expr, kind, s, o, keep, started);
    }
    let (n, hits, aggs) = execute(state, &targets, kind, &s)?;
    let took = started.elapsed().as_millis() as u64;
    Ok(Json(search_body(n, &hits, aggs, &s, o.shape, took, None)).into_response())
}

fn count_run(
    state: &EsState,
    expr: &str,
    kind: Option<&str>,
    body: &[u8],
    p: &Params,
) -> Result<Response, EsErr> {
    let (mut s, o) = build(body, p)?;
    s.size = 0;
    s.from = 0;
    s.aggs = None;
    let targets = resolve(state, expr, o.ignore_unavailable)?;
    let (n, _, _) = execute(state, &targets, kind, &s)?;
    Ok(Json(json!({"count": n, "_shards": shards()})).into_response())
}

pub async fn search_all(
    State(st): State<EsState>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    run(&st, "_all", None, &body, &p)
}

pub async fn search(
    State(st): State<EsState>,
    Path(index): Path<String>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    run(&st, &index, None, &body, &p)
}

pub async fn search_typed(
    State(st): State<EsState>,
    Path((index, kind)): Path<(String, String)>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    run(&st, &index, Some(&kind), &body, &p)
}

pub async fn count_all(
    State(st): State<EsState>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    count_run(&st, "_all", None, &body, &p)
}

pub async fn count(
    State(st): State<EsState>,
    Path(index): Path<String>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    count_run(&st, &index, None, &body, &p)
}

pub async fn count_typed(
    State(st): State<EsState>,
    Path((index, kind)): Path<(String, String)>,
    UrlQuery(p): UrlQuery<Params>,
    body: Bytes,
) -> Result<Response, EsErr> {
    count_run(&st, &index, Some(&kind), &body, &p)
}

/// Deletes what the query matches in every target; how many.
fn delete_matching(
    state: &EsState,
    expr: &str,
    kind: Option<&str>,
    body: &[u8],
) -> Result<usize, EsErr> {
    let req = body_json(body)?;
    let q = match req.get("query") {
        Some(q) => es::parse_query(q, now_ms())?,
        None => {
            return Err(EsErr::bad_request(
                "action_request_validation_exception",
                "Validation Failed: 1: query is missing;",
            ));
        }
    };
    let mut deleted = 0;
    for t in resolve(state, expr, false)? {
        match t {
            Target::Storage => return Err(EsErr::read_only(super::STORAGE_INDEX)),
            Target::Index(_, idx) => {
                deleted += idx.delete_matching(&with_type(&q, kind))?;
                idx.commit()?;
            }
        }
    }
    Ok(deleted)
}

pub async fn delete_by_query(
    State(st): State<EsState>,
    Path(index): Path<String>,
    body: Bytes,
) -> Result<Response, EsErr> {
    let started = Instant::now();
    let n = delete_matching(&st, &index, None, &body)?;
    Ok(Json(json!({"took": started.elapsed().as_millis() as u64, "timed_out": false, "total": n, "deleted": n, "batches": 1,
        "version_conflicts": 0, "noops": 0, "retries": {"bulk": 0, "search": 0}, "throttled_millis": 0,
        "requests_per_second": -1.0, "throttled_until_millis": 0, "failures": []}))
    .into_response())
}

/// ES 1.x `DELETE /{index}/{type}/_query`.
pub async fn delete_typed(
    State(st): State<EsState>,
    Path((index, kind)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, EsErr> {
    delete_matching(&st, &index, Some(&kind), &body)?;
    Ok(
        Json(json!({"_indices": {index: {"_shards": {"total": 1, "successful": 1, "failed": 0}}}}))
            .into_response(),
    )
}
