//! ES response bodies for searches.

use search::source::project;
use search::{Hit, Search, TotalHits};
use serde_json::{Map, Value, json};

/// A hit and where it came from.
pub struct EsHit {
    pub index: String,
    pub kind: String,
    pub hit: Hit,
}

/// How the caller wants totals.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    /// `rest_total_hits_as_int=true`: a number whatever the request said.
    pub total_as_int: bool,
}

pub fn shards() -> Value {
    json!({"total": 1, "successful": 1, "skipped": 0, "failed": 0})
}

fn total(n: usize, s: &Search, shape: Shape) -> Option<Value> {
    match s.total {
        _ if shape.total_as_int => Some(json!(n)),
        TotalHits::Number => Some(json!(n)),
        TotalHits::Omitted => None,
        TotalHits::Object { limit } => {
            let capped = limit.map_or(n, |l| n.min(l));
            let relation = if capped < n { "gte" } else { "eq" };
            Some(json!({"value": capped, "relation": relation}))
        }
    }
}

/// One hit as ES shows it.
pub fn hit_json(h: &EsHit, s: &Search) -> Value {
    let mut m = Map::new();
    m.insert("_index".into(), json!(h.index));
    m.insert("_type".into(), json!(h.kind));
    m.insert("_id".into(), json!(h.hit.id));
    m.insert("_score".into(), json!(h.hit.score));
    if let Some(src) = project(&h.hit.source, &s.source) {
        m.insert("_source".into(), src);
    }
    if !s.sort.is_empty() {
        m.insert("sort".into(), Value::Array(h.hit.sort.clone()));
    }
    Value::Object(m)
}

/// A `_search` answer.
pub fn search_body(
    n: usize,
    hits: &[EsHit],
    aggs: Option<Value>,
    s: &Search,
    shape: Shape,
    took_ms: u64,
    scroll_id: Option<&str>,
) -> Value {
    let max_score = hits
        .iter()
        .filter_map(|h| h.hit.score)
        .fold(None, |m: Option<f32>, x| Some(m.map_or(x, |m| m.max(x))));
    let mut inner = Map::new();
    if let Some(t) = total(n, s, shape) {
        inner.insert("total".into(), t);
    }
    inner.insert("max_score".into(), json!(max_score));
    inner.insert(
        "hits".into(),
        Value::Array(hits.iter().map(|h| hit_json(h, s)).collect()),
    );
    let mut body = Map::new();
    if let Some(id) = scroll_id {
        body.insert("_scroll_id".into(), json!(id));
    }
    body.insert("took".into(), json!(took_ms));
    body.insert("timed_out".into(), json!(false));
    body.insert("_shards".into(), shards());
    body.insert("hits".into(), Value::Object(inner));
    if let Some(a) = aggs {
        body.insert("aggregations".into(), a);
    }
    Value::Object(body)
}
