//! Blueprint archives: format detection from content, and extraction that
//! refuses absolute paths, `..`, links, device files and decompression bombs.

use std::io::{Cursor, Read};
use std::path::{Component, Path, PathBuf};

/// Most bytes an archive may expand to.
pub const MAX_EXTRACTED: u64 = 1 << 30;
/// Most entries an archive may hold.
pub const MAX_ENTRIES: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    TarGz,
    TarBz2,
    Zip,
    Tar,
}

impl Format {
    pub fn detect(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            Some(Format::TarGz)
        } else if bytes.starts_with(b"BZh") {
            Some(Format::TarBz2)
        } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
            Some(Format::Zip)
        } else if bytes.len() > 262 && &bytes[257..262] == b"ustar" {
            Some(Format::Tar)
        } else {
            None
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::TarGz => "tar.gz",
            Format::TarBz2 => "tar.bz2",
            Format::Zip => "zip",
            Format::Tar => "tar",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(
        "Blueprint archive is of an unrecognized format. Supported formats are: ['tar', 'tar.gz', 'tar.bz2', 'zip']"
    )]
    Unrecognized,
    #[error("archive entry {0:?} would be written outside the archive's directory")]
    Escapes(String),
    #[error("archive entry {0:?} is a link or a special file, which blueprints may not contain")]
    NotAFile(String),
    #[error("archive expands to more than {MAX_EXTRACTED} bytes or {MAX_ENTRIES} entries")]
    TooLarge,
    #[error("archive is corrupt: {0}")]
    Corrupt(String),
}

/// A safe relative path for an entry name, or an error.
pub fn safe_path(name: &str) -> Result<PathBuf, ArchiveError> {
    let mut out = PathBuf::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(ArchiveError::Escapes(name.to_owned()));
            }
        }
    }
    Ok(out)
}

struct Budget {
    bytes: u64,
    entries: usize,
}

impl Budget {
    fn entry(&mut self) -> Result<(), ArchiveError> {
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            Err(ArchiveError::TooLarge)
        } else {
            Ok(())
        }
    }

    fn copy(&mut self, mut from: impl Read, to: &Path) -> Result<(), ArchiveError> {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        }
        let mut file =
            std::fs::File::create(to).map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        let left = MAX_EXTRACTED - self.bytes;
        let n = std::io::copy(&mut (&mut from).take(left + 1), &mut file)
            .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        if n > left {
            return Err(ArchiveError::TooLarge);
        }
        self.bytes += n;
        Ok(())
    }
}

/// Extracts `bytes` into `dest` (which must exist).
pub fn extract(bytes: &[u8], dest: &Path) -> Result<Format, ArchiveError> {
    let format = Format::detect(bytes).ok_or(ArchiveError::Unrecognized)?;
    let mut budget = Budget {
        bytes: 0,
        entries: 0,
    };
    match format {
        Format::Zip => extract_zip(bytes, dest, &mut budget)?,
        Format::TarGz => extract_tar(flate2::read::GzDecoder::new(bytes), dest, &mut budget)?,
        Format::TarBz2 => extract_tar(bzip2::read::BzDecoder::new(bytes), dest, &mut budget)?,
        Format::Tar => extract_tar(bytes, dest, &mut budget)?,
    }
    Ok(format)
}

fn extract_tar(reader: impl Read, dest: &Path, budget: &mut Budget) -> Result<(), ArchiveError> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        budget.entry()?;
        let name = entry
            .path()
            .map_err(|e| ArchiveError::Corrupt(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        let rel = safe_path(&name)?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            std::fs::create_dir_all(dest.join(&rel))
                .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        } else if kind.is_file() {
            budget.copy(entry, &dest.join(&rel))?;
        } else if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
        {
            continue;
        } else {
            return Err(ArchiveError::NotAFile(name));
        }
    }
    Ok(())
}

fn extract_zip(bytes: &[u8], dest: &Path, budget: &mut Budget) -> Result<(), ArchiveError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
    for i in 0..zip.len() {
        budget.entry()?;
        let file = zip
            .by_index(i)
            .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        let name = file.name().to_owned();
        let rel = safe_path(&name)?;
        if file.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
            return Err(ArchiveError::NotAFile(name));
        }
        if file.is_dir() {
            std::fs::create_dir_all(dest.join(&rel))
                .map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        } else {
            budget.copy(file, &dest.join(&rel))?;
        }
    }
    Ok(())
}

/// The one top-level directory of an extracted archive.
pub fn single_root(dir: &Path) -> Option<PathBuf> {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    match entries.as_slice() {
        [one] if one.is_dir() => Some(one.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // Write the raw name so that hostile names reach the extractor.
            let raw = h.as_old_mut();
            raw.name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn extracts_a_tar_gz_with_one_root() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = tar_gz(&[
            ("bp/blueprint.yaml", b"x: 1\n"),
            ("bp/scripts/a.sh", b"#!/bin/sh\n"),
        ]);
        assert_eq!(extract(&bytes, dir.path()).unwrap(), Format::TarGz);
        let root = single_root(dir.path()).unwrap();
        assert_eq!(
            std::fs::read(root.join("scripts/a.sh")).unwrap(),
            b"#!/bin/sh\n"
        );
    }

    #[test]
    fn hostile_archives_are_refused() {
        for name in ["../evil", "bp/../../evil", "/etc/evil"] {
            let dir = tempfile::tempdir().unwrap();
            let err = extract(&tar_gz(&[(name, b"x")]), dir.path()).unwrap_err();
            assert!(matches!(err, ArchiveError::Escapes(_)), "{name}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            extract(b"not an archive at all", dir.path()),
            Err(ArchiveError::Unrecognized)
        ));
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "bp/link", "/etc/passwd").unwrap();
        let bytes = b.into_inner().unwrap();
        assert!(matches!(
            extract(&bytes, dir.path()),
            Err(ArchiveError::NotAFile(_))
        ));
    }

    proptest! {
        #[test]
        fn safe_paths_never_leave_the_root(parts in proptest::collection::vec(prop_oneof!["[a-z]{1,4}", Just("..".to_string()), Just(".".to_string()), Just("".to_string())], 0..6)) {
            let name = parts.join("/");
            if let Ok(p) = safe_path(&name) {
                prop_assert!(p.components().all(|c| matches!(c, Component::Normal(_))));
            }
        }
    }
}
