//! The write-ahead log: every acknowledged write is in it, fsynced, before
//! the write is acknowledged. Writers that arrive while an fsync runs share
//! the next one (group commit). Records are `len u32 | crc32 u32 | payload`
//! (little-endian); replay stops at the first torn or corrupt record, which
//! can only be a write that was never acknowledged.
//!
//! Segments are numbered files (`00000001.wal`, …); after the head is
//! flushed to a block, segments it covers are removed.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

/// The largest record accepted (a write body is limited well below this).
pub const MAX_RECORD: usize = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("wal {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("wal record of {0} bytes is above the limit")]
    TooLarge(usize),
}

/// Encodes one record (sans-IO).
pub fn encode_record(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Decodes the records of a segment (sans-IO): every whole, intact record
/// up to the first torn or corrupt one, and whether the data ended cleanly.
pub fn decode_records(data: &[u8]) -> (Vec<&[u8]>, bool) {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let Some(head) = data.get(pos..pos + 8) else {
            return (out, false);
        };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if len > MAX_RECORD {
            return (out, false);
        }
        let Some(payload) = data.get(pos + 8..pos + 8 + len) else {
            return (out, false);
        };
        if crc32fast::hash(payload) != crc {
            return (out, false);
        }
        out.push(payload);
        pos += 8 + len;
    }
    (out, true)
}

struct Active {
    file: File,
    number: u64,
    /// Records appended (to this or earlier segments) so far.
    appended: u64,
}

/// An open log.
pub struct Wal {
    dir: PathBuf,
    active: Mutex<Active>,
    /// Records known to be on disk; guarded separately so that one fsync
    /// serves every writer that appended before it started.
    synced: Mutex<u64>,
    fsync: bool,
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:08}.wal"))
}

/// Segment numbers present in `dir`, ascending.
pub fn segments(dir: &Path) -> Result<Vec<u64>, WalError> {
    let io = |e| WalError::Io(dir.to_owned(), e);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_suffix(".wal").and_then(|s| s.parse().ok()) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

impl Wal {
    /// Opens `dir` for appending to a new segment after the existing ones
    /// (which the caller replays first with [`Wal::replay`]).
    pub fn open(dir: &Path, fsync: bool) -> Result<Wal, WalError> {
        std::fs::create_dir_all(dir).map_err(|e| WalError::Io(dir.to_owned(), e))?;
        let next = segments(dir)?.last().map_or(1, |n| n + 1);
        let file = create(dir, next)?;
        Ok(Wal {
            dir: dir.to_owned(),
            active: Mutex::new(Active {
                file,
                number: next,
                appended: 0,
            }),
            synced: Mutex::new(0),
            fsync,
        })
    }

    /// The payloads of every intact record of the segments in `dir`, oldest
    /// first, with the segment numbers they came from.
    pub fn replay(dir: &Path) -> Result<Vec<(u64, Vec<u8>)>, WalError> {
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for n in segments(dir)? {
            let path = segment_path(dir, n);
            let mut data = Vec::new();
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut data))
                .map_err(|e| WalError::Io(path.clone(), e))?;
            let (records, clean) = decode_records(&data);
            // A torn tail (`!clean`) is expected after a crash: the write
            // it held was never acknowledged.
            let _ = clean;
            out.extend(records.into_iter().map(|r| (n, r.to_vec())));
        }
        Ok(out)
    }

    /// Appends a record and returns once it is durable.
    pub fn append(&self, payload: &[u8]) -> Result<(), WalError> {
        if payload.len() > MAX_RECORD {
            return Err(WalError::TooLarge(payload.len()));
        }
        let record = encode_record(payload);
        let mine = {
            let mut a = self.active.lock();
            let path = segment_path(&self.dir, a.number);
            a.file
                .write_all(&record)
                .map_err(|e| WalError::Io(path, e))?;
            a.appended += 1;
            a.appended
        };
        if !self.fsync {
            return Ok(());
        }
        let mut synced = self.synced.lock();
        if *synced >= mine {
            return Ok(());
        }
        // Everything appended up to now goes down with this fsync.
        let (file, upto, number) = {
            let a = self.active.lock();
            let f = a
                .file
                .try_clone()
                .map_err(|e| WalError::Io(segment_path(&self.dir, a.number), e))?;
            (f, a.appended, a.number)
        };
        file.sync_data()
            .map_err(|e| WalError::Io(segment_path(&self.dir, number), e))?;
        *synced = upto;
        Ok(())
    }

    /// Starts a new segment; returns the number of the last one before it
    /// (everything up to and including it may be removed once flushed).
    pub fn rotate(&self) -> Result<u64, WalError> {
        let mut a = self.active.lock();
        if self.fsync {
            a.file
                .sync_data()
                .map_err(|e| WalError::Io(segment_path(&self.dir, a.number), e))?;
        }
        let old = a.number;
        a.file = create(&self.dir, old + 1)?;
        a.number = old + 1;
        Ok(old)
    }

    /// Removes segments up to and including `upto`.
    pub fn remove_upto(&self, upto: u64) -> Result<(), WalError> {
        for n in segments(&self.dir)?.into_iter().filter(|n| *n <= upto) {
            let path = segment_path(&self.dir, n);
            std::fs::remove_file(&path).map_err(|e| WalError::Io(path, e))?;
        }
        Ok(())
    }
}

fn create(dir: &Path, n: u64) -> Result<File, WalError> {
    let path = segment_path(dir, n);
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| WalError::Io(path, e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn appends_replay_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), true).unwrap();
        wal.append(b"one").unwrap();
        let old = wal.rotate().unwrap();
        wal.append(b"two").unwrap();
        let got = Wal::replay(dir.path()).unwrap();
        assert_eq!(
            got,
            vec![(old, b"one".to_vec()), (old + 1, b"two".to_vec())]
        );
        wal.remove_upto(old).unwrap();
        assert_eq!(Wal::replay(dir.path()).unwrap().len(), 1);
        drop(wal);
        // A reopen appends to a new segment after the old ones.
        let wal = Wal::open(dir.path(), false).unwrap();
        wal.append(b"three").unwrap();
        assert_eq!(Wal::replay(dir.path()).unwrap().len(), 2);
    }

    #[test]
    fn a_torn_tail_ends_replay_without_error() {
        let mut data = encode_record(b"kept");
        let torn = encode_record(b"lost");
        data.extend_from_slice(&torn[..torn.len() - 1]);
        let (records, clean) = decode_records(&data);
        assert_eq!(records, vec![&b"kept"[..]]);
        assert!(!clean);
        let mut bad = encode_record(b"flip");
        bad[9] ^= 1;
        assert!(decode_records(&bad).0.is_empty());
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_records(&data);
        }

        #[test]
        fn records_round_trip(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..50), 0..10)) {
            let data: Vec<u8> = payloads.iter().flat_map(|p| encode_record(p)).collect();
            let (records, clean) = decode_records(&data);
            prop_assert!(clean);
            prop_assert_eq!(records, payloads.iter().map(Vec::as_slice).collect::<Vec<_>>());
        }
    }
}
