//! A general document store on sled: named collections of JSON documents,
//! secondary indexes used by list filters, sorting, projection, pages,
//! versioned updates with conflicts as values, and atomic multi-document
//! batches. It knows nothing of Cloudify; `src/` declares its collections.
//!
//! Durability: with `Config::flush_every_write` (the default for on-disk
//! stores) every write batch is fsynced before it returns `Ok`, so an
//! acknowledged write survives `kill -9`.

mod db;
mod error;
mod export;
pub mod query;

pub use db::{CollectionSpec, Config, Page, Store, Versioned, WriteOp};
pub use error::{Error, Result};
pub use query::{Filter, Query, Sort};
