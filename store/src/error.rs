//! Store errors. Conflicts are expected outcomes with their own variants, so
//! the REST layer can map them (409, 404) without looking at text.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{collection} {id} already exists")]
    AlreadyExists { collection: String, id: String },
    #[error("{collection} {id} not found")]
    NotFound { collection: String, id: String },
    #[error(
        "{collection} {id} update conflict [current_version={current}, updated_version={expected}]"
    )]
    Conflict {
        collection: String,
        id: String,
        current: u64,
        expected: u64,
    },
    #[error("unknown collection {0}")]
    UnknownCollection(String),
    #[error("invalid id {0:?}: ids are non-empty and hold no NUL byte")]
    BadId(String),
    #[error("document is not a JSON object")]
    NotAnObject,
    #[error("storage: {0}")]
    Storage(#[from] sled::Error),
    #[error("corrupt record {key}: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("import: {0}")]
    Import(String),
}

pub type Result<T> = std::result::Result<T, Error>;
