//! The store itself: one sled tree holding documents and index entries, so
//! that every write batch is a single sled transaction.
//!
//! Keys: `d\0<collection>\0<id>` → `version u64 BE | JSON`;
//! `i\0<collection>\0<field>\0<value JSON>\0<id>` → empty.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use serde_json::{Map, Value};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use crate::error::{Error, Result};
use crate::query::{self, Query};

/// A collection and the fields it keeps secondary indexes on.
#[derive(Debug, Clone)]
pub struct CollectionSpec {
    pub name: String,
    pub indexes: Vec<String>,
}

impl CollectionSpec {
    pub fn new(name: &str, indexes: &[&str]) -> Self {
        CollectionSpec {
            name: name.to_owned(),
            indexes: indexes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// Where the store lives and how hard it flushes.
#[derive(Debug, Clone)]
pub struct Config {
    /// `None` keeps everything in a temporary directory removed on drop.
    pub path: Option<PathBuf>,
    /// fsync after every write batch, so that a write that returned `Ok`
    /// survives `kill -9` and power loss. Off only for tests and benches.
    pub flush_every_write: bool,
}

impl Config {
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Config {
            path: Some(path.into()),
            flush_every_write: true,
        }
    }

    pub fn temporary() -> Self {
        Config {
            path: None,
            flush_every_write: false,
        }
    }
}

/// A document with its id and version.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    pub id: String,
    pub version: u64,
    pub doc: Value,
}

/// One step of an atomic batch.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Fails with `AlreadyExists` if the id is taken.
    Insert {
        collection: String,
        id: String,
        doc: Value,
    },
    /// Whole-document replace; `expected` version checked when `Some`.
    Replace {
        collection: String,
        id: String,
        doc: Value,
        expected: Option<u64>,
    },
    /// Top-level fields of `patch` replace the document's.
    Update {
        collection: String,
        id: String,
        patch: Map<String, Value>,
        expected: Option<u64>,
    },
    Delete {
        collection: String,
        id: String,
        expected: Option<u64>,
    },
}

/// A page of `list` results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Versioned>,
    /// Matches before offset and size were applied.
    pub total: usize,
    /// Pass as `Query::after` to get the next page; `None` at the end.
    pub next: Option<String>,
}

pub struct Store {
    db: sled::Db,
    specs: HashMap<String, CollectionSpec>,
    flush: bool,
}

fn doc_key(collection: &str, id: &str) -> Vec<u8> {
    [b"d\0", collection.as_bytes(), b"\0", id.as_bytes()].concat()
}

fn doc_prefix(collection: &str) -> Vec<u8> {
    [b"d\0", collection.as_bytes(), b"\0"].concat()
}

fn index_prefix(collection: &str, field: &str, value: &Value) -> Vec<u8> {
    [
        b"i\0",
        collection.as_bytes(),
        b"\0",
        field.as_bytes(),
        b"\0",
        value.to_string().as_bytes(),
        b"\0",
    ]
    .concat()
}

fn encode(version: u64, doc: &Value) -> Vec<u8> {
    let mut out = version.to_be_bytes().to_vec();
    // Serialising a Value cannot fail.
    out.extend(serde_json::to_vec(doc).unwrap_or_default());
    out
}

fn decode(key: &[u8], raw: &[u8]) -> Result<(u64, Value)> {
    let corrupt = |reason: String| Error::Corrupt {
        key: String::from_utf8_lossy(key).replace('\0', "/"),
        reason,
    };
    if raw.len() < 8 {
        return Err(corrupt("shorter than its version".into()));
    }
    let mut v = [0u8; 8];
    v.copy_from_slice(&raw[..8]);
    let doc = serde_json::from_slice(&raw[8..]).map_err(|e| corrupt(e.to_string()))?;
    Ok((u64::from_be_bytes(v), doc))
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.contains('\0') {
        return Err(Error::BadId(id.to_owned()));
    }
    Ok(())
}

impl Store {
    pub fn open(config: Config, collections: &[CollectionSpec]) -> Result<Store> {
        let db = match &config.path {
            Some(p) => sled::Config::new().path(p).open()?,
            None => sled::Config::new().temporary(true).open()?,
        };
        let specs = collections
            .iter()
            .map(|c| (c.name.clone(), c.clone()))
            .collect();
        Ok(Store {
            db,
            specs,
            flush: config.flush_every_write,
        })
    }

    fn spec(&self, collection: &str) -> Result<&CollectionSpec> {
        self.specs
            .get(collection)
            .ok_or_else(|| Error::UnknownCollection(collection.to_owned()))
    }

