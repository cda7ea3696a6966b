//! One event index on tantivy: JSON documents stored whole, known keyword
//! paths indexed raw and fast (sort, aggregations), the message text
//! tokenized, `@timestamp` as a millisecond date and an ingestion sequence
//! for order.
//!
//! Writes are buffered by the tantivy writer and become visible at
//! [`EventIndex::commit`]; callers acknowledge their sources only after the
//! commit that contains them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde_json::{Map, Value};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::{AggContextParams, AggregationCollector, AggregationLimitsGuard};
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::indexer::LogMergePolicy;
use tantivy::query::{AllQuery, Query as TQuery, RangeQuery, TermQuery, TermSetQuery};
use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT,
    Value as _,
};
use tantivy::{
    DateTime, DocAddress, DocId, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Score,
    Searcher, SegmentReader, TantivyDocument, Term,
};

use crate::aggs;
use crate::eval::{self, Doc, keyword, values_at};
use crate::query::{FieldKind, KEYWORDS, Query, Search, Sort, TIME_FIELD, field_kind};
use crate::sort::{Rank, SortValue, cursor, effective};
use crate::translate::{self, Fields};
use crate::{Error, Result, format_millis, parse_millis};

/// Most documents one search may return.
pub const MAX_PAGE: usize = 10_000;
/// Most candidate documents the evaluator checks for one search (queries
/// on paths the index does not hold).
pub const MAX_SCAN: usize = 500_000;

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub seq: u64,
    /// The relevance score when sorting by it.
    pub score: Option<f32>,
    /// The sort values (ES's `sort` array), when a sort was requested.
    pub sort: Vec<Value>,
    pub source: Value,
    /// Times the document was written under its id.
    pub version: u64,
    /// Where it ranks under the search's sort (for merging indices).
    pub rank: Rank,
}

/// The answer to a search.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub total: usize,
    pub hits: Vec<Hit>,
    /// ES-shaped aggregation results, when requested.
    pub aggs: Option<Value>,
}

pub struct EventIndex {
    index: Index,
    dir: Option<PathBuf>,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    next_seq: AtomicU64,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let source = b.add_text_field("_source", STORED);
    let seq = b.add_u64_field("_seq", INDEXED | FAST | STORED);
    let version = b.add_u64_field("_version", STORED);
    let ts = b.add_date_field(
        TIME_FIELD,
        DateOptions::default()
            .set_indexed()
            .set_fast()
            .set_precision(DateTimePrecision::Milliseconds),
    );
    let text = b.add_text_field("message.text", TEXT);
    let key = b.add_text_field("_key", STRING);
    let keywords = KEYWORDS
        .iter()
        .map(|k| {
            let opts = if *k == "_id" {
                STRING | FAST | STORED
            } else {
                STRING | FAST
            };
            (*k, b.add_text_field(k, opts))
        })
        .collect();
    (
        b.build(),
        Fields {
            source,
            version,
            key,
            seq,
            ts,
            text,
            keywords,
        },
    )
}

/// A sort key read from fast fields, per segment.
enum Accessor {
    Score,
    Seq(std::sync::Arc<dyn tantivy::columnar::ColumnValues<u64>>),
    Time(tantivy::columnar::Column<tantivy::DateTime>),
    Str(tantivy::columnar::StrColumn, bool),
    Missing,
}

impl Accessor {
    fn open(seg: &SegmentReader, s: &Sort) -> Accessor {
        let ff = seg.fast_fields();
        let opened = match s.field.as_str() {
            "_score" => return Accessor::Score,
            "_doc" => ff
                .u64("_seq")
                .ok()
                .map(|c| Accessor::Seq(c.first_or_default_col(0))),
            TIME_FIELD => ff.date(TIME_FIELD).ok().map(Accessor::Time),
            name => ff
                .str(name)
                .ok()
                .flatten()
                .map(|c| Accessor::Str(c, s.descending)),
        };
        opened.unwrap_or(Accessor::Missing)
    }

