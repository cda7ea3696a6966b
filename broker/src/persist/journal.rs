//! The message journal: segments, group commit, tombstones, compaction.
//!
//! The core appends encoded records to an in-memory batch under its lock;
//! one writer thread takes the batch, writes it to the active segment,
//! fsyncs, and reports the sequence number now durable. Segments are deleted
//! oldest first once every message in them is removed; an oldest segment
//! that is mostly dead has its live messages copied forward first.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use bytes::BytesMut;
use parking_lot::{Condvar, Mutex};

use super::record::{self, Record, RecoveredMessage};
use super::{Recovered, Topology};
use crate::core::QueuedMessage;
use crate::error::BrokerError;

/// A segment is closed and a new one started past this size.
pub const SEGMENT_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, Copy)]
enum Op {
    Enqueue(u64),
    Remove(u64),
}

#[derive(Default)]
struct Batch {
    bytes: BytesMut,
    ops: Vec<Op>,
    /// Sequence number of the last record appended.
    seq: u64,
    stop: bool,
}

struct Shared {
    batch: Mutex<Batch>,
    wake: Condvar,
    synced: AtomicU64,
    dir: PathBuf,
    fsync: bool,
}

/// Handle used by the core; cheap to call under the core lock.
pub struct Journal {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
    pending_writer: Mutex<Option<Writer>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.shared.dir)
            .finish()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BrokerError + '_ {
    move |source| BrokerError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Journal {
    /// Opens (or creates) the journal in `dir` and reads back what it holds.
    pub fn open(dir: &Path, fsync: bool) -> Result<(Journal, Recovered), BrokerError> {
        let seg_dir = dir.join("journal");
        std::fs::create_dir_all(&seg_dir).map_err(io_err(&seg_dir))?;
        let topo_path = dir.join("topology.json");
        let topology = Topology::load(&topo_path)
            .map_err(|e| BrokerError::CorruptTopology {
                path: topo_path,
                reason: e.to_string(),
            })?
            .unwrap_or_default();

        let mut segments: Vec<u32> = std::fs::read_dir(&seg_dir)
            .map_err(io_err(&seg_dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
            .collect();
        segments.sort_unstable();

        let mut live: BTreeMap<u64, (u32, RecoveredMessage)> = BTreeMap::new();
        let mut seg_enqueues: BTreeMap<u32, usize> = BTreeMap::new();
        let mut max_id = 0;
        let last = segments.last().copied();
        for &seg in &segments {
            let path = segment_path(&seg_dir, seg);
            let data = std::fs::read(&path).map_err(io_err(&path))?;
            let mut at = 0;
            loop {
                match record::decode(&data[at..]) {
                    Ok(None) => break,
                    Ok(Some((rec, used))) => {
                        at += used;
                        match rec {
                            Record::Enqueue(m) => {
                                max_id = max_id.max(m.qm.id);
                                *seg_enqueues.entry(seg).or_default() += 1;
                                live.insert(m.qm.id, (seg, m));
                            }
                            Record::Remove(id) => {
                                max_id = max_id.max(id);
                                live.remove(&id);
                            }
                        }
                    }
                    Err(stop) => {
                        tracing::warn!(segment = seg, offset = at, reason = ?stop, "journal ends early; later bytes dropped");
                        if Some(seg) == last {
                            // The tail of the active segment: cut the torn write off.
                            let f = OpenOptions::new()
                                .write(true)
                                .open(&path)
                                .map_err(io_err(&path))?;
                            f.set_len(at as u64).map_err(io_err(&path))?;
                        }
                        break;
                    }
                }
            }
        }

        let mut where_live = HashMap::new();
        let mut seg_live: BTreeMap<u32, usize> = segments.iter().map(|s| (*s, 0)).collect();
        let seg_total = seg_enqueues;
        for (id, (seg, _)) in &live {
            where_live.insert(*id, *seg);
            *seg_live.entry(*seg).or_default() += 1;
        }
        let active = last.unwrap_or(1);
        seg_live.entry(active).or_default();
        let path = segment_path(&seg_dir, active);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let size = file.metadata().map_err(io_err(&path))?.len();
        let writer = Writer {
            dir: seg_dir,
            active,
            file,
            size,
            where_live,
            seg_live,
            seg_total,
            fsync,
        };

        let shared = Arc::new(Shared {
            batch: Mutex::new(Batch::default()),
            wake: Condvar::new(),
            synced: AtomicU64::new(0),
            dir: dir.to_owned(),
            fsync,
        });
        let messages = live.into_values().map(|(_, m)| m).collect();
        Ok((
            Journal {
                shared,
                writer: Mutex::new(None),
                pending_writer: Mutex::new(Some(writer)),
            },
            Recovered {
                topology,
                messages,
                max_id,
            },
        ))
    }

    /// Starts the writer thread; `on_synced(seq)` runs after each fsync.
    pub fn start(&self, on_synced: impl Fn(u64) + Send + 'static) {
        let Some(writer) = self.pending_writer.lock().take() else {
            return;
        };
        let shared = self.shared.clone();
        let handle = std::thread::Builder::new()
            .name("broker-journal".into())
            .spawn(move || writer.run(&shared, on_synced));
        match handle {
            Ok(h) => *self.writer.lock() = Some(h),
            Err(e) => tracing::error!(error = %e, "cannot start the journal writer"),
        }
    }

    /// Appends an enqueue record; returns the sequence to wait for.
    pub fn append_enqueue(&self, vhost: &str, queue: &str, qm: &QueuedMessage) -> u64 {
        let mut b = self.shared.batch.lock();
        record::encode_enqueue(&mut b.bytes, vhost, queue, qm);
        b.ops.push(Op::Enqueue(qm.id));
        b.seq += 1;
        let seq = b.seq;
        drop(b);
        self.shared.wake.notify_one();
        seq
    }

    /// Appends a tombstone; nobody waits for it to be durable.
    pub fn append_remove(&self, id: u64) {
        let mut b = self.shared.batch.lock();
        record::encode_remove(&mut b.bytes, id);
        b.ops.push(Op::Remove(id));
        b.seq += 1;
        drop(b);
        self.shared.wake.notify_one();
    }

    /// Everything appended up to this sequence is on disk.
    pub fn synced(&self) -> u64 {
        self.shared.synced.load(Ordering::Acquire)
    }

    pub fn save_topology(&self, topology: &Topology) -> std::io::Result<()> {
        topology.save(&self.shared.dir.join("topology.json"), self.shared.fsync)
    }

    /// Writes what is pending, then stops the writer thread.
    pub fn close(&self) {
        self.shared.batch.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(h) = self.writer.lock().take() {
            let _ = h.join();
        }
    }
}

fn segment_path(dir: &Path, seg: u32) -> PathBuf {
    dir.join(format!("{seg:08}.seg"))
}

/// State owned by the writer thread.
struct Writer {
    dir: PathBuf,
    active: u32,
    file: File,
    size: u64,
    where_live: HashMap<u64, u32>,
    seg_live: BTreeMap<u32, usize>,
    /// Enqueue records written to each segment, live or not.
    seg_total: BTreeMap<u32, usize>,
    fsync: bool,
}

impl Writer {
    fn run(mut self, shared: &Shared, on_synced: impl Fn(u64)) {
        let mut spare = BytesMut::new();
        loop {
            let (bytes, ops, seq, stop) = {
                let mut b = shared.batch.lock();
                while b.bytes.is_empty() && !b.stop {
                    shared.wake.wait(&mut b);
                }
                let bytes = std::mem::replace(&mut b.bytes, std::mem::take(&mut spare));
                (bytes, std::mem::take(&mut b.ops), b.seq, b.stop)
            };
            if !bytes.is_empty() {
                if let Err(e) = self.write(&bytes, &ops) {
                    // Without the disk nothing more can be confirmed; the
                    // publishers' confirms stay pending rather than lie.
                    tracing::error!(error = %e, "journal write failed; confirms withheld");
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    continue;
                }
                shared.synced.store(seq, Ordering::Release);
                on_synced(seq);
                if let Err(e) = self.collect_garbage() {
                    tracing::warn!(error = %e, "journal compaction failed");
                }
            }
            spare = bytes;
            spare.clear();
            if stop {
                return;
            }
        }
    }

    fn write(&mut self, bytes: &[u8], ops: &[Op]) -> std::io::Result<()> {
        self.file.write_all(bytes)?;
        if self.fsync {
            self.file.sync_data()?;
        }
        self.size += bytes.len() as u64;
        for op in ops {
            match *op {
                Op::Enqueue(id) => {
                    self.where_live.insert(id, self.active);
                    *self.seg_live.entry(self.active).or_default() += 1;
                    *self.seg_total.entry(self.active).or_default() += 1;
                }
                Op::Remove(id) => {
                    if let Some(seg) = self.where_live.remove(&id)
                        && let Some(n) = self.seg_live.get_mut(&seg)
                    {
                        *n = n.saturating_sub(1);
                    }
                }
            }
        }
        if self.size >= SEGMENT_BYTES {
            self.active += 1;
            let path = segment_path(&self.dir, self.active);
            self.file = OpenOptions::new().create(true).append(true).open(path)?;
            self.size = 0;
            self.seg_live.insert(self.active, 0);
        }
        Ok(())
    }

    /// Deletes dead segments oldest first; copies the few live messages of
    /// a mostly dead oldest segment forward so it can go too.
    fn collect_garbage(&mut self) -> std::io::Result<()> {
        while let Some((&oldest, &live)) = self.seg_live.iter().next() {
            if oldest == self.active {
                return Ok(());
            }
            if live > 0 {
                // Copy forward only when at most half survives, so the copy
                // costs no more than the space it frees.
                let total = self.seg_total.get(&oldest).copied().unwrap_or(0);
                if live * 2 > total {
                    return Ok(());
                }
                self.copy_forward(oldest)?;
            }
            std::fs::remove_file(segment_path(&self.dir, oldest))?;
            self.seg_live.remove(&oldest);
            self.seg_total.remove(&oldest);
        }
        Ok(())
    }

    fn copy_forward(&mut self, seg: u32) -> std::io::Result<()> {
        let data = std::fs::read(segment_path(&self.dir, seg))?;
        let mut out = BytesMut::new();
        let mut moved = Vec::new();
        let mut at = 0;
        while let Ok(Some((rec, used))) = record::decode(&data[at..]) {
            if let Record::Enqueue(m) = rec
                && self.where_live.get(&m.qm.id) == Some(&seg)
            {
                record::encode_enqueue(&mut out, &m.vhost, &m.queue, &m.qm);
                moved.push(m.qm.id);
            }
            at += used;
        }
        self.file.write_all(&out)?;
        self.file.sync_data()?;
        self.size += out.len() as u64;
        for id in moved {
            self.where_live.insert(id, self.active);
            *self.seg_live.entry(self.active).or_default() += 1;
            *self.seg_total.entry(self.active).or_default() += 1;
        }
        Ok(())
    }
}
