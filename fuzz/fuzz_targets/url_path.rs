//! The file server's path resolution never leaves its root.
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let root = Path::new("/srv/resources");
    if let Ok(p) = cfyd::fileserver::resolve(root, s) {
        assert!(p.starts_with(root));
        assert!(p.components().all(|c| !matches!(c, Component::ParentDir)));
    }
});
