//! Export and import of a whole store as JSON lines, one document a line:
//! `{"collection": …, "id": …, "version": …, "doc": …}` (snapshots use it).

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::Store;
use crate::error::{Error, Result};

#[derive(Serialize, Deserialize)]
struct Line {
    collection: String,
    id: String,
    version: u64,
    doc: Value,
}

/// Largest line accepted on import.
const MAX_LINE: usize = 64 << 20;

impl Store {
    /// Writes every document; returns how many.
    pub fn export(&self, mut out: impl Write) -> Result<usize> {
        let mut n = 0;
        for item in self.all() {
            let (collection, id, version, doc) = item?;
            let line = serde_json::to_string(&Line {
                collection,
                id,
                version,
                doc,
            })
            .map_err(|e| Error::Import(e.to_string()))?;
            writeln!(out, "{line}").map_err(|e| Error::Import(e.to_string()))?;
            n += 1;
        }
        Ok(n)
    }

    /// Reads what `export` wrote into this store, keeping versions.
    pub fn import(&self, input: impl BufRead) -> Result<usize> {
        let mut n = 0;
        for (i, line) in input.lines().enumerate() {
            let line = line.map_err(|e| Error::Import(e.to_string()))?;
            if line.len() > MAX_LINE {
                return Err(Error::Import(format!(
                    "line {} is longer than {MAX_LINE} bytes",
                    i + 1
                )));
            }
            if line.trim().is_empty() {
                continue;
            }
            let l: Line = serde_json::from_str(&line)
                .map_err(|e| Error::Import(format!("line {}: {e}", i + 1)))?;
            self.put_raw(&l.collection, &l.id, l.version, l.doc)?;
            n += 1;
        }
        self.flush()?;
        Ok(n)
    }
}
