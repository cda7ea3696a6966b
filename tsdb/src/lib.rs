//! tsdb: a general time-series engine. Databases and retention policies;
//! series keyed by measurement and sorted tag set; typed fields; per-series
//! compressed chunks; a write-ahead log; InfluxDB 1.x line protocol in and
//! InfluxQL out. Knows nothing of Cloudify.

pub mod block;
pub mod encoding;
pub mod engine;
pub mod influxql;
pub mod line;
pub mod query;
pub mod shard;
pub mod time;
pub mod wal;

pub use engine::{RetentionPolicy, Tsdb, TsdbConfig, TsdbError};
