//! Block files: immutable files of sealed chunks, each chunk a WAL-style
//! record (`len | crc | payload`) naming its database, retention policy,
//! series and field. Written whole to a temporary name, fsynced and
//! renamed, so a block file is either complete or absent.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::shard::{FieldType, Sealed, Series};
use crate::wal::{decode_records, encode_record};

/// One chunk with where it belongs.
#[derive(Debug, Clone)]
pub struct BlockEntry {
    pub database: String,
    pub retention_policy: String,
    pub series: Series,
    pub field: String,
    pub kind: FieldType,
    pub sealed: Sealed,
}

#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("block {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("block {0} is corrupt")]
    Corrupt(PathBuf),
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn get_u32(data: &[u8], pos: &mut usize) -> Option<u32> {
    let b = data.get(*pos..*pos + 4)?;
    *pos += 4;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn get_i64(data: &[u8], pos: &mut usize) -> Option<i64> {
    let b = data.get(*pos..*pos + 8)?;
    *pos += 8;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(i64::from_le_bytes(a))
}

fn get_str(data: &[u8], pos: &mut usize) -> Option<String> {
    let len = get_u32(data, pos)? as usize;
    let b = data.get(*pos..*pos + len)?;
    *pos += len;
    String::from_utf8(b.to_vec()).ok()
}

fn kind_byte(k: FieldType) -> u8 {
    match k {
        FieldType::Float => 0,
        FieldType::Integer => 1,
        FieldType::Unsigned => 2,
        FieldType::Boolean => 3,
        FieldType::String => 4,
    }
}

fn byte_kind(b: u8) -> Option<FieldType> {
    Some(match b {
        0 => FieldType::Float,
        1 => FieldType::Integer,
        2 => FieldType::Unsigned,
        3 => FieldType::Boolean,
        4 => FieldType::String,
        _ => return None,
    })
}

/// Encodes one entry's payload (sans-IO).
pub fn encode_entry(e: &BlockEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(e.sealed.bytes.len() + 64);
    put_str(&mut out, &e.database);
    put_str(&mut out, &e.retention_policy);
    put_str(&mut out, &e.series.measurement);
    out.extend_from_slice(&(e.series.tags.len() as u32).to_le_bytes());
    for (k, v) in &e.series.tags {
        put_str(&mut out, k);
        put_str(&mut out, v);
    }
    put_str(&mut out, &e.field);
    out.push(kind_byte(e.kind));
    out.extend_from_slice(&e.sealed.min_time.to_le_bytes());
    out.extend_from_slice(&e.sealed.max_time.to_le_bytes());
    out.extend_from_slice(&(e.sealed.count as u32).to_le_bytes());
    out.extend_from_slice(&e.sealed.bytes);
    out
}

/// Decodes one entry's payload (sans-IO).
pub fn decode_entry(data: &[u8]) -> Option<BlockEntry> {
    let mut pos = 0;
    let database = get_str(data, &mut pos)?;
    let retention_policy = get_str(data, &mut pos)?;
    let measurement = get_str(data, &mut pos)?;
    let ntags = get_u32(data, &mut pos)? as usize;
    if ntags > data.len() {
        return None;
    }
    let mut tags = Vec::with_capacity(ntags);
    for _ in 0..ntags {
        tags.push((get_str(data, &mut pos)?, get_str(data, &mut pos)?));
    }
    let field = get_str(data, &mut pos)?;
    let kind = byte_kind(*data.get(pos)?)?;
    pos += 1;
    let min_time = get_i64(data, &mut pos)?;
    let max_time = get_i64(data, &mut pos)?;
    let count = get_u32(data, &mut pos)? as usize;
    let bytes = data.get(pos..)?.to_vec();
    Some(BlockEntry {
        database,
        retention_policy,
        series: crate::shard::Series { measurement, tags },
        field,
        kind,
        sealed: Sealed {
            min_time,
            max_time,
            count,
            bytes,
            persisted: true,
        },
    })
}

/// Writes `entries` as block file `path` (atomically).
pub fn write(path: &Path, entries: &[BlockEntry]) -> Result<(), BlockError> {
    let io = |e| BlockError::Io(path.to_owned(), e);
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    let mut buf = Vec::new();
    for e in entries {
        buf.extend_from_slice(&encode_record(&encode_entry(e)));
        if buf.len() > 4 << 20 {
            f.write_all(&buf).map_err(io)?;
            buf.clear();
        }
    }
    f.write_all(&buf).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads a block file.
pub fn read(path: &Path) -> Result<Vec<BlockEntry>, BlockError> {
    let data = std::fs::read(path).map_err(|e| BlockError::Io(path.to_owned(), e))?;
    let (records, clean) = decode_records(&data);
    if !clean {
        return Err(BlockError::Corrupt(path.to_owned()));
    }
    records
        .into_iter()
        .map(|r| decode_entry(r).ok_or_else(|| BlockError::Corrupt(path.to_owned())))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn entries_round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = BlockEntry {
            database: "db".into(),
            retention_policy: "autogen".into(),
            series: Series {
                measurement: "cpu".into(),
                tags: vec![("host".into(), "a".into())],
            },
            field: "v".into(),
            kind: FieldType::Integer,
            sealed: Sealed {
                min_time: -5,
                max_time: 9,
                count: 2,
                bytes: vec![1, 2, 3],
                persisted: true,
            },
        };
        let path = dir.path().join("1.blk");
        write(&path, &[e.clone(), e.clone()]).unwrap();
        let got = read(&path).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].series, e.series);
        assert_eq!(got[1].sealed.bytes, e.sealed.bytes);
        assert_eq!(got[1].sealed.min_time, -5);
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_entry(&data);
        }
    }
}
