//! Event index throughput and query latency.
//!
//! Run: `cargo bench --bench events`. Indexes N ~1 KiB Cloudify events into
//! an on-disk index in pipeline-sized batches (2,000 docs, one commit each),
//! then times the UI's typical queries. Prints one JSON line.

use std::time::Instant;

use search::{EventIndex, Search};
use serde_json::json;

const N: usize = 200_000;
const BATCH: usize = 2_000;
const QUERIES: usize = 200;

fn event(i: usize) -> serde_json::Value {
    json!({
        "type": if i.is_multiple_of(5) { "cloudify_log" } else { "cloudify_event" },
        "event_type": "task_succeeded", "level": if i.is_multiple_of(50) { "error" } else { "info" },
        "message": {"text": format!("Task succeeded 'nova_plugin.server.create' on vm_{:05x} attempt {}", i % 4096, i % 7), "arguments": null},
        "timestamp": "2015-12-07 14:03:15.004+0000", "message_code": null,
        "context": {"blueprint_id": "bp", "deployment_id": format!("dep{}", i % 20), "execution_id": format!("exec-{}", i / 1000),
                    "workflow_id": "install", "task_id": "b1e2c3d4-0000-0000-0000-000000000000", "task_name": "nova_plugin.server.create",
                    "task_queue": "dep1", "task_target": "dep1", "operation": "cloudify.interfaces.lifecycle.create", "plugin": "openstack",
                    "node_id": format!("vm_{:05x}", i % 4096), "node_name": "vm", "task_current_retries": 0, "task_total_retries": -1,
                    "pad": "x".repeat(400)},
    })
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p) as usize]
}

fn time_query(idx: &EventIndex, q: &Search) -> (f64, f64) {
    let mut t = Vec::with_capacity(QUERIES);
    for _ in 0..QUERIES {
        let s = Instant::now();
        let _ = idx.search(q).expect("search");
        t.push(s.elapsed().as_secs_f64() * 1000.0);
    }
    (percentile(t.clone(), 0.5), percentile(t, 0.99))
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let idx = EventIndex::open(dir.path()).expect("open");
    let docs: Vec<serde_json::Value> = (0..N).map(event).collect();
    let bytes: usize = docs.iter().map(|d| d.to_string().len()).sum();
    let start = Instant::now();
    let now = 1_449_497_000_000i64;
    for (b, chunk) in docs.chunks(BATCH).enumerate() {
        idx.append(chunk.to_vec(), now + b as i64 * 1000)
            .expect("append");
        idx.commit().expect("commit");
    }
    let secs = start.elapsed().as_secs_f64();
    let q = |body: serde_json::Value| search::es::parse_search(&body, now).expect("query");
    let exec = q(json!({"size": 10_000, "sort": [{"@timestamp": "asc"}],
        "query": {"bool": {"filter": [{"term": {"context.execution_id": "exec-77"}}]}}}));
    let errors = q(json!({"size": 100, "sort": [{"@timestamp": "desc"}],
        "query": {"bool": {"filter": [{"term": {"level": "error"}},
            {"range": {"@timestamp": {"gte": now + 40 * 1000, "lte": now + 100 * 1000}}}]}}}));
    let text = q(json!({"size": 50, "query": {"match_phrase": {"message.text": "vm_00abc"}}}));
    let (e50, e99) = time_query(&idx, &exec);
    let (l50, l99) = time_query(&idx, &errors);
    let (t50, t99) = time_query(&idx, &text);
    println!(
        "{{\"bench\":\"events\",\"docs\":{N},\"avg_doc_bytes\":{},\"index_docs_per_s\":{:.0},\"index_mb_per_s\":{:.1},\"execution_1000_ms_p50\":{e50:.2},\"execution_1000_ms_p99\":{e99:.2},\"errors_in_range_ms_p50\":{l50:.2},\"errors_in_range_ms_p99\":{l99:.2},\"text_ms_p50\":{t50:.2},\"text_ms_p99\":{t99:.2}}}",
        bytes / N,
        N as f64 / secs,
        bytes as f64 / secs / 1e6,
    );
}
