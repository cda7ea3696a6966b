//! The Elasticsearch query DSL, parsed sans-IO into the query AST: the
//! 7.x forms (`match_all`, `match`, `match_phrase`, `term`, `terms`,
//! `range`, `bool`, `query_string`, `prefix`, `wildcard`, `exists`, `ids`,
//! `constant_score`) and the 1.x forms Cloudify 3.3 sends (`filtered`,
//! `and`/`or`/`not`, `missing`, `query` wrappers, `range` with
//! `from`/`to`); `from`, `size`, `sort`, `search_after`, `_source`,
//! `track_total_hits`, `aggs`. Anything else is an ES `parsing_exception`,
//! never a wrong answer.

use std::ops::Bound;

use serde_json::{Map, Value};

use crate::parse_millis;
use crate::query::{
    FieldKind, Query, RangeValue, Search, Sort, SourceFilter, TotalHits, field_kind,
};

pub use crate::bulk::{Action, BulkItem, MAX_BULK_LINES, parse_bulk};

/// Deepest query nesting accepted.
pub const MAX_DEPTH: usize = 32;
/// Most clauses one query may hold in all.
pub const MAX_CLAUSES: usize = 4_096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct EsError {
    /// ES's error type, e.g. `parsing_exception`.
    pub kind: &'static str,
    pub reason: String,
}

fn parsing(what: impl Into<String>) -> EsError {
    EsError {
        kind: "parsing_exception",
        reason: what.into(),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A field name as indexed: `x.keyword` sub-fields are the field itself.
pub fn field_name(f: &str) -> String {
    f.strip_suffix(".keyword").unwrap_or(f).to_owned()
}

struct Parser {
    now_ms: i64,
    clauses: usize,
}

/// A whole `_search` body; `now_ms` anchors date math (`now-1h`).
pub fn parse_search(body: &Value, now_ms: i64) -> Result<Search, EsError> {
    let mut s = Search::default();
    let obj = match body {
        Value::Null => return Ok(s),
        Value::Object(m) => m,
        _ => return Err(parsing("the search body must be a JSON object")),
    };
    let count = |k: &str| -> Result<Option<usize>, EsError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .map(|n| Some(n as usize))
                .ok_or_else(|| parsing(format!("[{k}] must be a non-negative integer"))),
        }
    };
    if let Some(f) = count("from")? {
        s.from = f;
    }
    if let Some(n) = count("size")? {
        s.size = n;
    }
    if let Some(sort) = obj.get("sort") {
        s.sort = parse_sort(sort)?;
    }
    if let Some(after) = obj.get("search_after") {
        let a = after
            .as_array()
            .ok_or_else(|| parsing("[search_after] must be an array"))?;
        if a.len() != s.sort.len().max(1) {
            return Err(EsError {
                kind: "illegal_argument_exception",
                reason: "search_after has a different number of values than the sort".into(),
            });
        }
        s.search_after = Some(a.clone());
    }
    if let Some(src) = obj.get("_source") {
        s.source = source_filter(src)?;
    }
    if let Some(t) = obj.get("track_total_hits") {
        s.total = match t {
            Value::Bool(true) => TotalHits::Object { limit: None },
            Value::Bool(false) => TotalHits::Omitted,
            Value::Number(n) => TotalHits::Object {
                limit: n.as_u64().map(|n| n as usize),
            },
            _ => return Err(parsing("[track_total_hits] must be a boolean or a number")),
        };
    }
    if let Some(a) = obj.get("aggs").or_else(|| obj.get("aggregations")) {
        s.aggs = Some(aggs(a)?);
    }
    if let Some(query) = obj.get("query") {
        s.query = parse_query(query, now_ms)?;
    }
    Ok(s)
}

/// One query clause (the value of `query`).
pub fn parse_query(v: &Value, now_ms: i64) -> Result<Query, EsError> {
    Parser { now_ms, clauses: 0 }.clause(v, 0)
}

