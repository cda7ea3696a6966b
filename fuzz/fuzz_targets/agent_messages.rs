//! What an agent and the manager read off the broker — Celery task and
//! result messages — and the resource templates an agent renders: errors,
//! never panics, on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cfyd::celery::parse_task(None, data);
    let _ = cfyd::celery::parse_task(Some("application/json"), data);
    let _ = cfyd::celery::parse_result(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let ctx = serde_json::json!({"node": {"properties": {"a": [1, {"b": null}]}}});
        let vars = serde_json::json!({"x": "y", "n": 3});
        let _ = cfyd::workflows::render::render(text, &ctx, &vars);
    }
});