    pub fn get(&self, collection: &str, id: &str) -> Result<Option<Versioned>> {
        self.spec(collection)?;
        let key = doc_key(collection, id);
        match self.db.get(&key)? {
            None => Ok(None),
            Some(raw) => {
                let (version, doc) = decode(&key, &raw)?;
                Ok(Some(Versioned {
                    id: id.to_owned(),
                    version,
                    doc,
                }))
            }
        }
    }

    pub fn insert(&self, collection: &str, id: &str, doc: Value) -> Result<Versioned> {
        self.one(WriteOp::Insert {
            collection: collection.into(),
            id: id.into(),
            doc,
        })
    }

    pub fn replace(
        &self,
        collection: &str,
        id: &str,
        doc: Value,
        expected: Option<u64>,
    ) -> Result<Versioned> {
        self.one(WriteOp::Replace {
            collection: collection.into(),
            id: id.into(),
            doc,
            expected,
        })
    }

    pub fn update(
        &self,
        collection: &str,
        id: &str,
        patch: Map<String, Value>,
        expected: Option<u64>,
    ) -> Result<Versioned> {
        self.one(WriteOp::Update {
            collection: collection.into(),
            id: id.into(),
            patch,
            expected,
        })
    }

    /// Like [`Store::update`], but not fsynced on its own: the write
    /// becomes durable with the next flushed write (or [`Store::flush`]).
    /// For progress a crash may lose, such as a running workflow's
    /// node-instance states (cfyd fails unfinished executions at restart).
    pub fn update_deferred(
        &self,
        collection: &str,
        id: &str,
        patch: Map<String, Value>,
        expected: Option<u64>,
    ) -> Result<Versioned> {
        let op = WriteOp::Update {
            collection: collection.into(),
            id: id.into(),
            patch,
            expected,
        };
        let mut out = self.write_with(vec![op], false)?;
        out.pop()
            .ok_or_else(|| Error::Import("empty batch result".into()))
    }

    /// Returns the deleted document.
    pub fn delete(&self, collection: &str, id: &str, expected: Option<u64>) -> Result<Versioned> {
        self.one(WriteOp::Delete {
            collection: collection.into(),
            id: id.into(),
            expected,
        })
    }

    fn one(&self, op: WriteOp) -> Result<Versioned> {
        let mut out = self.write(vec![op])?;
        out.pop()
            .ok_or_else(|| Error::Import("empty batch result".into()))
    }

    /// Applies every op or none; returns each op's resulting document (the
    /// old one for deletes).
    pub fn write(&self, ops: Vec<WriteOp>) -> Result<Vec<Versioned>> {
        self.write_with(ops, self.flush)
    }

    fn write_with(&self, ops: Vec<WriteOp>, flush: bool) -> Result<Vec<Versioned>> {
        for op in &ops {
            let (c, id) = match op {
                WriteOp::Insert { collection, id, .. }
                | WriteOp::Replace { collection, id, .. }
                | WriteOp::Update { collection, id, .. }
                | WriteOp::Delete { collection, id, .. } => (collection, id),
            };
            self.spec(c)?;
            check_id(id)?;
        }
        let result = self.db.transaction(|tx| {
            let mut out = Vec::with_capacity(ops.len());
            for op in &ops {
                out.push(self.apply(tx, op)?);
            }
            Ok(out)
        });
        let out = match result {
            Ok(out) => out,
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(Error::Storage(e)),
        };
        if flush {
            self.db.flush()?;
        }
        Ok(out)
    }

