//! The Elasticsearch query DSL parser and the _bulk parser: errors, never
//! panics, on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = search::es::parse_search(&v, 0);
    }
    let _ = search::es::parse_bulk(text);
    let _ = search::es::parse_query(&serde_json::json!({"query_string": {"query": text}}), 0);
});
