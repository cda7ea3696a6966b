//! The data of one database's retention policy: the series index
//! (measurement + sorted tags → series id, with an inverted index from tag
//! pairs to series) and, per series and field, a column: an in-memory head
//! of recent points and sealed compressed chunks.
//!
//! Points may arrive out of order; a point at the same series, field and
//! time as an earlier one replaces it (last write wins), as in InfluxDB.
//! Sources are ordered oldest first (chunks in the order they were sealed,
//! then the head), and a later source wins on equal timestamps.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::encoding::{Chunk, Values, decode_chunk, encode_chunk};
use crate::line::FieldValue;

pub type SeriesId = u32;

/// Points in a head before it is sealed into a chunk.
pub const CHUNK_POINTS: usize = 1000;

/// A field's type, fixed once written (per measurement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Float,
    Integer,
    Unsigned,
    Boolean,
    String,
}

impl FieldType {
    pub fn of(v: &FieldValue) -> FieldType {
        match v {
            FieldValue::Float(_) => FieldType::Float,
            FieldValue::Integer(_) => FieldType::Integer,
            FieldValue::Unsigned(_) => FieldType::Unsigned,
            FieldValue::Boolean(_) => FieldType::Boolean,
            FieldValue::String(_) => FieldType::String,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Integer => "integer",
            FieldType::Unsigned => "unsigned",
            FieldType::Boolean => "boolean",
            FieldType::String => "string",
        }
    }
}

/// A series: a measurement and its tag set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub measurement: String,
    pub tags: Vec<(String, String)>,
}

impl Series {
    /// InfluxDB's series key: `measurement,k=v,k2=v2` (escaped).
    pub fn key(&self) -> String {
        let p = crate::line::Point {
            measurement: self.measurement.clone(),
            tags: self.tags.clone(),
            fields: Vec::new(),
            timestamp: None,
        };
        crate::line::format_point(&p)
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A sealed chunk and what a query needs to skip it.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub min_time: i64,
    pub max_time: i64,
    pub count: usize,
    pub bytes: Vec<u8>,
    /// Written to a block file already.
    pub persisted: bool,
}

/// One field of one series.
#[derive(Debug, Clone, Default)]
pub struct Column {
    pub head: Vec<(i64, FieldValue)>,
    pub chunks: Vec<Sealed>,
}

/// Sorts by time; of equal times the last one wins.
pub fn sort_dedup(points: &mut Vec<(i64, FieldValue)>) {
    // A stable sort keeps arrival order among equal times.
    points.sort_by_key(|(t, _)| *t);
    let mut out: Vec<(i64, FieldValue)> = Vec::with_capacity(points.len());
    for p in points.drain(..) {
        match out.last_mut() {
            Some(last) if last.0 == p.0 => *last = p,
            _ => out.push(p),
        }
    }
    *points = out;
}

fn to_chunk(points: &[(i64, FieldValue)], kind: FieldType) -> Chunk {
    let timestamps = points.iter().map(|(t, _)| *t).collect();
    let values = match kind {
        FieldType::Float => Values::Float(
            points
                .iter()
                .map(|(_, v)| match v {
                    FieldValue::Float(f) => *f,
                    _ => f64::NAN,
                })
                .collect(),
        ),
        FieldType::Integer => Values::Integer(
            points
                .iter()
                .map(|(_, v)| match v {
                    FieldValue::Integer(i) => *i,
                    _ => 0,
                })
                .collect(),
        ),
        FieldType::Unsigned => Values::Unsigned(
            points
                .iter()
                .map(|(_, v)| match v {
                    FieldValue::Unsigned(u) => *u,
                    _ => 0,
                })
                .collect(),
        ),
        FieldType::Boolean => Values::Boolean(
            points
                .iter()
                .map(|(_, v)| matches!(v, FieldValue::Boolean(true)))
                .collect(),
        ),
        FieldType::String => Values::String(
            points
                .iter()
                .map(|(_, v)| match v {
                    FieldValue::String(s) => s.clone(),
                    _ => String::new(),
                })
                .collect(),
        ),
    };
    Chunk { timestamps, values }
}

/// A chunk's points.
pub fn chunk_points(c: Chunk) -> Vec<(i64, FieldValue)> {
    let ts = c.timestamps;
    match c.values {
        Values::Float(v) => ts
            .into_iter()
            .zip(v)
            .map(|(t, x)| (t, FieldValue::Float(x)))
            .collect(),
        Values::Integer(v) => ts
            .into_iter()
            .zip(v)
            .map(|(t, x)| (t, FieldValue::Integer(x)))
            .collect(),
        Values::Unsigned(v) => ts
            .into_iter()
            .zip(v)
            .map(|(t, x)| (t, FieldValue::Unsigned(x)))
            .collect(),
        Values::Boolean(v) => ts
            .into_iter()
            .zip(v)
            .map(|(t, x)| (t, FieldValue::Boolean(x)))
            .collect(),
        Values::String(v) => ts
            .into_iter()
            .zip(v)
            .map(|(t, x)| (t, FieldValue::String(x)))
            .collect(),
    }
}

/// Seals sorted, deduplicated points into chunks of at most [`CHUNK_POINTS`].
pub fn seal(points: &[(i64, FieldValue)], kind: FieldType) -> Vec<Sealed> {
    points
        .chunks(CHUNK_POINTS)
        .filter(|c| !c.is_empty())
        .filter_map(|c| {
            let bytes = encode_chunk(&to_chunk(c, kind)).ok()?;
            Some(Sealed {
                min_time: c.first().map_or(0, |p| p.0),
                max_time: c.last().map_or(0, |p| p.0),
                count: c.len(),
                bytes,
                persisted: false,
            })
        })
        .collect()
}

impl Column {
    /// Every point in `[min, max]`, sorted, later sources winning.
    pub fn read(&self, min: i64, max: i64) -> Vec<(i64, FieldValue)> {
        let mut all = Vec::new();
        for c in &self.chunks {
            if c.max_time < min || c.min_time > max {
                continue;
            }
            if let Ok(chunk) = decode_chunk(&c.bytes) {
                all.extend(
                    chunk_points(chunk)
                        .into_iter()
                        .filter(|(t, _)| *t >= min && *t <= max),
                );
            }
        }
        all.extend(
            self.head
                .iter()
                .filter(|(t, _)| *t >= min && *t <= max)
                .cloned(),
        );
        sort_dedup(&mut all);
        all
    }