    fn apply(
        &self,
        tx: &TransactionalTree,
        op: &WriteOp,
    ) -> std::result::Result<Versioned, Abortable> {
        let (collection, id) = match op {
            WriteOp::Insert { collection, id, .. }
            | WriteOp::Replace { collection, id, .. }
            | WriteOp::Update { collection, id, .. }
            | WriteOp::Delete { collection, id, .. } => (collection.as_str(), id.as_str()),
        };
        let key = doc_key(collection, id);
        let old = match tx.get(&key)? {
            Some(raw) => Some(decode(&key, &raw).map_err(abort)?),
            None => None,
        };
        let not_found = || Error::NotFound {
            collection: collection.to_owned(),
            id: id.to_owned(),
        };
        let check = |expected: &Option<u64>, current: u64| match expected {
            Some(e) if *e != current => Err(Error::Conflict {
                collection: collection.to_owned(),
                id: id.to_owned(),
                current,
                expected: *e,
            }),
            _ => Ok(()),
        };
        let new_doc = match op {
            WriteOp::Insert { doc, .. } => {
                if old.is_some() {
                    return Err(abort(Error::AlreadyExists {
                        collection: collection.to_owned(),
                        id: id.to_owned(),
                    }));
                }
                Some(doc.clone())
            }
            WriteOp::Replace { doc, expected, .. } => {
                let (v, _) = old.as_ref().ok_or_else(not_found).map_err(abort)?;
                check(expected, *v).map_err(abort)?;
                Some(doc.clone())
            }
            WriteOp::Update {
                patch, expected, ..
            } => {
                let (v, current) = old.as_ref().ok_or_else(not_found).map_err(abort)?;
                check(expected, *v).map_err(abort)?;
                let mut merged = current
                    .as_object()
                    .cloned()
                    .ok_or(Error::NotAnObject)
                    .map_err(abort)?;
                for (k, val) in patch {
                    merged.insert(k.clone(), val.clone());
                }
                Some(Value::Object(merged))
            }
            WriteOp::Delete { expected, .. } => {
                let (v, _) = old.as_ref().ok_or_else(not_found).map_err(abort)?;
                check(expected, *v).map_err(abort)?;
                None
            }
        };
        if let Some(d) = &new_doc
            && !d.is_object()
        {
            return Err(abort(Error::NotAnObject));
        }
        let spec = self.spec(collection).map_err(abort)?;
        if let Some((_, old_doc)) = &old {
            for f in &spec.indexes {
                let v = query::field(old_doc, f).cloned().unwrap_or(Value::Null);
                let mut k = index_prefix(collection, f, &v);
                k.extend_from_slice(id.as_bytes());
                tx.remove(k)?;
            }
        }
        let version = old.as_ref().map_or(0, |(v, _)| *v) + 1;
        match new_doc {
            Some(doc) => {
                for f in &spec.indexes {
                    let v = query::field(&doc, f).cloned().unwrap_or(Value::Null);
                    let mut k = index_prefix(collection, f, &v);
                    k.extend_from_slice(id.as_bytes());
                    tx.insert(k, &[][..])?;
                }
                tx.insert(key, encode(version, &doc))?;
                Ok(Versioned {
                    id: id.to_owned(),
                    version,
                    doc,
                })
            }
            None => {
                tx.remove(key)?;
                let (v, doc) = old.ok_or_else(not_found).map_err(abort)?;
                Ok(Versioned {
                    id: id.to_owned(),
                    version: v,
                    doc,
                })
            }
        }
    }

    /// Filtered, sorted, paged, projected documents of a collection.
    pub fn list(&self, collection: &str, q: &Query) -> Result<Page> {
        let spec = self.spec(collection)?;
        if let Some(page) = self.list_by_index(collection, spec, q)? {
            return Ok(page);
        }
        // Use the first filter on an indexed field to pick candidates.
        let indexed = q.filters.iter().find(|f| spec.indexes.contains(&f.field));
        let mut items: Vec<(String, Value, u64)> = Vec::new();
        match indexed {
            Some(f) => {
                let mut ids = BTreeSet::new();
                for v in &f.any_of {
                    for value in index_values(v) {
                        let prefix = index_prefix(collection, &f.field, &value);
                        for entry in self.db.scan_prefix(&prefix) {
                            let (k, _) = entry?;
                            ids.insert(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
                        }
                    }
                }
                for id in ids {
                    if let Some(d) = self.get(collection, &id)? {
                        items.push((d.id, d.doc, d.version));
                    }
                }
            }
            None => {
                let prefix = doc_prefix(collection);
                for entry in self.db.scan_prefix(&prefix) {
                    let (k, raw) = entry?;
                    let (version, doc) = decode(&k, &raw)?;
                    items.push((
                        String::from_utf8_lossy(&k[prefix.len()..]).into_owned(),
                        doc,
                        version,
                    ));
                }
            }
        }
        items.retain(|(_, d, _)| query::matches(d, &q.filters));
        let versions: HashMap<String, u64> =
            items.iter().map(|(id, _, v)| (id.clone(), *v)).collect();
        let mut sorted: Vec<(String, Value)> =
            items.into_iter().map(|(id, d, _)| (id, d)).collect();
        query::sort(&mut sorted, &q.sort);
        let total = sorted.len();
        let start = match &q.after {
            Some(after) => sorted
                .iter()
                .position(|(id, _)| id == after)
                .map_or(total, |p| p + 1),
            None => 0,
        } + q.offset;
        let end = q.size.map_or(total, |s| start.saturating_add(s).min(total));
        let next = (end < total && end > start).then(|| sorted[end - 1].0.clone());
        let items = sorted
            .into_iter()
            .skip(start)
            .take(end.saturating_sub(start))
            .map(|(id, doc)| {
                let version = versions.get(&id).copied().unwrap_or(0);
                let doc = match &q.include {
                    Some(fields) => query::project(&doc, fields),
                    None => doc,
                };
                Versioned { id, version, doc }
            })
            .collect();
        Ok(Page { items, total, next })
    }

    /// The fast path for one equality filter on an indexed field in id
    /// order: count index keys, decode only the page. `None` when the query
    /// needs the general path.
    fn list_by_index(
        &self,
        collection: &str,
        spec: &CollectionSpec,
        q: &Query,
    ) -> Result<Option<Page>> {
        let [f] = q.filters.as_slice() else {
            return Ok(None);
        };
        if !q.sort.is_empty() || q.after.is_some() || !spec.indexes.contains(&f.field) {
            return Ok(None);
        }
        let [value] = f.any_of.as_slice() else {
            return Ok(None);
        };
        let [value] = index_values(value)
            .try_into()
            .unwrap_or_else(|v: Vec<Value>| [Value::Array(v)]);
        if value.is_array() {
            return Ok(None);
        }
        let prefix = index_prefix(collection, &f.field, &value);
        let mut total = 0;
        let mut ids = Vec::new();
        let end = q.size.map_or(usize::MAX, |s| q.offset.saturating_add(s));
        for entry in self.db.scan_prefix(&prefix).keys() {
            let k = entry?;
            if total >= q.offset && total < end {
                ids.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
            }
            total += 1;
        }
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(mut d) = self.get(collection, &id)? {
                if let Some(fields) = &q.include {
                    d.doc = query::project(&d.doc, fields);
                }
                items.push(d);
            }
        }
        let next = (end < total)
            .then(|| items.last().map(|d| d.id.clone()))
            .flatten();
        Ok(Some(Page { items, total, next }))
    }

