//! The store: databases and retention policies (`meta.json`), one shard of
//! series and columns per retention policy, the write-ahead log, and block
//! files.
//!
//! A write is checked (database, retention policy, field types), appended
//! to the WAL and fsynced (group commit), then applied in memory; only then
//! is it acknowledged. [`Tsdb::flush`] seals heads into chunks and writes
//! them as a block file, after which the WAL segments they came from go.
//! [`Tsdb::compact`] rewrites every chunk into one block, merging runs and
//! dropping what retention policies expired. A restart loads the blocks
//! and replays the WAL.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use serde_json::{Value, json};

use crate::block::{self, BlockEntry};
use crate::line::{Point, Precision, format_point, parse_line};
use crate::shard::{FieldType, Shard};
use crate::wal::Wal;

/// The retention policy every new database gets.
pub const DEFAULT_RP: &str = "autogen";
/// Shard duration InfluxDB reports for an infinite policy (7 days).
pub const DEFAULT_SHARD_NS: i64 = 7 * 24 * 3_600_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum TsdbError {
    #[error("database not found: \"{0}\"")]
    DatabaseNotFound(String),
    #[error("retention policy not found: {0}")]
    RetentionPolicyNotFound(String),
    #[error("retention policy already exists")]
    RetentionPolicyExists,
    #[error(transparent)]
    Wal(#[from] crate::wal::WalError),
    #[error(transparent)]
    Block(#[from] block::BlockError),
    #[error("tsdb {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("tsdb meta.json is corrupt: {0}")]
    Meta(String),
}

/// A retention policy.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionPolicy {
    /// Nanoseconds; 0 keeps data forever.
    pub duration: i64,
    pub shard_duration: i64,
    pub replication: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            duration: 0,
            shard_duration: DEFAULT_SHARD_NS,
            replication: 1,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct DatabaseMeta {
    pub default_rp: String,
    pub policies: BTreeMap<String, RetentionPolicy>,
}

/// How the store behaves.
#[derive(Debug, Clone)]
pub struct TsdbConfig {
    /// fsync the WAL before acknowledging writes.
    pub fsync: bool,
    /// Head points across shards above which a flush is due.
    pub flush_points: usize,
    /// Block files above which a compaction is due.
    pub max_blocks: usize,
}

impl Default for TsdbConfig {
    fn default() -> Self {
        TsdbConfig {
            fsync: true,
            flush_points: 2_000_000,
            max_blocks: 8,
        }
    }
}

/// What a write did.
#[derive(Debug, Default)]
pub struct WriteOutcome {
    pub written: usize,
    /// Points refused (type conflicts), with InfluxDB's wording.
    pub dropped: Vec<String>,
}

type ShardRef = Arc<RwLock<Shard>>;

pub struct Tsdb {
    dir: PathBuf,
    config: TsdbConfig,
    meta: RwLock<BTreeMap<String, DatabaseMeta>>,
    shards: RwLock<HashMap<(String, String), ShardRef>>,
    wal: Wal,
    /// Writes hold it shared; flush, compaction and deletes exclusively.
    gate: RwLock<()>,
    blocks: Mutex<Vec<PathBuf>>,
    next_block: AtomicU64,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TsdbError + '_ {
    move |e| TsdbError::Io(path.to_owned(), e)
}

impl Tsdb {
    /// Opens (or creates) the store in `dir`: meta, blocks, then the WAL.
    pub fn open(dir: &Path, config: TsdbConfig) -> Result<Tsdb, TsdbError> {
        let blocks_dir = dir.join("blocks");
        std::fs::create_dir_all(&blocks_dir).map_err(io(&blocks_dir))?;
        let meta = load_meta(&dir.join("meta.json"))?;
        let replayed = Wal::replay(&dir.join("wal"))?;
        let wal = Wal::open(&dir.join("wal"), config.fsync)?;
        let mut block_files: Vec<(u64, PathBuf)> = std::fs::read_dir(&blocks_dir)
            .map_err(io(&blocks_dir))?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let p = e.path();
                let n = p
                    .file_name()?
                    .to_str()?
                    .strip_suffix(".blk")?
                    .parse::<u64>()
                    .ok()?;
                Some((n, p))
            })
            .collect();
        block_files.sort();
        let next = block_files.last().map_or(1, |(n, _)| n + 1);
        let db = Tsdb {
            dir: dir.to_owned(),
            config,
            meta: RwLock::new(meta),
            shards: RwLock::new(HashMap::new()),
            wal,
            gate: RwLock::new(()),
            blocks: Mutex::new(block_files.iter().map(|(_, p)| p.clone()).collect()),
            next_block: AtomicU64::new(next),
        };
        for (_, path) in &block_files {
            for e in block::read(path)? {
                if !db.has_policy(&e.database, &e.retention_policy) {
                    continue;
                }
                let shard = db.shard_or_new(&e.database, &e.retention_policy);
                shard
                    .write()
                    .add_chunk(&e.series, &e.field, e.kind, e.sealed);
            }
        }
        for (_, payload) in replayed {
            db.apply_wal_record(&payload);
        }
        Ok(db)
    }

    fn has_policy(&self, db: &str, rp: &str) -> bool {
        self.meta
            .read()
            .get(db)
            .is_some_and(|d| d.policies.contains_key(rp))
    }

    fn shard_or_new(&self, db: &str, rp: &str) -> ShardRef {
        let key = (db.to_owned(), rp.to_owned());
        if let Some(s) = self.shards.read().get(&key) {
            return s.clone();
        }
        self.shards.write().entry(key).or_default().clone()
    }

    /// The shard of a retention policy, if it holds any data.
    pub fn shard(&self, db: &str, rp: &str) -> Option<ShardRef> {
        self.shards
            .read()
            .get(&(db.to_owned(), rp.to_owned()))
            .cloned()
    }

    fn apply_wal_record(&self, payload: &[u8]) {
        let Ok(text) = std::str::from_utf8(payload) else {
            return;
        };
        // A raw body (`\x01db\nrp\nprecision ns\nnow\nbody`) is checked
        // again exactly as when it was written: same order, same state.
        if let Some(raw) = text.strip_prefix('\u{1}') {
            let mut parts = raw.splitn(5, '\n');
            let (Some(db), Some(rp), Some(unit), Some(now), Some(body)) = (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            ) else {
                return;
            };
            let (Some(precision), Ok(now)) = (
                unit.parse().ok().and_then(Precision::from_nanos),
                now.parse::<i64>(),
            ) else {
                return;
            };
            if !self.has_policy(db, rp) {
                return;
            }
            let shard = self.shard_or_new(db, rp);
            let mut s = shard.write();
            let (points, _) = crate::line::parse_lines(body);
            let accepted = accept(&mut s, points, precision, now, &mut WriteOutcome::default());
            apply(&mut s, &accepted, now);
            return;
        }
        let mut lines = text.split('\n');
        let (Some(db), Some(rp)) = (lines.next(), lines.next()) else {
            return;
        };
        if !self.has_policy(db, rp) {
            return;
        }
        let shard = self.shard_or_new(db, rp);
        let mut s = shard.write();
        for line in lines.filter(|l| !l.is_empty()) {
            if let Ok(p) = parse_line(line)
                && let Some(t) = p.timestamp
            {
                s.insert(&p.measurement, &p.tags, &p.fields, t);
            }
        }
    }

    // ---- databases and retention policies ----

    pub fn databases(&self) -> Vec<String> {
        self.meta.read().keys().cloned().collect()
    }

    pub fn database(&self, name: &str) -> Option<DatabaseMeta> {
        self.meta.read().get(name).cloned()
    }

    fn save_meta(&self, meta: &BTreeMap<String, DatabaseMeta>) -> Result<(), TsdbError> {
        let v: serde_json::Map<String, Value> = meta
            .iter()
            .map(|(name, d)| {
                let rps: serde_json::Map<String, Value> = d
                    .policies
                    .iter()
                    .map(|(n, rp)| {
                        (
                            n.clone(),
                            json!({"duration": rp.duration, "shard_duration": rp.shard_duration, "replication": rp.replication}),
                        )
                    })
                    .collect();
                (name.clone(), json!({"default": d.default_rp, "policies": rps}))
            })
            .collect();
        let path = self.dir.join("meta.json");
        let tmp = self.dir.join("meta.json.tmp");
        std::fs::write(&tmp, Value::Object(v).to_string()).map_err(io(&tmp))?;
        if let Ok(f) = std::fs::File::open(&tmp) {
            let _ = f.sync_all();
        }
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }

    /// Creates a database (no error when it exists, as InfluxDB) with the
    /// default policy `autogen`, or the given one.
    pub fn create_database(
        &self,
        name: &str,
        policy: Option<(String, RetentionPolicy)>,
    ) -> Result<(), TsdbError> {
        let mut meta = self.meta.write();
        if meta.contains_key(name) {
            return Ok(());
        }
        let (rp_name, rp) =
            policy.unwrap_or_else(|| (DEFAULT_RP.to_owned(), RetentionPolicy::default()));
        let mut d = DatabaseMeta {
            default_rp: rp_name.clone(),
            policies: BTreeMap::new(),
        };
        d.policies.insert(rp_name, rp);
        meta.insert(name.to_owned(), d);
        self.save_meta(&meta)
    }

    pub fn drop_database(&self, name: &str) -> Result<(), TsdbError> {
        let _gate = self.gate.write();
        let mut meta = self.meta.write();
        if meta.remove(name).is_none() {
            return Ok(());
        }
        self.save_meta(&meta)?;
        drop(meta);
        self.shards.write().retain(|(db, _), _| db != name);
        self.rewrite_blocks()
    }

    pub fn create_retention_policy(
        &self,
        db: &str,
        name: &str,
        rp: RetentionPolicy,
        default: bool,
    ) -> Result<(), TsdbError> {
        let mut meta = self.meta.write();
        let d = meta
            .get_mut(db)
            .ok_or_else(|| TsdbError::DatabaseNotFound(db.to_owned()))?;
        match d.policies.get(name) {
            Some(existing) if *existing != rp => return Err(TsdbError::RetentionPolicyExists),
            _ => {}
        }
        d.policies.insert(name.to_owned(), rp);
        if default {
            d.default_rp = name.to_owned();
        }
        self.save_meta(&meta)
    }

    pub fn alter_retention_policy(
        &self,
        db: &str,
        name: &str,
        duration: Option<i64>,
        shard_duration: Option<i64>,
        replication: Option<u32>,
        default: bool,
    ) -> Result<(), TsdbError> {
        let mut meta = self.meta.write();
        let d = meta
            .get_mut(db)
            .ok_or_else(|| TsdbError::DatabaseNotFound(db.to_owned()))?;
        let rp = d
            .policies
            .get_mut(name)
            .ok_or_else(|| TsdbError::RetentionPolicyNotFound(name.to_owned()))?;
        if let Some(x) = duration {
            rp.duration = x;
        }
        if let Some(x) = shard_duration {
            rp.shard_duration = x;
        }
        if let Some(x) = replication {
            rp.replication = x;
        }
        if default {
            d.default_rp = name.to_owned();
        }
        self.save_meta(&meta)
    }

    pub fn drop_retention_policy(&self, db: &str, name: &str) -> Result<(), TsdbError> {
        let _gate = self.gate.write();
        let mut meta = self.meta.write();
        let d = meta
            .get_mut(db)
            .ok_or_else(|| TsdbError::DatabaseNotFound(db.to_owned()))?;
        if d.policies.remove(name).is_none() {
            return Ok(());
        }
        self.save_meta(&meta)?;
        drop(meta);
        self.shards
            .write()
            .remove(&(db.to_owned(), name.to_owned()));
        self.rewrite_blocks()
    }

    /// The policy a write or query names, or the database's default.
    pub fn resolve_rp(&self, db: &str, rp: Option<&str>) -> Result<String, TsdbError> {
        let meta = self.meta.read();
        let d = meta
            .get(db)
            .ok_or_else(|| TsdbError::DatabaseNotFound(db.to_owned()))?;
        match rp.filter(|r| !r.is_empty()) {
            Some(r) if d.policies.contains_key(r) => Ok(r.to_owned()),
            Some(r) => Err(TsdbError::RetentionPolicyNotFound(r.to_owned())),
            None => Ok(d.default_rp.clone()),
        }
    }

    // ---- writes ----

    /// Writes points: checked, logged, fsynced, applied. `now` (ns) stamps
    /// points without a timestamp.
    pub fn write(
        &self,
        db: &str,
        rp: Option<&str>,
        points: Vec<Point>,
        precision: Precision,
        now: i64,
    ) -> Result<WriteOutcome, TsdbError> {
        let rp = self.resolve_rp(db, rp)?;
        let _gate = self.gate.read();
        let shard = self.shard_or_new(db, &rp);
        let mut out = WriteOutcome::default();
        let accepted = accept(&mut shard.write(), points, precision, now, &mut out);
        if accepted.is_empty() {
            return Ok(out);
        }
        let mut payload = format!("{db}\n{rp}\n");
        for p in &accepted {
            payload.push_str(&format_point(p));
            payload.push('\n');
        }
        self.wal.append(payload.as_bytes())?;
        apply(&mut shard.write(), &accepted, now);
        out.written = accepted.len();
        Ok(out)
    }

    /// Writes a line-protocol body: the lines that parse are checked,
    /// logged (the body itself goes to the WAL, so nothing is formatted
    /// again), fsynced and applied; the others come back as errors.
    pub fn write_body(
        &self,
        db: &str,
        rp: Option<&str>,
        body: &str,
        precision: Precision,
        now: i64,
    ) -> Result<(WriteOutcome, Vec<crate::line::LineError>), TsdbError> {
        let rp = self.resolve_rp(db, rp)?;
        let (points, bad) = crate::line::parse_lines(body);
        let _gate = self.gate.read();
        let shard = self.shard_or_new(db, &rp);
        let mut out = WriteOutcome::default();
        let accepted = accept(&mut shard.write(), points, precision, now, &mut out);
        if accepted.is_empty() {
            return Ok((out, bad));
        }
        let header = format!("\u{1}{db}\n{rp}\n{}\n{now}\n", precision.nanos());
        let mut payload = Vec::with_capacity(header.len() + body.len());
        payload.extend_from_slice(header.as_bytes());
        payload.extend_from_slice(body.as_bytes());
        self.wal.append(&payload)?;
        apply(&mut shard.write(), &accepted, now);
        out.written = accepted.len();
        Ok((out, bad))
    }

    /// Head points across shards.
    pub fn head_points(&self) -> usize {
        self.shards
            .read()
            .values()
            .map(|s| s.read().head_points)
            .sum()
    }

    // ---- flush, compaction, retention, deletes ----

    fn next_block_path(&self) -> PathBuf {
        let n = self.next_block.fetch_add(1, Ordering::Relaxed);
        self.dir.join("blocks").join(format!("{n:010}.blk"))
    }

    /// Seals every head and writes the unpersisted chunks as a block; the
    /// WAL segments they came from are then removed.
    pub fn flush(&self) -> Result<(), TsdbError> {
        let _gate = self.gate.write();
        self.flush_locked()
    }

    fn flush_locked(&self) -> Result<(), TsdbError> {
        let rotated = self.wal.rotate()?;
        let mut entries = Vec::new();
        let shards: Vec<((String, String), ShardRef)> = self
            .shards
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for ((db, rp), shard) in &shards {
            let mut s = shard.write();
            s.seal_all();
            collect_entries(db, rp, &s, false, &mut entries);
        }
        if !entries.is_empty() {
            let path = self.next_block_path();
            block::write(&path, &entries)?;
            self.blocks.lock().push(path);
            for (_, shard) in &shards {
                for col in shard.write().columns.values_mut() {
                    for c in &mut col.chunks {
                        c.persisted = true;
                    }
                }
            }
        }
        self.wal.remove_upto(rotated)?;
        Ok(())
    }

    /// Rewrites all data into one block: runs merged, expired points
    /// (retention policies, as of `now` ns) dropped.
    pub fn compact(&self, now: i64) -> Result<(), TsdbError> {
        let _gate = self.gate.write();
        self.flush_locked()?;
        let meta = self.meta.read().clone();
        for ((db, rp), shard) in self.shards.read().iter() {
            let cutoff = meta
                .get(db)
                .and_then(|d| d.policies.get(rp))
                .filter(|p| p.duration > 0)
                .map(|p| now.saturating_sub(p.duration));
            let mut s = shard.write();
            // Every column is rewritten as one sorted run; an empty range
            // (1..=0) drops nothing when the policy keeps data forever.
            match cutoff {
                Some(c) => s.delete(|_| true, i64::MIN, c.saturating_sub(1)),
                None => s.delete(|_| true, 1, 0),
            }
        }
        self.rewrite_blocks()
    }

    /// Writes every chunk of every shard into one new block and removes
    /// the old blocks (the gate must be held exclusively).
    fn rewrite_blocks(&self) -> Result<(), TsdbError> {
        let rotated = self.wal.rotate()?;
        let mut entries = Vec::new();
        for ((db, rp), shard) in self.shards.read().iter() {
            let mut s = shard.write();
            s.seal_all();
            collect_entries(db, rp, &s, true, &mut entries);
            for col in s.columns.values_mut() {
                for c in &mut col.chunks {
                    c.persisted = true;
                }
            }
        }
        let old = std::mem::take(&mut *self.blocks.lock());
        if !entries.is_empty() {
            let path = self.next_block_path();
            block::write(&path, &entries)?;
            self.blocks.lock().push(path);
        }
        for p in old {
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
        self.wal.remove_upto(rotated)?;
        Ok(())
    }

    /// Deletes points of `db` (all its policies) from the series `which`
    /// selects in `[min, max]`, durably.
    pub fn delete(
        &self,
        db: &str,
        which: &dyn Fn(&crate::shard::Series) -> bool,
        min: i64,
        max: i64,
    ) -> Result<(), TsdbError> {
        if !self.meta.read().contains_key(db) {
            return Err(TsdbError::DatabaseNotFound(db.to_owned()));
        }
        let _gate = self.gate.write();
        for ((d, _), shard) in self.shards.read().iter() {
            if d == db {
                shard.write().delete(which, min, max);
            }
        }
        self.rewrite_blocks()
    }

    /// Runs what is due: a flush when heads are large, a compaction when
    /// blocks pile up. Returns whether anything ran.
    pub fn maintain(&self, now: i64) -> Result<bool, TsdbError> {
        if self.blocks.lock().len() > self.config.max_blocks {
            self.compact(now)?;
            return Ok(true);
        }
        if self.head_points() >= self.config.flush_points {
            self.flush()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Whether any retention policy expires data.
    pub fn has_retention(&self) -> bool {
        self.meta
            .read()
            .values()
            .any(|d| d.policies.values().any(|p| p.duration > 0))
    }

    /// Bytes of block files on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.blocks
            .lock()
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// The points of a write that may be stored (timestamps resolved to ns):
/// a point out of range or with a field whose type conflicts with stored
/// data or an earlier point is dropped, with InfluxDB's wording in `out`.
fn accept(
    s: &mut Shard,
    points: Vec<Point>,
    precision: Precision,
    now: i64,
    out: &mut WriteOutcome,
) -> Vec<Point> {
    let mut accepted = Vec::with_capacity(points.len());
    for mut p in points {
        let time = match p.timestamp {
            Some(t) => match precision.to_nanos(t) {
                Some(ns) => ns,
                None => {
                    out.dropped.push(format!(
                        "unable to parse '{}': time outside range",
                        format_point(&p)
                    ));
                    continue;
                }
            },
            None => now,
        };
        if let Some(c) = p
            .fields
            .iter()
            .find_map(|(f, v)| s.conflict(&p.measurement, f, v))
        {
            out.dropped.push(c);
            continue;
        }
        let known = s.field_types.get(&p.measurement);
        if p.fields
            .iter()
            .any(|(f, _)| known.is_none_or(|m| !m.contains_key(f)))
        {
            let types = s.field_types.entry(p.measurement.clone()).or_default();
            for (f, v) in &p.fields {
                if !types.contains_key(f) {
                    types.insert(f.clone(), FieldType::of(v));
                }
            }
        }
        p.timestamp = Some(time);
        accepted.push(p);
    }
    accepted
}

fn apply(s: &mut Shard, points: &[Point], now: i64) {
    for p in points {
        s.insert(
            &p.measurement,
            &p.tags,
            &p.fields,
            p.timestamp.unwrap_or(now),
        );
    }
}

fn collect_entries(db: &str, rp: &str, s: &Shard, all: bool, out: &mut Vec<BlockEntry>) {
    for ((id, field), col) in &s.columns {
        let Some(series) = s.series.get(*id as usize) else {
            continue;
        };
        let kind = s.field_type(*id, field).unwrap_or(FieldType::Float);
        for c in col.chunks.iter().filter(|c| all || !c.persisted) {
            out.push(BlockEntry {
                database: db.to_owned(),
                retention_policy: rp.to_owned(),
                series: series.clone(),
                field: field.clone(),
                kind,
                sealed: c.clone(),
            });
        }
    }
}

fn load_meta(path: &Path) -> Result<BTreeMap<String, DatabaseMeta>, TsdbError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(TsdbError::Io(path.to_owned(), e)),
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| TsdbError::Meta(e.to_string()))?;
    let mut out = BTreeMap::new();
    for (name, d) in v.as_object().into_iter().flatten() {
        let mut meta = DatabaseMeta {
            default_rp: d["default"].as_str().unwrap_or(DEFAULT_RP).to_owned(),
            policies: BTreeMap::new(),
        };
        for (rp, p) in d["policies"].as_object().into_iter().flatten() {
            meta.policies.insert(
                rp.clone(),
                RetentionPolicy {
                    duration: p["duration"].as_i64().unwrap_or(0),
                    shard_duration: p["shard_duration"].as_i64().unwrap_or(DEFAULT_SHARD_NS),
                    replication: p["replication"]
                        .as_u64()
                        .and_then(|r| u32::try_from(r).ok())
                        .unwrap_or(1),
                },
            );
        }
        out.insert(name.clone(), meta);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::line::{FieldValue, parse_lines};

    fn count(db: &Tsdb) -> usize {
        let s = db.shard("db", DEFAULT_RP).unwrap();
        let s = s.read();
        s.columns
            .values()
            .map(|c| c.read(i64::MIN, i64::MAX).len())
            .sum()
    }

    #[test]
    fn writes_survive_restart_flush_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Tsdb::open(dir.path(), TsdbConfig::default()).unwrap();
            db.create_database("db", None).unwrap();
            let (points, _) = parse_lines("cpu,host=a v=1 1\ncpu,host=b v=2 2\n");
            let out = db.write("db", None, points, Precision::Seconds, 0).unwrap();
            assert_eq!(out.written, 2);
            assert!(matches!(
                db.write("nope", None, vec![], Precision::Seconds, 0),
                Err(TsdbError::DatabaseNotFound(_))
            ));
            assert!(matches!(
                db.write("db", Some("x"), vec![], Precision::Seconds, 0),
                Err(TsdbError::RetentionPolicyNotFound(_))
            ));
            let (conflict, _) = parse_lines("cpu,host=a v=\"s\" 3\n");
            let out = db
                .write("db", None, conflict, Precision::Seconds, 0)
                .unwrap();
            assert_eq!(out.written, 0);
            assert!(out.dropped[0].contains("field type conflict"));
        }
        // Only the WAL holds them: replayed.
        let db = Tsdb::open(dir.path(), TsdbConfig::default()).unwrap();
        assert_eq!(count(&db), 2);
        db.flush().unwrap();
        let (more, _) = parse_lines("cpu,host=a v=3 3\n");
        db.write("db", None, more, Precision::Seconds, 0).unwrap();
        drop(db);
        let db = Tsdb::open(dir.path(), TsdbConfig::default()).unwrap();
        assert_eq!(count(&db), 3, "block + WAL");
        db.compact(0).unwrap();
        drop(db);
        let db = Tsdb::open(dir.path(), TsdbConfig::default()).unwrap();
        assert_eq!(count(&db), 3, "compacted block");
        db.delete(
            "db",
            &|s| s.tag("host") == Some("a"),
            2_000_000_000,
            i64::MAX,
        )
        .unwrap();
        drop(db);
        let db = Tsdb::open(dir.path(), TsdbConfig::default()).unwrap();
        assert_eq!(count(&db), 2);
    }

    #[test]
    fn raw_bodies_replay_as_they_were_checked() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Tsdb::open(dir.path(), TsdbConfig::default()).unwrap();
            db.create_database("db", None).unwrap();
            let body = "cpu,host=a v=1 1\ncpu,host=a v=\"x\" 2\nbad\ncpu,host=b v=3\n";
            let (out, bad) = db
                .write_body("db", None, body, Precision::Seconds, 7_000_000_000)
                .unwrap();
            assert_eq!((out.written, out.dropped.len(), bad.len()), (2, 1, 1));
        }
        let db = Tsdb::open(dir.path(), TsdbConfig::default()).unwrap();
        assert_eq!(count(&db), 2, "the conflicting and the bad line stay out");
        let s = db.shard("db", DEFAULT_RP).unwrap();
        let s = s.read();
        let times: Vec<i64> = s
            .columns
            .values()
            .flat_map(|c| c.read(i64::MIN, i64::MAX))
            .map(|(t, _)| t)
            .collect();
        assert!(
            times.contains(&7_000_000_000),
            "no timestamp: the write's now"
        );
    }

    #[test]
    fn retention_drops_old_points_at_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let db = Tsdb::open(dir.path(), TsdbConfig::default()).unwrap();
        let hour = 3_600_000_000_000;
        db.create_database(
            "db",
            Some((
                "short".into(),
                RetentionPolicy {
                    duration: hour,
                    ..RetentionPolicy::default()
                },
            )),
        )
        .unwrap();
        let p = |t: i64| Point {
            measurement: "m".into(),
            tags: vec![],
            fields: vec![("v".into(), FieldValue::Float(1.0))],
            timestamp: Some(t),
        };
        db.write(
            "db",
            None,
            vec![p(0), p(2 * hour)],
            Precision::Nanoseconds,
            0,
        )
        .unwrap();
        db.compact(2 * hour + 1).unwrap();
        let s = db.shard("db", "short").unwrap();
        let n: usize = s
            .read()
            .columns
            .values()
            .map(|c| c.read(i64::MIN, i64::MAX).len())
            .sum();
        assert_eq!(n, 1);
    }
}
