//! An Elasticsearch-7-compatible HTTP API (9200) over the named event
//! indices and a read-only `cloudify_storage` view of the model store.
//! `cloudify_events` is the event index; 3.3's `logstash-*` daily names
//! resolve to it. Every response carries `X-Elastic-Product`; errors are
//! ES's error JSON. Writes are committed before the response (as if every
//! request said `refresh=true`).

mod bulk;
mod docs;
mod error;
mod indices;
mod response;
mod scroll;
pub mod search;
mod storage;
mod targets;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::{get, post, put};

pub use error::EsErr;
pub use targets::{EVENTS_INDEX, STORAGE_INDEX};

/// What the API serves.
#[derive(Clone)]
pub struct EsState {
    pub indices: Arc<::search::Indices>,
    /// The model behind `cloudify_storage`; `None` in tests of the indices alone.
    pub model: Option<Arc<crate::model::Model>>,
    pub scrolls: Arc<scroll::Scrolls>,
}

impl EsState {
    pub fn new(
        indices: Arc<::search::Indices>,
        model: Option<Arc<crate::model::Model>>,
    ) -> EsState {
        EsState {
            indices,
            model,
            scrolls: Arc::new(scroll::Scrolls::default()),
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Adds the product header, and answers in the compatible-with media type
/// a newer client asked for.
async fn headers(req: Request, next: axum::middleware::Next) -> Response {
    let compat = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.contains("compatible-with"))
        .map(|v| {
            let n = v
                .split("compatible-with=")
                .nth(1)
                .and_then(|r| r.chars().next())
                .filter(char::is_ascii_digit)
                .unwrap_or('7');
            format!("application/vnd.elasticsearch+json;compatible-with={n}")
        });
    let mut r = next.run(req).await;
    r.headers_mut().insert(
        "X-Elastic-Product",
        HeaderValue::from_static("Elasticsearch"),
    );
    if let Some(ct) = compat.and_then(|c| HeaderValue::from_str(&c).ok())
        && r.headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
    {
        r.headers_mut().insert("content-type", ct);
    }
    r
}

pub fn router(state: EsState) -> Router {
    Router::new()
        .route("/", get(indices::info))
        .route("/_cluster/health", get(indices::health))
        .route("/_cluster/health/{index}", get(indices::health))
        .route("/_cat/indices", get(indices::cat))
        .route("/_cat/indices/{index}", get(indices::cat_some))
        .route("/_mapping", get(indices::mapping_all))
        .route(
            "/_refresh",
            get(indices::refresh_all).post(indices::refresh_all),
        )
        .route(
            "/_flush",
            get(indices::refresh_all).post(indices::refresh_all),
        )
        .route("/_search", get(search::search_all).post(search::search_all))
        .route("/_count", get(search::count_all).post(search::count_all))
        .route(
            "/_search/scroll",
            get(scroll::next).post(scroll::next).delete(scroll::clear),
        )
        .route(
            "/_search/scroll/{id}",
            get(scroll::next_by_path).delete(scroll::clear_by_path),
        )
        .route("/_bulk", post(bulk::bulk_default).put(bulk::bulk_default))
        .route("/_mget", get(docs::mget_all).post(docs::mget_all))
        .route(
            "/{index}",
            get(indices::get_index)
                .put(indices::create)
                .delete(indices::delete),
        )
        .route("/{index}/_search", get(search::search).post(search::search))
        .route("/{index}/_count", get(search::count).post(search::count))
        .route("/{index}/_delete_by_query", post(search::delete_by_query))
        .route("/{index}/_bulk", post(bulk::bulk).put(bulk::bulk))
        .route("/{index}/_mget", get(docs::mget).post(docs::mget))
        .route(
            "/{index}/_mapping",
            get(indices::mapping)
                .put(indices::put_mapping)
                .post(indices::put_mapping),
        )
        .route(
            "/{index}/_refresh",
            get(indices::refresh).post(indices::refresh),
        )
        .route(
            "/{index}/_flush",
            get(indices::refresh).post(indices::refresh),
        )
        .route("/{index}/_doc", post(docs::create_auto))
        .route(
            "/{index}/_doc/{id}",
            get(docs::get)
                .put(docs::index)
                .post(docs::index)
                .delete(docs::delete),
        )
        .route(
            "/{index}/_create/{id}",
            put(docs::create).post(docs::create),
        )
        .route("/{index}/_update/{id}", post(docs::update))
        .route("/{index}/{kind}", post(docs::create_auto_typed))
        .route(
            "/{index}/{kind}/_search",
            get(search::search_typed).post(search::search_typed),
        )
        .route(
            "/{index}/{kind}/_count",
            get(search::count_typed).post(search::count_typed),
        )
        .route(
            "/{index}/{kind}/_query",
            axum::routing::delete(search::delete_typed),
        )
        .route(
            "/{index}/{kind}/_mapping",
            get(indices::mapping_typed).put(indices::put_mapping_typed),
        )
        .route(
            "/{index}/{kind}/{id}",
            get(docs::get_typed)
                .put(docs::index_typed)
                .post(docs::index_typed)
                .delete(docs::delete_typed),
        )
        .route(
            "/{index}/{kind}/{id}/_create",
            put(docs::create_typed).post(docs::create_typed),
        )
        .route("/{index}/{kind}/{id}/_update", post(docs::update_typed))
        .fallback(|| async {
            EsErr::bad_request(
                "illegal_argument_exception",
                "this endpoint is not supported yet by cfyd",
            )
        })
        .layer(axum::middleware::from_fn(headers))
        .with_state(state)
}