/// `sort`: a field name, `{field: order}`, `{field: {order, …}}` or a list.
pub fn parse_sort(sort: &Value) -> Result<Vec<Sort>, EsError> {
    let items: Vec<&Value> = match sort {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for item in items {
        let (field, order) = match item {
            Value::String(f) => {
                let (f, o) = f.split_once(':').unwrap_or((f, ""));
                (f.to_owned(), o.to_owned())
            }
            Value::Object(m) if m.len() == 1 => {
                let Some((f, spec)) = m.iter().next() else {
                    continue;
                };
                let order = spec
                    .get("order")
                    .and_then(Value::as_str)
                    .or(spec.as_str())
                    .unwrap_or("");
                (f.clone(), order.to_owned())
            }
            _ => {
                return Err(parsing(
                    "[sort] entries must be field names or one-key objects",
                ));
            }
        };
        let descending = match order.as_str() {
            "desc" => true,
            "asc" => false,
            // ES: _score sorts descending by default, fields ascending.
            "" => field == "_score",
            other => return Err(parsing(format!("unknown sort order [{other}]"))),
        };
        out.push(Sort {
            field: field_name(&field),
            descending,
        });
    }
    Ok(out)
}

/// `_source`: a boolean, a pattern, a list, or `{includes, excludes}`.
pub fn source_filter(v: &Value) -> Result<SourceFilter, EsError> {
    let list = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
            Some(Value::Array(a)) => a.iter().filter_map(scalar).collect(),
            _ => Vec::new(),
        }
    };
    Ok(match v {
        Value::Bool(true) => SourceFilter::All,
        Value::Bool(false) => SourceFilter::None,
        Value::String(_) | Value::Array(_) => SourceFilter::Some {
            includes: list(Some(v)),
            excludes: Vec::new(),
        },
        Value::Object(m) => SourceFilter::Some {
            includes: list(m.get("includes").or_else(|| m.get("include"))),
            excludes: list(m.get("excludes").or_else(|| m.get("exclude"))),
        },
        _ => {
            return Err(parsing(
                "[_source] must be a boolean, a string, a list or an object",
            ));
        }
    })
}

/// The aggregation request in tantivy's (ES-shaped) form: `.keyword`
/// fields are the fields, and date histogram intervals are fixed.
pub fn aggs(v: &Value) -> Result<Value, EsError> {
    let Value::Object(m) = v else {
        return Err(parsing("[aggs] must be an object"));
    };
    let mut out = Map::new();
    for (name, spec) in m {
        let Value::Object(kinds) = spec else {
            return Err(parsing(format!("aggregation [{name}] must be an object")));
        };
        let mut one = Map::new();
        for (kind, body) in kinds {
            let body = match kind.as_str() {
                "aggs" | "aggregations" => aggs(body)?,
                "meta" => body.clone(),
                _ => agg_body(kind, body)?,
            };
            let key = if kind == "aggregations" { "aggs" } else { kind };
            one.insert(key.to_owned(), body);
        }
        out.insert(name.clone(), Value::Object(one));
    }
    Ok(Value::Object(out))
}

fn agg_body(kind: &str, body: &Value) -> Result<Value, EsError> {
    let Value::Object(m) = body else {
        return Err(parsing(format!("[{kind}] must be an object")));
    };
    let mut m = m.clone();
    if let Some(Value::String(f)) = m.get("field") {
        let f = field_name(f);
        m.insert("field".into(), Value::String(f));
    }
    if kind == "date_histogram" {
        let given = ["interval", "calendar_interval"]
            .iter()
            .find_map(|k| m.remove(*k));
        if let Some(i) = given {
            let i = i.as_str().unwrap_or_default();
            let fixed = match i {
                "second" | "1s" => "1s".to_owned(),
                "minute" | "1m" => "1m".to_owned(),
                "hour" | "1h" => "1h".to_owned(),
                "day" | "1d" => "1d".to_owned(),
                "week" | "1w" => "7d".to_owned(),
                other
                    if other.ends_with(['s', 'm', 'h', 'd'])
                        && other.len() > 1
                        && other[..other.len() - 1].chars().all(|c| c.is_ascii_digit()) =>
                {
                    other.to_owned()
                }
                other => {
                    return Err(parsing(format!(
                        "date_histogram interval [{other}] is not supported yet (fixed intervals only: ms, s, m, h, d, week)"
                    )));
                }
            };
            m.insert("fixed_interval".into(), Value::String(fixed));
        }
        m.remove("time_zone")
            .filter(|tz| tz != "UTC" && tz != "Z" && tz != "+00:00")
            .map_or(Ok(()), |tz| {
                Err(parsing(format!(
                    "date_histogram time_zone [{tz}] is not supported yet (UTC only)"
                )))
            })?;
    }
    Ok(Value::Object(m))
}