    fn value(&self, doc: DocId, score: Score) -> SortValue {
        match self {
            Accessor::Score => SortValue::Num(f64::from(score)),
            Accessor::Seq(c) => SortValue::Num(c.get_val(doc) as f64),
            Accessor::Time(c) => c.first(doc).map_or(SortValue::Missing, |d| {
                SortValue::Num(d.into_timestamp_millis() as f64)
            }),
            Accessor::Str(c, descending) => {
                let ord = if *descending {
                    c.term_ords(doc).last()
                } else {
                    c.term_ords(doc).next()
                };
                let mut s = String::new();
                match ord.map(|o| c.ord_to_str(o, &mut s)) {
                    Some(Ok(true)) => SortValue::Str(s),
                    _ => SortValue::Missing,
                }
            }
            Accessor::Missing => SortValue::Missing,
        }
    }
}

/// `extra` (members ending in a comma) inserted at the start of the JSON
/// object `text`.
fn splice(text: &str, extra: &str) -> String {
    if extra.is_empty() {
        return text.to_owned();
    }
    let open = text.find('{').map_or(0, |i| i + 1);
    let rest = &text[open..];
    let extra = if rest.trim_start().starts_with('}') {
        extra.trim_end_matches(',')
    } else {
        extra
    };
    let mut out = String::with_capacity(text.len() + extra.len());
    out.push_str(&text[..open]);
    out.push_str(extra);
    out.push_str(rest);
    out
}

