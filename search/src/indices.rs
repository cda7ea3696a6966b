//! Named indices, each a directory under one root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::{Error, EventIndex, Result};

/// Elasticsearch's index name rules: lowercase, at most 255 bytes, none of
/// `\ / * ? " < > | , #` or spaces, not starting with `_`, `-` or `+`.
pub fn valid_index_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.starts_with(['_', '-', '+'])
        && name
            .chars()
            .all(|c| !c.is_uppercase() && !c.is_whitespace() && !"\\/*?\"<>|,#:".contains(c))
}

pub struct Indices {
    root: Option<PathBuf>,
    open: RwLock<BTreeMap<String, Arc<EventIndex>>>,
}

impl Indices {
    /// Opens every index under `root`.
    pub fn open(root: &Path) -> Result<Indices> {
        std::fs::create_dir_all(root).map_err(|e| Error::Directory(e.to_string()))?;
        let mut open = BTreeMap::new();
        let entries = std::fs::read_dir(root).map_err(|e| Error::Directory(e.to_string()))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::Directory(e.to_string()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && valid_index_name(&name) {
                open.insert(name, Arc::new(EventIndex::open(&entry.path())?));
            }
        }
        Ok(Indices {
            root: Some(root.to_owned()),
            open: RwLock::new(open),
        })
    }

    /// Indices in memory, for tests.
    pub fn temporary() -> Indices {
        Indices {
            root: None,
            open: RwLock::new(BTreeMap::new()),
        }
    }

    pub fn get(&self, name: &str) -> Option<Arc<EventIndex>> {
        self.open.read().get(name).cloned()
    }

    /// The index `name`, created when missing; whether it was created.
    pub fn ensure(&self, name: &str) -> Result<(Arc<EventIndex>, bool)> {
        if let Some(i) = self.get(name) {
            return Ok((i, false));
        }
        if !valid_index_name(name) {
            return Err(Error::Query(format!("invalid index name [{name}]")));
        }
        let mut open = self.open.write();
        if let Some(i) = open.get(name) {
            return Ok((i.clone(), false));
        }
        let index = Arc::new(match &self.root {
            Some(root) => EventIndex::open(&root.join(name))?,
            None => EventIndex::temporary()?,
        });
        open.insert(name.to_owned(), index.clone());
        Ok((index, true))
    }

    /// Removes the index `name` and its files; whether it existed.
    pub fn delete(&self, name: &str) -> Result<bool> {
        let removed = self.open.write().remove(name);
        if removed.is_none() {
            return Ok(false);
        }
        drop(removed);
        if let Some(root) = &self.root {
            std::fs::remove_dir_all(root.join(name))
                .map_err(|e| Error::Directory(e.to_string()))?;
        }
        Ok(true)
    }

    pub fn names(&self) -> Vec<String> {
        self.open.read().keys().cloned().collect()
    }
}
