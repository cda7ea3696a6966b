//! The reference evaluator: runs the query AST on JSON documents in
//! memory. The index answers from tantivy where it can and falls back to
//! this for paths it does not index; the model test holds the two equal.

use std::ops::Bound;

use serde_json::Value;
use tantivy::tokenizer::{TextAnalyzer, TokenizerManager};

use crate::parse_millis;
use crate::query::{FieldKind, Query, RangeValue, Search, field_kind};
use crate::sort::{Rank, SortValue, cursor, effective};

/// A document as the evaluator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub id: String,
    pub seq: u64,
    pub source: Value,
}

/// Scalar values at a dotted path; arrays (also of objects on the way) are
/// flattened as Elasticsearch does.
pub fn values_at<'a>(doc: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    collect(doc, path, &mut out);
    out
}

fn collect<'a>(v: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => {
            for i in items {
                collect(i, path, out);
            }
        }
        _ if path.is_empty() && !v.is_null() && !v.is_object() => out.push(v),
        _ if path.is_empty() => {}
        Value::Object(m) => {
            let (head, rest) = path.split_once('.').unwrap_or((path, ""));
            if let Some(child) = m.get(head) {
                collect(child, rest, out);
            }
        }
        _ => {}
    }
}

/// A scalar's keyword form.
pub fn keyword(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Keyword values of a field (the `_id` pseudo-field included).
fn keywords(doc: &Doc, field: &str) -> Vec<String> {
    if field == "_id" {
        return vec![doc.id.clone()];
    }
    values_at(&doc.source, field)
        .into_iter()
        .filter_map(keyword)
        .collect()
}

fn analyzer() -> TextAnalyzer {
    TokenizerManager::default()
        .get("default")
        .unwrap_or_else(|| TextAnalyzer::from(tantivy::tokenizer::SimpleTokenizer::default()))
}

/// Tokens with positions, exactly as the index analyzes text.
pub fn tokens(text: &str) -> Vec<(usize, String)> {
    let mut a = analyzer();
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while let Some(t) = stream.next() {
        out.push((t.position, t.text.clone()));
    }
    out
}

/// `*` and `?` glob matching, linear in practice (greedy with backtrack
/// to the last star).
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The terms a field holds: tokens for text fields, keywords otherwise.
fn terms(doc: &Doc, field: &str) -> Vec<String> {
    if field_kind(field) == FieldKind::Text {
        values_at(&doc.source, field)
            .into_iter()
            .filter_map(Value::as_str)
            .flat_map(|s| tokens(s).into_iter().map(|(_, t)| t))
            .collect()
    } else {
        keywords(doc, field)
    }
}

fn time_of(doc: &Doc) -> Option<i64> {
    match doc.source.get(crate::query::TIME_FIELD)? {
        Value::String(s) => parse_millis(s),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn in_range(v: &RangeValue, lower: &Bound<RangeValue>, upper: &Bound<RangeValue>) -> bool {
    let cmp = |b: &RangeValue| -> Option<std::cmp::Ordering> {
        match (v, b) {
            (RangeValue::Num(x), RangeValue::Num(y)) => x.partial_cmp(y),
            (RangeValue::Str(x), RangeValue::Str(y)) => Some(x.as_str().cmp(y.as_str())),
            _ => None,
        }
    };
    let lower_ok = match lower {
        Bound::Unbounded => true,
        Bound::Included(b) => cmp(b).is_some_and(|o| o.is_ge()),
        Bound::Excluded(b) => cmp(b).is_some_and(|o| o.is_gt()),
    };
    let upper_ok = match upper {
        Bound::Unbounded => true,
        Bound::Included(b) => cmp(b).is_some_and(|o| o.is_le()),
        Bound::Excluded(b) => cmp(b).is_some_and(|o| o.is_lt()),
    };
    lower_ok && upper_ok
}

/// Whether `doc` matches `q`.
pub fn matches(q: &Query, doc: &Doc) -> bool {
    match q {
        Query::All => true,
        Query::Nothing => false,
        Query::Term { field, values } => terms(doc, field).iter().any(|t| values.contains(t)),
        Query::Match { field, text, all } => {
            let want: Vec<String> = tokens(text).into_iter().map(|(_, t)| t).collect();
            let have = terms(doc, field);
            !want.is_empty()
                && if *all {
                    want.iter().all(|w| have.contains(w))
                } else {
                    want.iter().any(|w| have.contains(w))
                }
        }
        Query::Phrase { field, text } => {
            let want = tokens(text);
            if want.is_empty() {
                return false;
            }
            values_at(&doc.source, field)
                .into_iter()
                .filter_map(Value::as_str)
                .any(|s| phrase_in(&want, &tokens(s)))
        }
        Query::Range {
            field,
            lower,
            upper,
        } => {
            if field_kind(field) == FieldKind::Time {
                return time_of(doc)
                    .is_some_and(|t| in_range(&RangeValue::Num(t as f64), lower, upper));
            }
            values_at(&doc.source, field).into_iter().any(|v| {
                let value = match v {
                    Value::Number(n) => n.as_f64().map(RangeValue::Num),
                    Value::String(s) => Some(RangeValue::Str(s.clone())),
                    Value::Bool(b) => Some(RangeValue::Str(b.to_string())),
                    _ => None,
                };
                value.is_some_and(|v| in_range(&v, lower, upper))
            })
        }
        Query::Prefix { field, prefix } => terms(doc, field)
            .iter()
            .any(|t| t.starts_with(prefix.as_str())),
        Query::Wildcard { field, pattern } => terms(doc, field).iter().any(|t| glob(pattern, t)),
        Query::Exists { field } => field == "_id" || !values_at(&doc.source, field).is_empty(),
        Query::Ids(ids) => ids.contains(&doc.id),
        Query::Bool {
            must,
            should,
            must_not,
            min_should,
        } => {
            must.iter().all(|c| matches(c, doc))
                && !must_not.iter().any(|c| matches(c, doc))
                && (*min_should == 0
                    || should.iter().filter(|c| matches(c, doc)).count() >= *min_should)
        }
    }
}

fn phrase_in(want: &[(usize, String)], have: &[(usize, String)]) -> bool {
    let base = want[0].0;
    have.iter().enumerate().any(|(i, (p0, t0))| {
        *t0 == want[0].1
            && want[1..].iter().all(|(wp, wt)| {
                let pos = p0 + (wp - base);
                have[i..].iter().any(|(hp, ht)| *hp == pos && ht == wt)
            })
    })
}

/// A document's value for one sort field (`score` for `_score`); of
/// several values the least sorts ascending and the greatest descending,
/// as in Elasticsearch.
pub fn sort_value(doc: &Doc, field: &str, descending: bool, score: f32) -> SortValue {
    match field {
        "_score" => SortValue::Num(f64::from(score)),
        "_doc" => SortValue::Num(doc.seq as f64),
        _ if field_kind(field) == FieldKind::Time => {
            time_of(doc).map_or(SortValue::Missing, |t| SortValue::Num(t as f64))
        }
        _ if field == "_id" => SortValue::Str(doc.id.clone()),
        _ => {
            let numeric = field_kind(field) == FieldKind::Stored;
            let values = values_at(&doc.source, field)
                .into_iter()
                .filter_map(|v| match v {
                    Value::Number(n) if numeric => n.as_f64().map(SortValue::Num),
                    other => keyword(other).map(SortValue::Str),
                });
            let pick = |a: SortValue, b: SortValue| {
                let a_first = crate::sort::first_of(&a, &b, descending);
                if a_first { a } else { b }
            };
            values.reduce(pick).unwrap_or(SortValue::Missing)
        }
    }
}

/// A document's rank under the search's sort (constant score 1).
pub fn rank(doc: &Doc, s: &Search, score: f32) -> Rank {
    let sort = effective(&s.sort);
    Rank {
        keys: sort
            .iter()
            .map(|k| sort_value(doc, &k.field, k.descending, score))
            .collect(),
        descending: sort.iter().map(|k| k.descending).collect(),
        seq: doc.seq,
    }
}

/// Runs a whole search over documents in memory: the total number of
/// matches and the page, each hit with its rank.
pub fn search<'a>(
    docs: impl IntoIterator<Item = &'a Doc>,
    s: &Search,
) -> (usize, Vec<(Rank, &'a Doc)>) {
    let after = s
        .search_after
        .as_ref()
        .map(|a| cursor(&effective(&s.sort), a));
    let mut total = 0;
    let mut hits: Vec<(Rank, &Doc)> = Vec::new();
    for d in docs {
        if !matches(&s.query, d) {
            continue;
        }
        total += 1;
        let r = rank(d, s, 1.0);
        if after.as_ref().is_none_or(|c| r.is_after(c)) {
            hits.push((r, d));
        }
    }
    hits.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let page = hits.into_iter().skip(s.from).take(s.size).collect();
    (total, page)
}
