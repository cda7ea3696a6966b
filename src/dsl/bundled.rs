//! Definitions served offline for the standard Cloudify import URLs. These
//! files are cfyd's own, written from the facts in the reference; a resolver
//! rule can point any URL elsewhere.

const TYPES_33: &str = include_str!("bundled/types-3.3.yaml");

/// The URLs that resolve to bundled definitions.
const URLS: &[(&str, &str)] = &[
    (
        "http://www.getcloudify.org/spec/cloudify/3.3/types.yaml",
        TYPES_33,
    ),
    (
        "http://www.getcloudify.org/spec/cloudify/3.3.1/types.yaml",
        TYPES_33,
    ),
];

/// The canonical form of a bundled URL (https and http are the same file).
pub fn url(imp: &str) -> Option<&'static str> {
    let http = imp.replacen("https://", "http://", 1);
    URLS.iter().find(|(u, _)| *u == http).map(|(u, _)| *u)
}

pub fn get(url: &str) -> Option<&'static str> {
    URLS.iter().find(|(u, _)| *u == url).map(|(_, text)| *text)
}
