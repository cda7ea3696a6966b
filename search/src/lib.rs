//! A general event index on tantivy: JSON documents stored whole, a fixed
//! set of keyword paths indexed raw, the message text tokenized, a time
//! field for ranges and an ingestion sequence for order.
//!
//! Writes are buffered by the tantivy writer and become visible at
//! [`EventIndex::commit`]; the caller (the pipeline) acknowledges its
//! sources only after the commit that contains them.

pub mod es;
mod time;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde_json::{Map, Value};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT, Value as _,
};
use tantivy::{Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};

pub use time::{format_millis, parse_millis};

/// Paths indexed as exact keywords.
pub const KEYWORDS: &[&str] = &[
    "type",
    "event_type",
    "level",
    "logger",
    "context.execution_id",
    "context.deployment_id",
    "context.blueprint_id",
    "context.workflow_id",
    "context.node_id",
    "context.node_name",
    "context.task_id",
    "context.operation",
    "context.plugin",
];

/// Most documents one search may return.
pub const MAX_PAGE: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("event index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("event index directory: {0}")]
    Directory(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// A search: keyword filters (AND of ORs), excluded values, words the
/// message must contain, a time range, order and page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    pub terms: Vec<(String, Vec<String>)>,
    /// Documents whose field holds any of these values are left out.
    pub exclude: Vec<(String, Vec<String>)>,
    pub words: Vec<String>,
    /// Inclusive bounds in epoch milliseconds on `@timestamp`.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub descending: bool,
    pub offset: usize,
    pub size: usize,
}

struct Fields {
    source: Field,
    /// An optional caller key (not part of the document) for de-duplication.
    key: Field,
    seq: Field,
    ts: Field,
    text: Field,
    keywords: Vec<(&'static str, Field)>,
}

pub struct EventIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    next_seq: AtomicU64,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let source = b.add_text_field("_source", STORED);
    let seq = b.add_u64_field("_seq", INDEXED | FAST | STORED);
    let ts = b.add_i64_field("@timestamp", INDEXED | FAST);
    let text = b.add_text_field("message.text", TEXT);
    let key = b.add_text_field("_key", STRING);
    let keywords = KEYWORDS
        .iter()
        .map(|k| (*k, b.add_text_field(k, STRING)))
        .collect();
    (
        b.build(),
        Fields {
            source,
            key,
            seq,
            ts,
            text,
            keywords,
        },
    )
}

fn path<'a>(doc: &'a Value, p: &str) -> Option<&'a Value> {
    p.split('.').try_fold(doc, |v, part| v.get(part))
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl EventIndex {
    /// Opens (or creates) the index in `dir`.
    pub fn open(dir: &Path) -> Result<EventIndex> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Directory(e.to_string()))?;
        let (schema, fields) = schema();
        let d = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| Error::Directory(e.to_string()))?;
        let index = Index::open_or_create(d, schema)?;
        EventIndex::from_index(index, fields)
    }

    /// An in-memory index for tests.
    pub fn temporary() -> Result<EventIndex> {
        let (schema, fields) = schema();
        EventIndex::from_index(Index::create_in_ram(schema), fields)
    }

    fn from_index(index: Index, fields: Fields) -> Result<EventIndex> {
        let writer = index.writer_with_num_threads(1, 32 << 20)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        let top = searcher.search(
            &AllQuery,
            &TopDocs::with_limit(1).order_by_fast_field::<u64>("_seq", Order::Desc),
        )?;
        let next = top.first().and_then(|(s, _)| *s).map_or(0, |s| s + 1);
        Ok(EventIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            next_seq: AtomicU64::new(next),
        })
    }

    /// Adds documents; each gets `@timestamp` (now, when missing) and an
    /// `_id`. Visible after the next [`commit`](Self::commit).
    pub fn append(&self, docs: Vec<Value>, now_ms: i64) -> Result<()> {
        self.append_keyed(docs.into_iter().map(|d| (None, d)).collect(), now_ms)
    }

    /// As [`append`](Self::append), each document with an optional key
    /// that [`contains_key`](Self::contains_key) can find later.
    pub fn append_keyed(&self, docs: Vec<(Option<String>, Value)>, now_ms: i64) -> Result<()> {
        let writer = self.writer.lock();
        for (key, mut doc) in docs {
            let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            let ts = doc
                .get("@timestamp")
                .and_then(Value::as_str)
                .and_then(parse_millis)
                .unwrap_or(now_ms);
            if let Value::Object(m) = &mut doc {
                m.entry("@timestamp")
                    .or_insert_with(|| Value::String(format_millis(ts)));
                m.entry("_id")
                    .or_insert_with(|| Value::String(format!("{seq:016x}")));
            }
            let mut t = TantivyDocument::default();
            t.add_u64(self.fields.seq, seq);
            t.add_i64(self.fields.ts, ts);
            if let Some(text) = path(&doc, "message.text").and_then(Value::as_str) {
                t.add_text(self.fields.text, text);
            }
            for (p, f) in &self.fields.keywords {
                if let Some(v) = path(&doc, p).and_then(scalar) {
                    t.add_text(*f, v);
                }
            }
            if let Some(k) = key {
                t.add_text(self.fields.key, k);
            }
            t.add_text(self.fields.source, doc.to_string());
            writer.add_document(t)?;
        }
        Ok(())
    }

    /// Makes everything appended so far durable and searchable.
    pub fn commit(&self) -> Result<()> {
        self.writer.lock().commit()?;
        self.reader.reload()?;
        Ok(())
    }

    fn keyword(&self, p: &str) -> Option<Field> {
        self.fields
            .keywords
            .iter()
            .find(|(k, _)| *k == p)
            .map(|(_, f)| *f)
    }

    /// Matching documents (the page) and the total match count.
    pub fn search(&self, q: &EventQuery) -> Result<(usize, Vec<Value>)> {
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        // (filter, negated) pairs on paths that are not indexed.
        let mut post: Vec<(&(String, Vec<String>), bool)> = Vec::new();
        let filters = q.terms.iter().map(|t| (t, false));
        for (t, negated) in filters.chain(q.exclude.iter().map(|t| (t, true))) {
            match self.keyword(&t.0) {
                Some(f) => {
                    let any: Vec<(Occur, Box<dyn Query>)> =
                        t.1.iter()
                            .map(|v| {
                                (
                                    Occur::Should,
                                    Box::new(TermQuery::new(
                                        Term::from_field_text(f, v),
                                        IndexRecordOption::Basic,
                                    )) as Box<dyn Query>,
                                )
                            })
                            .collect();
                    let occur = if negated { Occur::MustNot } else { Occur::Must };
                    must.push((occur, Box::new(BooleanQuery::new(any))));
                }
                None => post.push((t, negated)),
            }
        }
        for w in &q.words {
            for token in w
                .split(|c: char| !c.is_alphanumeric())
                .filter(|s| !s.is_empty())
            {
                let term = Term::from_field_text(self.fields.text, &token.to_lowercase());
                must.push((
                    Occur::Must,
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                ));
            }
        }
        if q.from_ms.is_some() || q.to_ms.is_some() {
            let bound = |v: Option<i64>| {
                v.map_or(std::ops::Bound::Unbounded, |x| {
                    std::ops::Bound::Included(Term::from_field_i64(self.fields.ts, x))
                })
            };
            must.push((
                Occur::Must,
                Box::new(RangeQuery::new(bound(q.from_ms), bound(q.to_ms))),
            ));
        }
        let query: Box<dyn Query> = if must.is_empty() {
            Box::new(AllQuery)
        } else {
            // A boolean query of only exclusions matches nothing in tantivy.
            if must.iter().all(|(o, _)| *o == Occur::MustNot) {
                must.push((Occur::Must, Box::new(AllQuery)));
            }
            Box::new(BooleanQuery::new(must))
        };
        let searcher = self.reader.searcher();
        let order = if q.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        let size = q.size.min(MAX_PAGE);
        let load = |addr| -> Result<Value> {
            let d: TantivyDocument = searcher.doc(addr)?;
            let text = d
                .get_first(self.fields.source)
                .and_then(|v| v.as_str())
                .unwrap_or("{}");
            Ok(serde_json::from_str(text).unwrap_or(Value::Object(Map::new())))
        };
        if post.is_empty() {
            let total = searcher.search(&query, &Count)?;
            if size == 0 {
                return Ok((total, Vec::new()));
            }
            let top = searcher.search(
                &query,
                &TopDocs::for_doc_range(q.offset..q.offset + size)
                    .order_by_fast_field::<u64>("_seq", order),
            )?;
            let docs = top
                .into_iter()
                .map(|(_, a)| load(a))
                .collect::<Result<_>>()?;
            return Ok((total, docs));
        }
        // Filters on paths that are not indexed: check the stored documents.
        let all = searcher.search(
            &query,
            &TopDocs::with_limit(MAX_PAGE * 10).order_by_fast_field::<u64>("_seq", order),
        )?;
        let mut matched = Vec::new();
        for (_, a) in all {
            let doc = load(a)?;
            if post.iter().all(|((p, any), negated)| {
                let hit = path(&doc, p)
                    .and_then(scalar)
                    .is_some_and(|v| any.contains(&v));
                hit != *negated
            }) {
                matched.push(doc);
            }
        }
        let total = matched.len();
        Ok((
            total,
            matched.into_iter().skip(q.offset).take(size).collect(),
        ))
    }

    /// Whether a committed document carries `key`.
    pub fn contains_key(&self, key: &str) -> Result<bool> {
        let q = TermQuery::new(
            Term::from_field_text(self.fields.key, key),
            IndexRecordOption::Basic,
        );
        Ok(self.reader.searcher().search(&q, &Count)? > 0)
    }

    /// Documents in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn index(&self) -> &Index {
        &self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(exec: &str, kind: &str, text: &str, ts: &str) -> Value {
        json!({"type": kind, "event_type": "task_succeeded", "message": {"text": text}, "context": {"execution_id": exec, "deployment_id": "d1", "extra": exec}, "@timestamp": ts})
    }

    #[test]
    fn filters_text_ranges_order_and_pages() {
        let idx = EventIndex::temporary().unwrap();
        let mut docs = Vec::new();
        for i in 0..30 {
            let exec = if i % 3 == 0 { "e1" } else { "e2" };
            let kind = if i % 2 == 0 {
                "cloudify_event"
            } else {
                "cloudify_log"
            };
            docs.push(event(
                exec,
                kind,
                &format!("Task {i} succeeded on vm_{i}"),
                &format!("2015-12-07T14:03:{:02}.000Z", i),
            ));
        }
        idx.append(docs, 0).unwrap();
        idx.commit().unwrap();
        let q = |terms: Vec<(&str, Vec<&str>)>| EventQuery {
            terms: terms
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
                .collect(),
            size: 100,
            ..EventQuery::default()
        };
        assert_eq!(
            idx.search(&q(vec![("context.execution_id", vec!["e1"])]))
                .unwrap()
                .0,
            10
        );
        let (n, page) = idx
            .search(&q(vec![
                ("context.execution_id", vec!["e1"]),
                ("type", vec!["cloudify_event", "nope"]),
            ]))
            .unwrap();
        assert_eq!(n, 5);
        let secs: Vec<&str> = page
            .iter()
            .map(|d| d["@timestamp"].as_str().unwrap())
            .collect();
        assert!(secs.windows(2).all(|w| w[0] < w[1]), "time order: {secs:?}");
        let mut desc = q(vec![]);
        desc.descending = true;
        desc.offset = 1;
        desc.size = 2;
        let (n, page) = idx.search(&desc).unwrap();
        assert_eq!(
            (n, page[0]["message"]["text"].as_str()),
            (30, Some("Task 28 succeeded on vm_28"))
        );
        let mut text = q(vec![]);
        text.words = vec!["vm_7".into()];
        assert_eq!(idx.search(&text).unwrap().0, 1);
        let mut range = q(vec![]);
        range.from_ms = parse_millis("2015-12-07T14:03:10Z");
        range.to_ms = parse_millis("2015-12-07T14:03:19.999Z");
        assert_eq!(idx.search(&range).unwrap().0, 10);
        assert_eq!(
            idx.search(&q(vec![("context.extra", vec!["e1"])]))
                .unwrap()
                .0,
            10,
            "unindexed path"
        );
        let mut not_e1 = q(vec![]);
        not_e1.exclude = vec![("context.execution_id".into(), vec!["e1".into()])];
        assert_eq!(idx.search(&not_e1).unwrap().0, 20, "exclusion only");
        not_e1.terms = vec![("type".into(), vec!["cloudify_event".into()])];
        assert_eq!(idx.search(&not_e1).unwrap().0, 10, "filter and exclusion");
        let mut not_extra = q(vec![]);
        not_extra.exclude = vec![("context.extra".into(), vec!["e2".into()])];
        assert_eq!(idx.search(&not_extra).unwrap().0, 10, "unindexed exclusion");
    }

    #[test]
    fn committed_events_survive_reopen_and_order_continues() {
        let dir = tempfile::tempdir().unwrap();
        {
            let idx = EventIndex::open(dir.path()).unwrap();
            idx.append(
                vec![event("e", "cloudify_event", "one", "2015-01-01T00:00:00Z")],
                0,
            )
            .unwrap();
            idx.commit().unwrap();
            idx.append(
                vec![event("e", "cloudify_event", "lost", "2015-01-01T00:00:01Z")],
                0,
            )
            .unwrap();
        }
        let idx = EventIndex::open(dir.path()).unwrap();
        assert_eq!(idx.len(), 1, "uncommitted documents are not there");
        idx.append(
            vec![event("e", "cloudify_event", "two", "2014-01-01T00:00:00Z")],
            0,
        )
        .unwrap();
        idx.commit().unwrap();
        let (_, page) = idx
            .search(&EventQuery {
                size: 10,
                ..EventQuery::default()
            })
            .unwrap();
        let texts: Vec<&str> = page
            .iter()
            .map(|d| d["message"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            texts,
            vec!["one", "two"],
            "ingestion order, not document time"
        );
    }
}