/// Whether the index can sort on `field` from fast fields.
fn fast_sortable(field: &str) -> bool {
    matches!(field, "_score" | "_doc")
        || matches!(field_kind(field), FieldKind::Time | FieldKind::Keyword)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl EventIndex {
    /// Opens (or creates) the index in `dir`.
    pub fn open(dir: &Path) -> Result<EventIndex> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Directory(e.to_string()))?;
        let (schema, fields) = schema();
        let d = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| Error::Directory(e.to_string()))?;
        let index = Index::open_or_create(d, schema)?;
        EventIndex::from_index(index, Some(dir.to_owned()), fields)
    }

    /// An in-memory index for tests.
    pub fn temporary() -> Result<EventIndex> {
        let (schema, fields) = schema();
        EventIndex::from_index(Index::create_in_ram(schema), None, fields)
    }

    fn from_index(index: Index, dir: Option<PathBuf>, fields: Fields) -> Result<EventIndex> {
        let writer: IndexWriter = index.writer_with_num_threads(1, 48 << 20)?;
        let mut policy = LogMergePolicy::default();
        policy.set_del_docs_ratio_before_merge(0.3);
        writer.set_merge_policy(Box::new(policy));
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
            dir,
            reader,
            writer: Mutex::new(writer),
            fields,
            next_seq: AtomicU64::new(next),
        })
    }

    /// Adds documents with generated ids. Visible after the next
    /// [`commit`](Self::commit).
    pub fn append(&self, docs: Vec<Value>, now_ms: i64) -> Result<()> {
        self.append_keyed(docs.into_iter().map(|d| (None, d)).collect(), now_ms)
    }

    /// As [`append`](Self::append), each document with an optional key
    /// that [`contains_key`](Self::contains_key) can find later.
    pub fn append_keyed(&self, docs: Vec<(Option<String>, Value)>, now_ms: i64) -> Result<()> {
        let writer = self.writer.lock();
        for (key, doc) in docs {
            self.add(&writer, None, key, doc, Some(now_ms), 1)?;
        }
        Ok(())
    }

    /// The time a document is indexed under: its `@timestamp`, else its
    /// `timestamp` (as Logstash parsed Cloudify's), else now. `None` when
    /// `@timestamp` is present but not a date.
    pub fn time_of(doc: &Value, now_ms: i64) -> Option<i64> {
        match doc.get(TIME_FIELD) {
            Some(Value::String(s)) => parse_millis(s),
            Some(Value::Number(n)) => n.as_i64(),
            Some(_) => None,
            None => Some(
                doc.get("timestamp")
                    .and_then(Value::as_str)
                    .and_then(parse_millis)
                    .unwrap_or(now_ms),
            ),
        }
    }

    fn add(
        &self,
        writer: &IndexWriter,
        id: Option<String>,
        key: Option<String>,
        mut doc: Value,
        now_ms: Option<i64>,
        version: u64,
    ) -> Result<String> {
        // Events get Logstash's `@timestamp`; other documents keep their
        // source as given and are timed only by their own `@timestamp`.
        let ts = match now_ms {
            Some(now) => {
                let ts = EventIndex::time_of(&doc, now).unwrap_or(now);
                if let Value::Object(m) = &mut doc {
                    m.insert(TIME_FIELD.into(), Value::String(format_millis(ts)));
                }
                Some(ts)
            }
            None => match doc.get(TIME_FIELD) {
                Some(Value::String(s)) => parse_millis(s),
                Some(Value::Number(n)) => n.as_i64(),
                _ => None,
            },
        };
        let source = doc.to_string();
        self.add_built(writer, id, key, &doc, source, ts, version)
    }

    #[allow(clippy::too_many_arguments)]
    fn add_built(
        &self,
        writer: &IndexWriter,
        id: Option<String>,
        key: Option<String>,
        doc: &Value,
        source: String,
        ts: Option<i64>,
        version: u64,
    ) -> Result<String> {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let id = id.unwrap_or_else(|| format!("{seq:016x}"));
        let mut t = TantivyDocument::default();
        t.add_u64(self.fields.seq, seq);
        t.add_u64(self.fields.version, version);
        if let Some(ts) = ts {
            t.add_date(self.fields.ts, DateTime::from_timestamp_millis(ts));
        }
        for v in values_at(doc, "message.text") {
            if let Some(text) = v.as_str() {
                t.add_text(self.fields.text, text);
            }
        }
        for (p, f) in &self.fields.keywords {
            if *p == "_id" {
                t.add_text(*f, &id);
                continue;
            }
            for v in values_at(doc, p) {
                match v {
                    Value::String(s) => t.add_text(*f, s),
                    other => {
                        if let Some(k) = keyword(other) {
                            t.add_text(*f, k);
                        }
                    }
                }
            }
        }
        if let Some(k) = key {
            t.add_text(self.fields.key, k);
        }
        t.add_text(self.fields.source, source);
        writer.add_document(t)?;
        Ok(id)
    }

    /// Adds events as message bodies (JSON objects), each with an optional
    /// key: Logstash's `@timestamp` and `@version` are spliced into the
    /// original text, which is stored as is. Returns how many bodies were
    /// not JSON objects (skipped).
    pub fn append_events(
        &self,
        events: Vec<(Option<String>, &[u8])>,
        now_ms: i64,
    ) -> Result<usize> {
        let writer = self.writer.lock();
        let mut skipped = 0;
        for (key, body) in events {
            let (Ok(text), Ok(doc)) = (
                std::str::from_utf8(body),
                serde_json::from_slice::<Value>(body),
            ) else {
                skipped += 1;
                continue;
            };
            let Value::Object(m) = &doc else {
                skipped += 1;
                continue;
            };
            let has_version = m.contains_key("@version");
            match (m.get(TIME_FIELD), EventIndex::time_of(&doc, now_ms)) {
                // A usable `@timestamp`, or none: splice what is missing.
                (given, Some(ts)) if given.is_none() || matches!(given, Some(Value::String(_))) => {
                    let mut extra = String::new();
                    if given.is_none() {
                        extra.push_str(&format!("\"{TIME_FIELD}\":\"{}\",", format_millis(ts)));
                    }
                    if !has_version {
                        extra.push_str("\"@version\":\"1\",");
                    }
                    let source = splice(text, &extra);
                    let mut doc = doc;
                    if let Value::Object(m) = &mut doc {
                        m.entry(TIME_FIELD)
                            .or_insert_with(|| Value::String(format_millis(ts)));
                    }
                    self.add_built(&writer, None, key, &doc, source, Some(ts), 1)?;
                }
                _ => {
                    let mut doc = doc;
                    if let Value::Object(m) = &mut doc {
                        m.entry("@version")
                            .or_insert_with(|| Value::String("1".into()));
                    }
                    self.add(&writer, None, key, doc, Some(now_ms), 1)?;
                }
            }
        }
        Ok(skipped)
    }

    /// Indexes a document under `id` (generated when `None`), replacing any
    /// committed document with that id. Returns the id and the document's
    /// new version (1 when it replaced none).
    pub fn put(&self, id: Option<String>, doc: Value) -> Result<(String, u64)> {
        let old = match &id {
            Some(i) => self.get(i)?.map_or(0, |h| h.version),
            None => 0,
        };
        let writer = self.writer.lock();
        if let (Some(i), Some(f)) = (&id, self.fields.keyword("_id")) {
            writer.delete_term(Term::from_field_text(f, i));
        }
        let id = self.add(&writer, id, None, doc, None, old + 1)?;
        Ok((id, old + 1))
    }

    /// Deletes the committed document `id`; whether there was one.
    pub fn delete_id(&self, id: &str) -> Result<bool> {
        let existed = self.get(id)?.is_some();
        if let Some(f) = self.fields.keyword("_id") {
            self.writer.lock().delete_term(Term::from_field_text(f, id));
        }
        Ok(existed)
    }

    /// Deletes every committed document matching `q`; how many.
    pub fn delete_matching(&self, q: &Query) -> Result<usize> {
        let seqs = self.matching_seqs(q)?;
        let writer = self.writer.lock();
        for s in &seqs {
            writer.delete_term(Term::from_field_u64(self.fields.seq, *s));
        }
        Ok(seqs.len())
    }

    fn matching_seqs(&self, q: &Query) -> Result<Vec<u64>> {
        let searcher = self.reader.searcher();
        if let Some(exact) = translate::exact(q, &self.fields) {
            let docs = searcher.search(&exact, &DocSetCollector)?;
            return docs
                .into_iter()
                .map(|a| self.load(&searcher, a).map(|(d, _)| d.seq))
                .collect();
        }
        let s = Search {
            query: q.clone(),
            sort: vec![Sort {
                field: "_doc".into(),
                descending: false,
            }],
            ..Search::default()
        };
        Ok(self
            .evaluate(&searcher, &s)?
            .into_iter()
            .map(|(r, _)| r.seq)
            .collect())
    }

    /// The committed document `id`.
    pub fn get(&self, id: &str) -> Result<Option<Hit>> {
        let Some(f) = self.fields.keyword("_id") else {
            return Ok(None);
        };
        let searcher = self.reader.searcher();
        let q = TermQuery::new(Term::from_field_text(f, id), IndexRecordOption::Basic);
        let top = searcher.search(&q, &TopDocs::with_limit(1).order_by_score())?;
        top.first()
            .map(|(_, a)| {
                self.load(&searcher, *a).map(|(d, version)| Hit {
                    rank: Rank {
                        keys: Vec::new(),
                        descending: Vec::new(),
                        seq: d.seq,
                    },
                    id: d.id,
                    seq: d.seq,
                    score: None,
                    sort: Vec::new(),
                    source: d.source,
                    version,
                })
            })
            .transpose()
    }

    /// Makes everything written so far durable and searchable.
    pub fn commit(&self) -> Result<()> {
        self.writer.lock().commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// A stored document and its version.
    fn load(&self, searcher: &Searcher, a: DocAddress) -> Result<(Doc, u64)> {
        let d: TantivyDocument = searcher.doc(a)?;
        let text = d
            .get_first(self.fields.source)
            .and_then(|v| v.as_str())
            .unwrap_or("{}");
        let id = self
            .fields
            .keyword("_id")
            .and_then(|f| d.get_first(f))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let seq = d
            .get_first(self.fields.seq)
            .and_then(|v| v.as_u64())
            .unwrap_or_default();
        let version = d
            .get_first(self.fields.version)
            .and_then(|v| v.as_u64())
            .unwrap_or(1);
        Ok((
            Doc {
                id,
                seq,
                source: serde_json::from_str(text).unwrap_or(Value::Object(Map::new())),
            },
            version,
        ))
    }

    /// Runs a search: from tantivy alone when the query and sort only use
    /// indexed paths, otherwise checking candidates with the evaluator.
    pub fn search(&self, s: &Search) -> Result<Found> {
        let searcher = self.reader.searcher();
        let sort = effective(&s.sort);
        let exact = translate::exact(&s.query, &self.fields);
        let (total, ranked, seqs) = match exact {
            Some(q) if sort.iter().all(|k| fast_sortable(&k.field)) => {
                let total = searcher.search(&q, &Count)?;
                let ranked = self.top(&searcher, &q, s, &sort)?;
                (total, ranked, None)
            }
            _ => {
                let matched = self.evaluate(&searcher, s)?;
                let seqs: Vec<u64> = matched.iter().map(|(r, _)| r.seq).collect();
                let after = s.search_after.as_ref().map(|a| cursor(&sort, a));
                let page = matched
                    .into_iter()
                    .filter(|(r, _)| after.as_ref().is_none_or(|c| r.is_after(c)))
                    .skip(s.from)
                    .take(s.size.min(MAX_PAGE))
                    .collect();
                (seqs.len(), page, Some(seqs))
            }
        };
        let mut hits = Vec::with_capacity(ranked.len());
        for (rank, addr) in ranked {
            let (d, version) = self.load(&searcher, addr)?;
            let score = sort.iter().position(|k| k.field == "_score").and_then(|i| {
                match rank.keys.get(i) {
                    Some(SortValue::Num(n)) => Some(*n as f32),
                    _ => None,
                }
            });
            hits.push(Hit {
                id: d.id,
                seq: d.seq,
                score,
                sort: if s.sort.is_empty() {
                    Vec::new()
                } else {
                    rank.keys.iter().map(SortValue::to_json).collect()
                },
                source: d.source,
                version,
                rank,
            });
        }
        let aggs = match &s.aggs {
            None => None,
            Some(req) => {
                let matched: Box<dyn TQuery> = match seqs {
                    None => translate::exact(&s.query, &self.fields)
                        .unwrap_or_else(|| Box::new(AllQuery)),
                    Some(seqs) => Box::new(TermSetQuery::new(
                        seqs.into_iter()
                            .map(|s| Term::from_field_u64(self.fields.seq, s)),
                    )),
                };
                Some(if aggs::all_fast(req) {
                    self.aggregate(&searcher, &*matched, req)?
                } else {
                    self.aggregate_stored(&searcher, &*matched, req)?
                })
            }
        };
        Ok(Found { total, hits, aggs })
    }

    /// The page of an exact query, ranked from fast fields.
    fn top(
        &self,
        searcher: &Searcher,
        q: &dyn TQuery,
        s: &Search,
        sort: &[Sort],
    ) -> Result<Vec<(Rank, DocAddress)>> {
        let size = s.size.min(MAX_PAGE);
        if size == 0 {
            return Ok(Vec::new());
        }
        let sort = sort.to_vec();
        let after = s.search_after.as_ref().map(|a| cursor(&sort, a));
        let collector =
            TopDocs::with_limit(size)
                .and_offset(s.from)
                .tweak_score(move |seg: &SegmentReader| {
                    let keys: Vec<Accessor> = sort.iter().map(|k| Accessor::open(seg, k)).collect();
                    let descending: Vec<bool> = sort.iter().map(|k| k.descending).collect();
                    let seqs = seg
                        .fast_fields()
                        .u64("_seq")
                        .ok()
                        .map(|c| c.first_or_default_col(0));
                    let after = after.clone();
                    move |doc: DocId, score: Score| {
                        let rank = Rank {
                            keys: keys.iter().map(|k| k.value(doc, score)).collect(),
                            descending: descending.clone(),
                            seq: seqs.as_ref().map_or(0, |c| c.get_val(doc)),
                        };
                        let eligible = after.as_ref().is_none_or(|c| rank.is_after(c));
                        (eligible, rank)
                    }
                });
        let top = searcher.search(q, &collector)?;
        Ok(top
            .into_iter()
            .filter(|((eligible, _), _)| *eligible)
            .map(|((_, rank), a)| (rank, a))
            .collect())
    }

    /// Every match of the search, ranked, by checking candidates with the
    /// evaluator.
    fn evaluate(&self, searcher: &Searcher, s: &Search) -> Result<Vec<(Rank, DocAddress)>> {
        let candidates = translate::candidates(&s.query, &self.fields);
        let n = searcher.search(&candidates, &Count)?;
        if n > MAX_SCAN {
            return Err(Error::Query(format!(
                "this query must check {n} stored documents (more than {MAX_SCAN}) because it filters or sorts on paths the index does not hold; add a filter on an indexed field ({}) or a time range",
                KEYWORDS.join(", ")
            )));
        }
        let mut addrs: Vec<DocAddress> = searcher
            .search(&candidates, &DocSetCollector)?
            .into_iter()
            .collect();
        addrs.sort();
        let mut matched = Vec::new();
        for a in addrs {
            let (d, _) = self.load(searcher, a)?;
            if eval::matches(&s.query, &d) {
                matched.push((eval::rank(&d, s, 1.0), a));
            }
        }
        matched.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        Ok(matched)
    }

    /// Aggregations over stored documents (fields without fast columns).
    fn aggregate_stored(&self, searcher: &Searcher, q: &dyn TQuery, req: &Value) -> Result<Value> {
        let n = searcher.search(q, &Count)?;
        if n > MAX_SCAN {
            return Err(Error::Query(format!(
                "aggregating {n} documents on paths the index does not hold (more than {MAX_SCAN}); narrow the query or aggregate on an indexed field ({})",
                KEYWORDS.join(", ")
            )));
        }
        let docs = searcher
            .search(q, &DocSetCollector)?
            .into_iter()
            .map(|a| self.load(searcher, a).map(|(d, _)| d))
            .collect::<Result<Vec<Doc>>>()?;
        aggs::compute(req, &docs.iter().collect::<Vec<_>>())
    }

    fn aggregate(&self, searcher: &Searcher, q: &dyn TQuery, req: &Value) -> Result<Value> {
        let aggs: Aggregations = serde_json::from_value(req.clone())
            .map_err(|e| Error::Query(format!("aggregations: {e}")))?;
        let collector = AggregationCollector::from_aggs(
            aggs,
            AggContextParams::new(
                AggregationLimitsGuard::new(Some(200_000_000), Some(65_000)),
                self.index.tokenizers().clone(),
            ),
        );
        let result = searcher
            .search(q, &collector)
            .map_err(|e| Error::Query(format!("aggregations: {e}")))?;
        serde_json::to_value(result).map_err(|e| Error::Query(format!("aggregations: {e}")))
    }

    /// Deletes documents older than `max_age_ms` and, when the index holds
    /// more than `max_bytes` on disk, the oldest share of documents over
    /// the limit. Returns how many were deleted (committed).
    pub fn retain(&self, max_age_ms: Option<i64>, max_bytes: Option<u64>) -> Result<u64> {
        let searcher = self.reader.searcher();
        let mut deleted = 0u64;
        if let Some(age) = max_age_ms {
            let cutoff = now_ms() - age;
            let q = RangeQuery::new(
                std::ops::Bound::Unbounded,
                std::ops::Bound::Excluded(Term::from_field_date(
                    self.fields.ts,
                    DateTime::from_timestamp_millis(cutoff),
                )),
            );
            let n = searcher.search(&q, &Count)?;
            if n > 0 {
                self.writer.lock().delete_query(Box::new(q))?;
                deleted += n as u64;
            }
        }
        if let (Some(max), Some(bytes)) = (max_bytes, self.disk_bytes()) {
            let docs = searcher.num_docs().saturating_sub(deleted);
            if bytes > max && docs > 0 {
                let share = (bytes - max) as f64 / bytes as f64;
                let n = ((docs as f64 * share).ceil() as usize).clamp(1, docs as usize);
                let oldest = searcher.search(
                    &AllQuery,
                    &TopDocs::with_limit(1)
                        .and_offset(n - 1)
                        .order_by_fast_field::<u64>("_seq", Order::Asc),
                )?;
                if let Some((Some(last), _)) = oldest.first() {
                    let q = RangeQuery::new(
                        std::ops::Bound::Unbounded,
                        std::ops::Bound::Included(Term::from_field_u64(self.fields.seq, *last)),
                    );
                    self.writer.lock().delete_query(Box::new(q))?;
                    deleted += n as u64;
                }
            }
        }
        if deleted > 0 {
            self.commit()?;
        }
        Ok(deleted)
    }

    /// Bytes the index's files take on disk (`None` in memory).
    pub fn disk_bytes(&self) -> Option<u64> {
        let dir = self.dir.as_ref()?;
        let entries = std::fs::read_dir(dir).ok()?;
        Some(
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum(),
        )
    }

    /// Whether a committed document carries `key`.
    pub fn contains_key(&self, key: &str) -> Result<bool> {
        let q = TermQuery::new(
            Term::from_field_text(self.fields.key, key),
            IndexRecordOption::Basic,
        );
        Ok(self.reader.searcher().search(&q, &Count)? > 0)
    }

    /// The highest sequence number committed, if any document is.
    pub fn last_seq(&self) -> Result<Option<u64>> {
        let top = self.reader.searcher().search(
            &AllQuery,
            &TopDocs::with_limit(1).order_by_fast_field::<u64>("_seq", Order::Desc),
        )?;
        Ok(top.first().and_then(|(s, _)| *s))
    }

    /// Committed documents in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