    /// Moves the head into chunks.
    pub fn seal_head(&mut self, kind: FieldType) {
        if self.head.is_empty() {
            return;
        }
        let mut head = std::mem::take(&mut self.head);
        sort_dedup(&mut head);
        self.chunks.extend(seal(&head, kind));
    }

    /// Rewrites the column as one sorted run without points `drop` selects.
    pub fn rewrite(&mut self, kind: FieldType, drop: impl Fn(i64) -> bool) {
        let mut all = self.read(i64::MIN, i64::MAX);
        all.retain(|(t, _)| !drop(*t));
        self.head.clear();
        self.chunks = seal(&all, kind);
    }

    pub fn is_empty(&self) -> bool {
        self.head.is_empty() && self.chunks.iter().all(|c| c.count == 0)
    }
}

/// A `(series, field)` column key that can be borrowed as `(u32, &str)`,
/// so hot paths look columns up without allocating the field name.
pub trait ColumnKey {
    fn series(&self) -> SeriesId;
    fn field(&self) -> &str;
}

impl ColumnKey for (SeriesId, String) {
    fn series(&self) -> SeriesId {
        self.0
    }
    fn field(&self) -> &str {
        &self.1
    }
}

impl ColumnKey for (SeriesId, &str) {
    fn series(&self) -> SeriesId {
        self.0
    }
    fn field(&self) -> &str {
        self.1
    }
}

impl<'a> std::borrow::Borrow<dyn ColumnKey + 'a> for (SeriesId, String) {
    fn borrow(&self) -> &(dyn ColumnKey + 'a) {
        self
    }
}

/// Hashes as the tuple `(SeriesId, String)` does.
impl std::hash::Hash for dyn ColumnKey + '_ {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.series().hash(state);
        self.field().hash(state);
    }
}

impl PartialEq for dyn ColumnKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.series() == other.series() && self.field() == other.field()
    }
}

impl Eq for dyn ColumnKey + '_ {}