/// `(field, body)` of a one-field clause such as `{"term": {"f": …}}`,
/// ignoring ES's option keys beside the field.
fn one_field<'a>(kind: &str, body: &'a Value) -> Result<(String, &'a Value), EsError> {
    body.as_object()
        .and_then(|m| {
            m.iter()
                .find(|(k, _)| !matches!(k.as_str(), "boost" | "_name" | "execution" | "_cache"))
        })
        .map(|(k, v)| (field_name(k), v))
        .ok_or_else(|| parsing(format!("[{kind}] query malformed, no field specified")))
}

fn list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
    }
}

/// `minimum_should_match`: a count, a negative count, or a percentage.
fn min_should(v: Option<&Value>, n: usize, default: usize) -> Result<usize, EsError> {
    let Some(v) = v else {
        return Ok(default);
    };
    let text =
        scalar(v).ok_or_else(|| parsing("[minimum_should_match] must be a number or string"))?;
    let t = text.trim();
    let (pct, num) = match t.strip_suffix('%') {
        Some(p) => (true, p),
        None => (false, t),
    };
    let x: i64 = num
        .parse()
        .map_err(|_| parsing(format!("[minimum_should_match] [{t}] is not supported")))?;
    let count = if pct {
        (n as i64 * x.abs() / 100) * x.signum()
    } else {
        x
    };
    let count = if count < 0 { n as i64 + count } else { count };
    Ok(count.clamp(0, n as i64) as usize)
}

