//! The data directory: created on first start, locked for one instance, and
//! home of `ports.json`, which tells tests and tools the ports really bound.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

const LOCK_FILE: &str = "cfyd.lock";
/// Written once every listener is bound; removed on clean shutdown.
pub const PORTS_FILE: &str = "ports.json";

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("cannot create data directory {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write in data directory {path}: {source}")]
    Unwritable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("data directory {path} is in use by another cfyd{owner}")]
    Locked { path: PathBuf, owner: String },
}

/// An opened and locked data directory; the lock is held until drop.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates the directory if needed and takes its lock.
    pub fn open(path: &Path) -> Result<DataDir, DataDirError> {
        std::fs::create_dir_all(path).map_err(|source| DataDirError::Create {
            path: path.to_owned(),
            source,
        })?;
        let unwritable = |source| DataDirError::Unwritable {
            path: path.to_owned(),
            source,
        };
        let lock_path = path.join(LOCK_FILE);
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(unwritable)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                // Best effort: the owner's pid makes the message actionable.
                let _ = lock.read_to_string(&mut pid);
                let pid = pid.trim();
                let owner = if pid.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {pid})")
                };
                return Err(DataDirError::Locked {
                    path: path.to_owned(),
                    owner,
                });
            }
            Err(TryLockError::Error(e)) => return Err(unwritable(e)),
        }
        lock.set_len(0).map_err(unwritable)?;
        lock.rewind().map_err(unwritable)?;
        writeln!(lock, "{}", std::process::id()).map_err(unwritable)?;
        let dir = DataDir {
            path: path.to_owned(),
            _lock: lock,
        };
        // Left behind by a crash: it names ports nobody listens on any more.
        dir.remove_ports();
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `ports.json` atomically (temp file, then rename).
    pub fn write_ports(&self, ports: &BTreeMap<&'static str, u16>) -> std::io::Result<()> {
        let tmp = self.path.join(format!("{PORTS_FILE}.tmp"));
        let body = serde_json::to_vec_pretty(ports)?;
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, self.path.join(PORTS_FILE))
    }

    pub fn remove_ports(&self) {
        let _ = std::fs::remove_file(self.path.join(PORTS_FILE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_open_of_the_same_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open(dir.path()).unwrap();
        let err = DataDir::open(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("in use by another cfyd"), "{msg}");
        assert!(msg.contains(&std::process::id().to_string()), "{msg}");
        drop(first);
        DataDir::open(dir.path()).unwrap();
    }

    #[test]
    fn nested_dirs_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let d = DataDir::open(&dir.path().join("a/b")).unwrap();
        d.write_ports(&BTreeMap::from([("rest", 1)])).unwrap();
        let text = std::fs::read_to_string(d.path().join(PORTS_FILE)).unwrap();
        assert!(text.contains("\"rest\": 1"));
    }
}