/// One retention policy's series and data.
#[derive(Debug, Default)]
pub struct Shard {
    pub series: Vec<Series>,
    by_key: HashMap<String, SeriesId>,
    /// measurement → its series.
    pub by_measurement: BTreeMap<String, BTreeSet<SeriesId>>,
    /// measurement → tag key → tag value → series.
    pub tag_index: BTreeMap<String, BTreeMap<String, BTreeMap<String, BTreeSet<SeriesId>>>>,
    /// measurement → field → type.
    pub field_types: BTreeMap<String, BTreeMap<String, FieldType>>,
    /// (series, field) → column.
    pub columns: HashMap<(SeriesId, String), Column>,
    /// Points in heads, to decide when to seal.
    pub head_points: usize,
}

impl Shard {
    /// The id of a series, created when new.
    pub fn series_id(&mut self, measurement: &str, tags: &[(String, String)]) -> SeriesId {
        // An internal key: unambiguous (NUL never occurs in a name
        // InfluxDB accepts), and cheap to build.
        let mut key = String::with_capacity(
            measurement.len()
                + tags
                    .iter()
                    .map(|(k, v)| k.len() + v.len() + 2)
                    .sum::<usize>(),
        );
        key.push_str(measurement);
        for (k, v) in tags {
            key.push('\0');
            key.push_str(k);
            key.push('\0');
            key.push_str(v);
        }
        if let Some(id) = self.by_key.get(&key) {
            return *id;
        }
        let id = self.series.len() as SeriesId;
        self.by_measurement
            .entry(measurement.to_owned())
            .or_default()
            .insert(id);
        let idx = self.tag_index.entry(measurement.to_owned()).or_default();
        for (k, v) in tags {
            idx.entry(k.clone())
                .or_default()
                .entry(v.clone())
                .or_default()
                .insert(id);
        }
        self.series.push(Series {
            measurement: measurement.to_owned(),
            tags: tags.to_vec(),
        });
        self.by_key.insert(key, id);
        id
    }

    /// The type conflict a field value would cause, as InfluxDB words it.
    pub fn conflict(&self, measurement: &str, field: &str, v: &FieldValue) -> Option<String> {
        let have = self.field_types.get(measurement)?.get(field)?;
        let given = FieldType::of(v);
        (*have != given).then(|| {
            format!(
                "field type conflict: input field \"{field}\" on measurement \"{measurement}\" is type {}, already exists as type {}",
                given.name(),
                have.name()
            )
        })
    }

    /// Adds a point (types already checked).
    pub fn insert(
        &mut self,
        measurement: &str,
        tags: &[(String, String)],
        fields: &[(String, FieldValue)],
        time: i64,
    ) {
        let id = self.series_id(measurement, tags);
        for (f, v) in fields {
            let kind = FieldType::of(v);
            if !self
                .field_types
                .get(measurement)
                .is_some_and(|m| m.contains_key(f))
            {
                self.field_types
                    .entry(measurement.to_owned())
                    .or_default()
                    .insert(f.clone(), kind);
            }
            // Looked up by reference: no key allocation per field and point.
            let probe: &dyn ColumnKey = &(id, f.as_str());
            if !self.columns.contains_key(probe) {
                self.columns.insert((id, f.clone()), Column::default());
            }
            let Some(col) = self.columns.get_mut(probe) else {
                continue;
            };
            col.head.push((time, v.clone()));
            self.head_points += 1;
            if col.head.len() >= CHUNK_POINTS {
                self.head_points -= col.head.len();
                col.seal_head(kind);
            }
        }
    }

    /// Adds a sealed chunk read from a block file.
    pub fn add_chunk(&mut self, series: &Series, field: &str, kind: FieldType, sealed: Sealed) {
        let id = self.series_id(&series.measurement, &series.tags);
        self.field_types
            .entry(series.measurement.clone())
            .or_default()
            .entry(field.to_owned())
            .or_insert(kind);
        self.columns
            .entry((id, field.to_owned()))
            .or_default()
            .chunks
            .push(sealed);
    }

    /// Seals every head.
    pub fn seal_all(&mut self) {
        let types = &self.field_types;
        let series = &self.series;
        for ((id, field), col) in self.columns.iter_mut() {
            let kind = series
                .get(*id as usize)
                .and_then(|s| types.get(&s.measurement))
                .and_then(|m| m.get(field))
                .copied()
                .unwrap_or(FieldType::Float);
            col.seal_head(kind);
        }
        self.head_points = 0;
    }