impl Parser {
    fn clause(&mut self, v: &Value, depth: usize) -> Result<Query, EsError> {
        if depth > MAX_DEPTH {
            return Err(parsing(format!("query nesting deeper than {MAX_DEPTH}")));
        }
        self.clauses += 1;
        if self.clauses > MAX_CLAUSES {
            return Err(parsing(format!("more than {MAX_CLAUSES} query clauses")));
        }
        let Some((kind, body)) = v
            .as_object()
            .and_then(|m| if m.len() == 1 { m.iter().next() } else { None })
        else {
            return Err(parsing(
                "a query clause must be an object with exactly one key",
            ));
        };
        let d = depth + 1;
        Ok(match kind.as_str() {
            "match_all" => Query::All,
            "match_none" => Query::Nothing,
            "term" => {
                let (field, v) = one_field(kind, body)?;
                let v = v.get("value").unwrap_or(v);
                let value = scalar(v)
                    .ok_or_else(|| parsing(format!("[term] on [{field}] needs a scalar value")))?;
                Query::Term {
                    field,
                    values: vec![value],
                }
            }
            "terms" => {
                let (field, values) = body
                    .as_object()
                    .and_then(|m| m.iter().find(|(_, v)| v.is_array()))
                    .ok_or_else(|| parsing("[terms] query needs a field with a list of values"))?;
                let values = values
                    .as_array()
                    .map(|a| a.iter().filter_map(scalar).collect())
                    .unwrap_or_default();
                Query::Term {
                    field: field_name(field),
                    values,
                }
            }
            "match" | "match_phrase" => {
                let (field, v) = one_field(kind, body)?;
                let text = scalar(v.get("query").unwrap_or(v)).ok_or_else(|| {
                    parsing(format!("[{kind}] on [{field}] needs a scalar query"))
                })?;
                let all = v
                    .get("operator")
                    .and_then(Value::as_str)
                    .is_some_and(|o| o.eq_ignore_ascii_case("and"));
                match (field_kind(&field), kind.as_str()) {
                    (FieldKind::Text, "match") => Query::Match { field, text, all },
                    (FieldKind::Text, _) => Query::Phrase { field, text },
                    (FieldKind::Time, _) => self.time_term(&field, &text)?,
                    _ => Query::Term {
                        field,
                        values: vec![text],
                    },
                }
            }
            "range" => {
                let (field, spec) = one_field(kind, body)?;
                self.range(field, spec)?
            }
            "prefix" => {
                let (field, v) = one_field(kind, body)?;
                let prefix = scalar(v.get("value").or_else(|| v.get("prefix")).unwrap_or(v))
                    .ok_or_else(|| parsing("[prefix] needs a value"))?;
                Query::Prefix { field, prefix }
            }
            "wildcard" => {
                let (field, v) = one_field(kind, body)?;
                let pattern = scalar(v.get("value").or_else(|| v.get("wildcard")).unwrap_or(v))
                    .ok_or_else(|| parsing("[wildcard] needs a value"))?;
                Query::Wildcard { field, pattern }
            }
            "exists" | "missing" => {
                let field = body
                    .get("field")
                    .and_then(Value::as_str)
                    .ok_or_else(|| parsing(format!("[{kind}] needs [field]")))?;
                let q = Query::Exists {
                    field: field_name(field),
                };
                if kind == "missing" {
                    Query::negate(q)
                } else {
                    q
                }
            }
            "ids" => {
                let values = body
                    .get("values")
                    .and_then(Value::as_array)
                    .ok_or_else(|| parsing("[ids] needs [values]"))?;
                Query::Ids(values.iter().filter_map(scalar).collect())
            }
            "type" => {
                let value = body
                    .get("value")
                    .and_then(scalar)
                    .ok_or_else(|| parsing("[type] needs [value]"))?;
                Query::term("type", &value)
            }
            "query_string" => {
                let text = body
                    .get("query")
                    .and_then(scalar)
                    .ok_or_else(|| parsing("[query_string] needs [query]"))?;
                let default_field = body
                    .get("default_field")
                    .and_then(Value::as_str)
                    .map_or_else(|| "message.text".to_owned(), field_name);
                let and = body
                    .get("default_operator")
                    .and_then(Value::as_str)
                    .is_some_and(|o| o.eq_ignore_ascii_case("and"));
                crate::es_string::parse(&text, &default_field, and, self.now_ms)?
            }
            "bool" => {
                let Value::Object(m) = body else {
                    return Err(parsing("[bool] must be an object"));
                };
                let mut must = Vec::new();
                for key in ["must", "filter"] {
                    for c in list(m.get(key)) {
                        must.push(self.clause(c, d)?);
                    }
                }
                let should = list(m.get("should"))
                    .into_iter()
                    .map(|c| self.clause(c, d))
                    .collect::<Result<Vec<_>, _>>()?;
                let must_not = list(m.get("must_not"))
                    .into_iter()
                    .map(|c| self.clause(c, d))
                    .collect::<Result<Vec<_>, _>>()?;
                let default = usize::from(must.is_empty() && !should.is_empty());
                let min_should = min_should(m.get("minimum_should_match"), should.len(), default)?;
                if must.is_empty() && should.is_empty() && must_not.is_empty() {
                    Query::All
                } else {
                    Query::Bool {
                        must,
                        should,
                        must_not,
                        min_should,
                    }
                }
            }
            "constant_score" => match body.get("filter").or_else(|| body.get("query")) {
                Some(f) => self.clause(f, d)?,
                None => return Err(parsing("[constant_score] needs [filter]")),
            },
            "filtered" => {
                let q = body
                    .get("query")
                    .map(|q| self.clause(q, d))
                    .transpose()?
                    .unwrap_or(Query::All);
                let f = body
                    .get("filter")
                    .map(|f| self.clause(f, d))
                    .transpose()?
                    .unwrap_or(Query::All);
                Query::and(vec![q, f])
            }
            "query" | "fquery" => self.clause(body.get("query").unwrap_or(body), d)?,
            "and" | "or" => {
                let items = body.get("filters").unwrap_or(body);
                let parts = list(Some(items))
                    .into_iter()
                    .map(|c| self.clause(c, d))
                    .collect::<Result<Vec<_>, _>>()?;
                if kind == "and" {
                    Query::and(parts)
                } else {
                    Query::or(parts)
                }
            }
            "not" => Query::negate(
                self.clause(
                    body.get("filter")
                        .or_else(|| body.get("query"))
                        .unwrap_or(body),
                    d,
                )?,
            ),
            other => return Err(parsing(format!("unknown or unsupported query [{other}]"))),
        })
    }

