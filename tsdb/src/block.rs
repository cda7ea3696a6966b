//! Block files: immutable files of sealed chunks as WAL-style records
//! (`len | crc | payload`): each series (database, retention policy,
//! measurement, tags) once, then chunks naming their series by number and
//! their field. Written whole to a temporary name, fsynced and
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

const SERIES: u8 = b'S';
const CHUNK: u8 = b'C';

/// Encodes a block file (sans-IO): each series once (`S` records), then
/// its chunks referring to it by number (`C` records), so series keys are
/// not repeated per chunk.
pub fn encode_block(entries: &[BlockEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ids: std::collections::HashMap<(&str, &str, String), u32> =
        std::collections::HashMap::new();
    for e in entries {
        let key = (
            e.database.as_str(),
            e.retention_policy.as_str(),
            e.series.key(),
        );
        let next = ids.len() as u32;
        let id = *ids.entry(key).or_insert_with(|| {
            let mut rec = vec![SERIES];
            rec.extend_from_slice(&next.to_le_bytes());
            put_str(&mut rec, &e.database);
            put_str(&mut rec, &e.retention_policy);
            put_str(&mut rec, &e.series.measurement);
            rec.extend_from_slice(&(e.series.tags.len() as u32).to_le_bytes());
            for (k, v) in &e.series.tags {
                put_str(&mut rec, k);
                put_str(&mut rec, v);
            }
            out.extend_from_slice(&encode_record(&rec));
            next
        });
        let mut rec = Vec::with_capacity(e.sealed.bytes.len() + 40);
        rec.push(CHUNK);
        rec.extend_from_slice(&id.to_le_bytes());
        put_str(&mut rec, &e.field);
        rec.push(kind_byte(e.kind));
        rec.extend_from_slice(&e.sealed.min_time.to_le_bytes());
        rec.extend_from_slice(&e.sealed.max_time.to_le_bytes());
        rec.extend_from_slice(&(e.sealed.count as u32).to_le_bytes());
        rec.extend_from_slice(&e.sealed.bytes);
        out.extend_from_slice(&encode_record(&rec));
    }
    out
}

/// Decodes a block file (sans-IO); `None` when any record is damaged or
/// refers to a series not defined before it.
pub fn decode_block(data: &[u8]) -> Option<Vec<BlockEntry>> {
    let (records, clean) = decode_records(data);
    if !clean {
        return None;
    }
    let mut series: Vec<(String, String, Series)> = Vec::new();
    let mut out = Vec::new();
    for r in records {
        let mut pos = 1;
        match *r.first()? {
            SERIES => {
                let id = get_u32(r, &mut pos)? as usize;
                if id != series.len() {
                    return None;
                }
                let database = get_str(r, &mut pos)?;
                let retention_policy = get_str(r, &mut pos)?;
                let measurement = get_str(r, &mut pos)?;
                let ntags = get_u32(r, &mut pos)? as usize;
                if ntags > r.len() {
                    return None;
                }
                let mut tags = Vec::with_capacity(ntags);
                for _ in 0..ntags {
                    tags.push((get_str(r, &mut pos)?, get_str(r, &mut pos)?));
                }
                series.push((database, retention_policy, Series { measurement, tags }));
            }
            CHUNK => {
                let id = get_u32(r, &mut pos)? as usize;
                let (database, retention_policy, s) = series.get(id)?.clone();
                let field = get_str(r, &mut pos)?;
                let kind = byte_kind(*r.get(pos)?)?;
                pos += 1;
                let min_time = get_i64(r, &mut pos)?;
                let max_time = get_i64(r, &mut pos)?;
                let count = get_u32(r, &mut pos)? as usize;
                out.push(BlockEntry {
                    database,
                    retention_policy,
                    series: s,
                    field,
                    kind,
                    sealed: Sealed {
                        min_time,
                        max_time,
                        count,
                        bytes: r.get(pos..)?.to_vec(),
                        persisted: true,
                    },
                });
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Writes `entries` as block file `path` (atomically).
pub fn write(path: &Path, entries: &[BlockEntry]) -> Result<(), BlockError> {
    let io = |e| BlockError::Io(path.to_owned(), e);
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(&encode_block(entries)).map_err(io)?;
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
    decode_block(&data).ok_or_else(|| BlockError::Corrupt(path.to_owned()))
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
            let _ = decode_block(&data);
        }
    }
}