    pub fn field_type(&self, id: SeriesId, field: &str) -> Option<FieldType> {
        let s = self.series.get(id as usize)?;
        self.field_types.get(&s.measurement)?.get(field).copied()
    }

    /// Removes points: of the series `which` selects, in `[min, max]`.
    /// Series left without data and measurements without series are
    /// dropped from the index.
    pub fn delete(&mut self, which: impl Fn(&Series) -> bool, min: i64, max: i64) {
        let ids: BTreeSet<SeriesId> = self
            .series
            .iter()
            .enumerate()
            .filter(|(_, s)| which(s))
            .map(|(i, _)| i as SeriesId)
            .collect();
        let keys: Vec<(SeriesId, String)> = self
            .columns
            .keys()
            .filter(|(id, _)| ids.contains(id))
            .cloned()
            .collect();
        for key in keys {
            let kind = self.field_type(key.0, &key.1).unwrap_or(FieldType::Float);
            if let Some(col) = self.columns.get_mut(&key) {
                col.rewrite(kind, |t| t >= min && t <= max);
                if col.is_empty() {
                    self.columns.remove(&key);
                }
            }
        }
        self.head_points = self.columns.values().map(|c| c.head.len()).sum();
        self.reindex();
    }

    /// Rebuilds the index from the columns that still hold data.
    pub fn reindex(&mut self) {
        let old = std::mem::take(self);
        let mut fresh = Shard::default();
        for ((id, field), col) in old.columns {
            let Some(s) = old.series.get(id as usize) else {
                continue;
            };
            let kind = old
                .field_types
                .get(&s.measurement)
                .and_then(|m| m.get(&field))
                .copied()
                .unwrap_or(FieldType::Float);
            let nid = fresh.series_id(&s.measurement, &s.tags);
            fresh
                .field_types
                .entry(s.measurement.clone())
                .or_default()
                .entry(field.clone())
                .or_insert(kind);
            fresh.head_points += col.head.len();
            fresh.columns.insert((nid, field), col);
        }
        *self = fresh;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn last_write_wins_and_out_of_order_is_ordered() {
        let mut s = Shard::default();
        let tags = vec![("host".to_owned(), "a".to_owned())];
        for (t, v) in [(30, 3.0), (10, 1.0), (20, 2.0), (10, 9.0)] {
            s.insert("cpu", &tags, &[("v".into(), FieldValue::Float(v))], t);
        }
        let id = s.series_id("cpu", &tags);
        let col = &s.columns[&(id, "v".to_owned())];
        let got: Vec<(i64, FieldValue)> = col.read(i64::MIN, i64::MAX);
        assert_eq!(
            got,
            vec![
                (10, FieldValue::Float(9.0)),
                (20, FieldValue::Float(2.0)),
                (30, FieldValue::Float(3.0))
            ]
        );
        assert!(s.conflict("cpu", "v", &FieldValue::Integer(1)).is_some());
        assert!(s.conflict("cpu", "v", &FieldValue::Float(1.0)).is_none());
    }

    #[test]
    fn sealed_chunks_and_heads_merge_and_deletes_reindex() {
        let mut s = Shard::default();
        let a = vec![("host".to_owned(), "a".to_owned())];
        let b = vec![("host".to_owned(), "b".to_owned())];
        for t in 0..2500 {
            s.insert("cpu", &a, &[("v".into(), FieldValue::Integer(t))], t);
        }
        s.insert("cpu", &a, &[("v".into(), FieldValue::Integer(-1))], 5);
        s.insert("cpu", &b, &[("v".into(), FieldValue::Integer(7))], 1);
        let id = s.series_id("cpu", &a);
        let col = &s.columns[&(id, "v".to_owned())];
        assert_eq!(col.chunks.len(), 2);
        let got = col.read(4, 6);
        assert_eq!(got[1], (5, FieldValue::Integer(-1)), "the head wins");
        s.seal_all();
        s.delete(|x| x.tag("host") == Some("b"), i64::MIN, i64::MAX);
        assert_eq!(s.series.len(), 1);
        assert!(!s.tag_index["cpu"]["host"].contains_key("b"));
        let id = s.series_id("cpu", &a);
        assert_eq!(s.columns[&(id, "v".to_owned())].read(0, 10).len(), 11);
    }
}