    fn time_term(&self, field: &str, text: &str) -> Result<Query, EsError> {
        let ms = date(&Value::String(text.to_owned()), self.now_ms)
            .ok_or_else(|| parsing(format!("[{field}] value [{text}] is not a date")))?;
        Ok(Query::Range {
            field: field.to_owned(),
            lower: Bound::Included(RangeValue::Num(ms as f64)),
            upper: Bound::Included(RangeValue::Num(ms as f64)),
        })
    }

    fn range(&self, field: String, spec: &Value) -> Result<Query, EsError> {
        let Value::Object(m) = spec else {
            return Err(parsing(format!("[range] on [{field}] must be an object")));
        };
        let kind = field_kind(&field);
        let value = |k: &str, v: &Value| -> Result<RangeValue, EsError> {
            match kind {
                FieldKind::Time => date(v, self.now_ms)
                    .map(|ms| RangeValue::Num(ms as f64))
                    .ok_or_else(|| {
                        parsing(format!(
                            "[range] bound [{k}] on [{field}] is not a date: {v}"
                        ))
                    }),
                _ => match v {
                    Value::Number(n) => Ok(RangeValue::Num(n.as_f64().unwrap_or(0.0))),
                    Value::String(s) if kind == FieldKind::Stored => Ok(s
                        .parse()
                        .map_or_else(|_| RangeValue::Str(s.clone()), RangeValue::Num)),
                    other => scalar(other)
                        .map(RangeValue::Str)
                        .ok_or_else(|| parsing(format!("[range] bound [{k}] must be a scalar"))),
                },
            }
        };
        let flag = |k: &str| m.get(k).and_then(Value::as_bool).unwrap_or(true);
        let mut lower = Bound::Unbounded;
        let mut upper = Bound::Unbounded;
        for (k, v) in m {
            if v.is_null() {
                continue;
            }
            match k.as_str() {
                "gte" => lower = Bound::Included(value(k, v)?),
                "gt" => lower = Bound::Excluded(value(k, v)?),
                "lte" => upper = Bound::Included(value(k, v)?),
                "lt" => upper = Bound::Excluded(value(k, v)?),
                "from" if flag("include_lower") => lower = Bound::Included(value(k, v)?),
                "from" => lower = Bound::Excluded(value(k, v)?),
                "to" if flag("include_upper") => upper = Bound::Included(value(k, v)?),
                "to" => upper = Bound::Excluded(value(k, v)?),
                "include_lower" | "include_upper" | "format" | "boost" | "time_zone"
                | "relation" => {}
                other => return Err(parsing(format!("[range] query does not support [{other}]"))),
            }
        }
        Ok(Query::Range {
            field,
            lower,
            upper,
        })
    }
}

/// A date bound: epoch milliseconds, a date string, or date math on `now`
/// (`now-1h`, `now/d`, `now-7d/d`).
pub fn date(v: &Value, now_ms: i64) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            if let Some(rest) = s.strip_prefix("now") {
                return date_math(rest, now_ms);
            }
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
                return s.parse().ok();
            }
            let (base, math) = s.split_once("||").unwrap_or((s, ""));
            date_math(math, parse_millis(base)?)
        }
        _ => None,
    }
}

