//! The event index: named tantivy indices of JSON documents, the query AST
//! the Elasticsearch DSL parses into, its translation to tantivy and a
//! reference evaluator that answers what the index does not hold.

pub mod aggs;
pub mod bulk;
pub mod es;
mod es_string;
pub mod eval;
mod index;
mod indices;
pub mod query;
pub mod sort;
pub mod source;
mod time;
mod translate;

pub use index::{EventIndex, Found, Hit, MAX_PAGE, MAX_SCAN};
pub use indices::{Indices, valid_index_name};
pub use query::{Query, Search, Sort, SourceFilter, TotalHits};
pub use time::{format_millis, parse_millis};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("event index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("event index directory: {0}")]
    Directory(String),
    /// A query the index cannot answer (ES `search_phase_execution_exception`).
    #[error("{0}")]
    Query(String),
}

pub type Result<T> = std::result::Result<T, Error>;