    /// Makes every write so far durable (writes already are, when
    /// `flush_every_write` is on).
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = Result<(String, String, u64, Value)>> + '_ {
        self.db.scan_prefix(b"d\0").map(|entry| {
            let (k, raw) = entry?;
            let (version, doc) = decode(&k, &raw)?;
            let rest = &k[2..];
            let split = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            let collection = String::from_utf8_lossy(&rest[..split]).into_owned();
            let id =
                String::from_utf8_lossy(rest.get(split + 1..).unwrap_or_default()).into_owned();
            Ok((collection, id, version, doc))
        })
    }

    pub(crate) fn put_raw(
        &self,
        collection: &str,
        id: &str,
        version: u64,
        doc: Value,
    ) -> Result<()> {
        // Import goes through the same path as writes so indexes follow.
        let spec = self.spec(collection)?.clone();
        check_id(id)?;
        self.db
            .transaction(|tx| {
                // Replacing a document: its old index entries go first.
                let key = doc_key(collection, id);
                if let Some(raw) = tx.get(&key)?
                    && let Ok((_, old)) = decode(&key, &raw)
                {
                    for f in &spec.indexes {
                        let v = query::field(&old, f).cloned().unwrap_or(Value::Null);
                        let mut k = index_prefix(collection, f, &v);
                        k.extend_from_slice(id.as_bytes());
                        tx.remove(k)?;
                    }
                }
                for f in &spec.indexes {
                    let v = query::field(&doc, f).cloned().unwrap_or(Value::Null);
                    let mut k = index_prefix(collection, f, &v);
                    k.extend_from_slice(id.as_bytes());
                    tx.insert(k, &[][..])?;
                }
                tx.insert(doc_key(collection, id), encode(version, &doc))?;
                Ok(())
            })
            .map_err(|e: TransactionError<()>| match e {
                TransactionError::Storage(s) => Error::Storage(s),
                TransactionError::Abort(()) => Error::Import("aborted".into()),
            })
    }
}

/// Index keys hold JSON; a filter value from a query string may be the
/// string form of a number or bool, so look under both.
fn index_values(v: &Value) -> Vec<Value> {
    let mut out = vec![v.clone()];
    if let Value::String(s) = v {
        if let Ok(n) = s.parse::<i64>() {
            out.push(Value::from(n));
        }
        if let Ok(f) = s.parse::<f64>() {
            out.push(Value::from(f));
        }
        match s.to_ascii_lowercase().as_str() {
            "true" => out.push(Value::Bool(true)),
            "false" => out.push(Value::Bool(false)),
            _ => {}
        }
    }
    out
}

type Abortable = ConflictableTransactionError<Error>;

fn abort(e: Error) -> Abortable {
    ConflictableTransactionError::Abort(e)
}