fn unit_ms(u: char) -> Option<i64> {
    Some(match u {
        's' => 1_000,
        'm' => 60_000,
        'h' | 'H' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        'M' => 30 * 86_400_000,
        'y' => 365 * 86_400_000,
        _ => return None,
    })
}

fn date_math(mut rest: &str, mut t: i64) -> Option<i64> {
    while !rest.is_empty() {
        let op = rest.chars().next()?;
        rest = &rest[1..];
        if op == '/' {
            let u = unit_ms(rest.chars().next()?)?;
            t = t.div_euclid(u) * u;
            rest = &rest[1..];
            continue;
        }
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        rest = &rest[digits.len()..];
        let n: i64 = if digits.is_empty() {
            1
        } else {
            digits.parse().ok()?
        };
        let u = unit_ms(rest.chars().next()?)?;
        rest = &rest[1..];
        let delta = n.checked_mul(u)?;
        t = match op {
            '+' => t.checked_add(delta)?,
            '-' => t.checked_sub(delta)?,
            _ => return None,
        };
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn term(f: &str, v: &str) -> Query {
        Query::term(f, v)
    }

    #[test]
    fn cloudify_32_client_body() {
        let s = parse_search(&json!({"from": 5, "size": 50, "sort": [{"@timestamp": {"order": "asc", "ignore_unmapped": true}}],
            "query": {"bool": {"must": [{"match": {"context.execution_id": "e1"}}], "should": [{"match": {"type": "cloudify_event"}}, {"match": {"type": "cloudify_log"}}]}}}), 0).unwrap();
        assert_eq!((s.from, s.size), (5, 50));
        assert_eq!(
            s.sort,
            vec![Sort {
                field: "@timestamp".into(),
                descending: false
            }]
        );
        assert_eq!(
            s.query,
            Query::Bool {
                must: vec![term("context.execution_id", "e1")],
                should: vec![term("type", "cloudify_event"), term("type", "cloudify_log")],
                must_not: vec![],
                min_should: 0
            }
        );
    }

    #[test]
    fn cloudify_33_server_body() {
        let s = parse_search(&json!({"size": 10000, "from": 0, "sort": [{"@timestamp": {"order": "desc", "ignore_unmapped": true}}],
            "query": {"filtered": {"filter": {"bool": {"must": [
                {"terms": {"type": ["cloudify_event", "cloudify_log"]}},
                {"query": {"match": {"context.execution_id": {"query": "x", "operator": "and"}}}},
                {"or": {"filters": [{"query": {"match": {"context.node_id": "a"}}}, {"query": {"match": {"context.node_id": "b"}}}]}},
                {"range": {"@timestamp": {"from": "2016-01-01T00:00:00", "to": "2016-01-02T00:00:00"}}},
                {"query": {"query_string": {"query": "message.text:*foo* AND message.text:*bar*"}}}]}}}}}), 0).unwrap();
        let Query::Bool { must, .. } = &s.query else {
            panic!("{:?}", s.query)
        };
        assert_eq!(must.len(), 5);
        assert_eq!(must[1], term("context.execution_id", "x"));
        assert_eq!(
            must[2],
            Query::or(vec![
                term("context.node_id", "a"),
                term("context.node_id", "b")
            ])
        );
        assert_eq!(
            must[3],
            Query::Range {
                field: "@timestamp".into(),
                lower: Bound::Included(RangeValue::Num(parse_millis("2016-01-01").unwrap() as f64)),
                upper: Bound::Included(RangeValue::Num(parse_millis("2016-01-02").unwrap() as f64)),
            }
        );
        assert_eq!(
            must[4],
            Query::and(vec![
                Query::Wildcard {
                    field: "message.text".into(),
                    pattern: "*foo*".into()
                },
                Query::Wildcard {
                    field: "message.text".into(),
                    pattern: "*bar*".into()
                }
            ])
        );
        assert!(s.sort[0].descending);
    }

    #[test]
    fn date_math_and_bounds() {
        let now = parse_millis("2020-05-05T10:30:00Z").unwrap();
        assert_eq!(date(&json!("now-1h"), now), Some(now - 3_600_000));
        assert_eq!(date(&json!("now/d"), now), parse_millis("2020-05-05"));
        assert_eq!(
            date(&json!("2020-01-01||+1d"), now),
            parse_millis("2020-01-02")
        );
        assert_eq!(date(&json!("1588674600000"), now), Some(1_588_674_600_000));
        assert_eq!(date(&json!("now-x"), now), None);
        let q = parse_query(
            &json!({"range": {"@timestamp": {"gt": "now-1h", "lt": "now"}}}),
            now,
        )
        .unwrap();
        assert_eq!(
            q,
            Query::Range {
                field: "@timestamp".into(),
                lower: Bound::Excluded(RangeValue::Num((now - 3_600_000) as f64)),
                upper: Bound::Excluded(RangeValue::Num(now as f64)),
            }
        );
    }

    #[test]
    fn bool_minimum_should_match() {
        let q = parse_query(&json!({"bool": {"should": [{"term": {"a": "1"}}, {"term": {"a": "2"}}, {"term": {"b": "3"}}], "minimum_should_match": "-1"}}), 0).unwrap();
        let Query::Bool { min_should, .. } = q else {
            panic!()
        };
        assert_eq!(min_should, 2);
        let q = parse_query(&json!({"bool": {"should": [{"term": {"a": "1"}}], "must_not": {"exists": {"field": "z"}}}}), 0).unwrap();
        let Query::Bool {
            min_should,
            must_not,
            ..
        } = q
        else {
            panic!()
        };
        assert_eq!((min_should, must_not.len()), (1, 1));
    }

    #[test]
    fn source_sort_and_aggs() {
        let s = parse_search(&json!({"_source": {"includes": ["a.*"], "excludes": "b"}, "sort": ["_score", {"level.keyword": "desc"}, "type:asc"],
            "track_total_hits": 100, "search_after": [1.5, "x", "y"],
            "aggs": {"levels": {"terms": {"field": "level.keyword"}, "aggs": {"per_minute": {"date_histogram": {"field": "@timestamp", "interval": "minute"}}}}}}), 0).unwrap();
        assert_eq!(
            s.source,
            SourceFilter::Some {
                includes: vec!["a.*".into()],
                excludes: vec!["b".into()]
            }
        );
        assert_eq!(
            s.sort
                .iter()
                .map(|k| (k.field.as_str(), k.descending))
                .collect::<Vec<_>>(),
            vec![("_score", true), ("level", true), ("type", false)]
        );
        assert_eq!(s.total, TotalHits::Object { limit: Some(100) });
        assert_eq!(
            s.aggs,
            Some(
                json!({"levels": {"terms": {"field": "level"}, "aggs": {"per_minute": {"date_histogram": {"field": "@timestamp", "fixed_interval": "1m"}}}}})
            )
        );
    }

    #[test]
    fn unsupported_forms_are_errors() {
        for body in [
            json!({"query": {"fuzzy": {"a": "b"}}}),
            json!({"query": {"term": {}}}),
            json!({"query": {"range": {"x": {"near": 1}}}}),
            json!({"sort": [{"level": "sideways"}]}),
            json!({"size": -1}),
            json!({"aggs": {"x": {"date_histogram": {"field": "@timestamp", "calendar_interval": "month"}}}}),
            json!({"sort": ["a"], "search_after": [1, 2]}),
            json!([1]),
        ] {
            assert!(parse_search(&body, 0).is_err(), "{body}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_json(s in "[\\[\\]{}\",:a-z0-9 ]{0,200}") {
            if let Ok(v) = serde_json::from_str::<Value>(&s) {
                let _ = parse_search(&v, 0);
                let _ = parse_search(&serde_json::json!({"query": v}), 0);
            }
        }
    }
}
