//! The file server (53229): the manager's resources directory over HTTP,
//! as Cloudify's nginx served it to agents (`blueprints/<id>/…`,
//! `uploaded-blueprints/…`). GET and HEAD, single byte ranges, content
//! types by extension; paths never leave the root. `cloudify_agent/cfyd`
//! is this very binary, which init scripts fetch to start host agents.

use std::path::{Component, Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("bad percent-encoding")]
    BadEncoding,
    #[error("path leaves the root")]
    Escapes,
}

/// The file a URL path names under `root` (pure: no filesystem access).
pub fn resolve(root: &Path, url_path: &str) -> Result<PathBuf, PathError> {
    let decoded = percent_decode(url_path).ok_or(PathError::BadEncoding)?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return Err(PathError::Escapes);
    }
    let mut out = root.to_path_buf();
    for c in Path::new(&decoded).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return Err(PathError::Escapes),
        }
    }
    Ok(out)
}

/// `%XX` decoding (no `+` → space); `None` on a bad escape or non-UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(s.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "yaml" | "yml" => "text/yaml",
        "sh" | "txt" | "py" | "clj" | "conf" => "text/plain",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "gz" | "tgz" => "application/gzip",
        "zip" => "application/zip",
        "tar" => "application/x-tar",
        "bz2" => "application/x-bzip2",
        _ => "application/octet-stream",
    }
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` against a length.
fn parse_range(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (len.saturating_sub(n), len.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, len.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(len.checked_sub(1)?),
        ),
    };
    (start <= end && end < len).then_some((start, end))
}

pub fn router(root: PathBuf) -> Router {
    Router::new()
        .route("/cloudify_agent/cfyd", get(agent_binary))
        .route("/", get(serve))
        .route("/{*path}", get(serve))
        .with_state(root)
}

/// Streams the running cfyd executable (the agent init scripts install).
async fn agent_binary() -> Response {
    use tokio::io::AsyncReadExt;
    let file = match std::env::current_exe() {
        Ok(p) => tokio::fs::File::open(p).await,
        Err(e) => Err(e),
    };
    let Ok(file) = file else {
        return (StatusCode::NOT_FOUND, "404 Not Found\n").into_response();
    };
    let len = file.metadata().await.map(|m| m.len()).ok();
    let stream = futures_util::stream::unfold(Some(file), |state| async move {
        let mut f = state?;
        let mut buf = vec![0u8; 256 << 10];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    resp
}

async fn serve(
    State(root): State<PathBuf>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "404 Not Found\n").into_response();
    let Ok(path) = resolve(&root, uri.path()) else {
        return (StatusCode::BAD_REQUEST, "400 Bad Request\n").into_response();
    };
    // Symlinks inside the root must not lead out of it either.
    let (Ok(real), Ok(real_root)) = (
        tokio::fs::canonicalize(&path).await,
        tokio::fs::canonicalize(&root).await,
    ) else {
        return not_found();
    };
    if !real.starts_with(&real_root) || !real.is_file() {
        return not_found();
    }
    let Ok(bytes) = tokio::fs::read(&real).await else {
        return not_found();
    };
    let len = bytes.len() as u64;
    let mut resp_headers = HeaderMap::new();
    resp_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&real)),
    );
    resp_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, body) = match range {
        None => (StatusCode::OK, bytes),
        Some(r) => match parse_range(r, len) {
            Some((start, end)) => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                    resp_headers.insert(header::CONTENT_RANGE, v);
                }
                (
                    StatusCode::PARTIAL_CONTENT,
                    bytes[start as usize..=end as usize].to_vec(),
                )
            }
            None => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    resp_headers.insert(header::CONTENT_RANGE, v);
                }
                return (StatusCode::RANGE_NOT_SATISFIABLE, resp_headers).into_response();
            }
        },
    };
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(body)
    };
    (status, resp_headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn resolves_inside_and_refuses_escapes() {
        let root = Path::new("/srv/r");
        assert_eq!(
            resolve(root, "/blueprints/bp/a%20b.sh").unwrap(),
            PathBuf::from("/srv/r/blueprints/bp/a b.sh")
        );
        for bad in [
            "/../etc/passwd",
            "/a/%2e%2e/%2e%2e/x",
            "/a/..",
            "/a%00b",
            "/a\\..\\b",
        ] {
            assert!(resolve(root, bad).is_err(), "{bad}");
        }
        assert_eq!(resolve(root, "/%zz"), Err(PathError::BadEncoding));
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-3", 10), Some((0, 3)));
        assert_eq!(parse_range("bytes=7-", 10), Some((7, 9)));
        assert_eq!(parse_range("bytes=-4", 10), Some((6, 9)));
        assert_eq!(parse_range("bytes=5-100", 10), Some((5, 9)));
        assert_eq!(parse_range("bytes=9-3", 10), None);
        assert_eq!(parse_range("bytes=10-", 10), None);
        assert_eq!(parse_range("bytes=0-1,3-4", 10), None);
    }

    proptest! {
        #[test]
        fn never_resolves_outside_the_root(path in "(/|[a-z]{1,3}|\\.\\.|\\.|%2e|%2f|%00|%5c)*") {
            let root = Path::new("/srv/root");
            if let Ok(p) = resolve(root, &path) {
                prop_assert!(p.starts_with(root));
                prop_assert!(p.components().all(|c| !matches!(c, Component::ParentDir)));
            }
        }
    }
}
