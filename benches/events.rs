//! Event index throughput against raw tantivy, and query latency.
//!
//! Run: `cargo bench --bench events` (`EVENTS_BENCH_DOCS=1000000` for more;
//! default 200,000). Indexes N ~1 KiB Cloudify events twice: into a bare
//! tantivy index with the same fields and pre-extracted values (the limit
//! on this machine), then as message bodies through `EventIndex::append_events` in
//! pipeline-sized batches (`EVENTS_BENCH_BATCH`, default 10,000, one commit each). Then times the UI's typical
//! queries. Prints one JSON line.

use std::time::Instant;

use search::{EventIndex, Search};
use serde_json::{Value, json};
use tantivy::schema::{FAST, INDEXED, STORED, STRING, Schema, TEXT};
use tantivy::{DateTime, TantivyDocument};

fn batch() -> usize {
    std::env::var("EVENTS_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}
const QUERIES: usize = 200;
const BASE_MS: i64 = 1_449_497_000_000;

fn event(i: usize) -> Value {
    json!({
        "type": if i.is_multiple_of(5) { "cloudify_log" } else { "cloudify_event" },
        "event_type": "task_succeeded", "level": if i.is_multiple_of(50) { "error" } else { "info" },
        "message": {"text": format!("Task succeeded 'nova_plugin.server.create' on vm_{:05x} attempt {}", i % 4096, i % 7), "arguments": null},
        "@timestamp": search::format_millis(BASE_MS + i as i64 * 10), "message_code": null,
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

fn time_query(idx: &EventIndex, q: &Search) -> (f64, f64, usize) {
    let mut t = Vec::with_capacity(QUERIES);
    let mut n = 0;
    for _ in 0..QUERIES {
        let s = Instant::now();
        n = idx.search(q).expect("search").total;
        t.push(s.elapsed().as_secs_f64() * 1000.0);
    }
    (percentile(t.clone(), 0.5), percentile(t, 0.99), n)
}

/// Bare tantivy with the same fields, values extracted beforehand (only
/// `add_document` and `commit` are timed).
fn raw_tantivy(n: usize) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut b = Schema::builder();
    let source = b.add_text_field("_source", STORED);
    let seq = b.add_u64_field("_seq", INDEXED | FAST | STORED);
    let ts = b.add_date_field("@timestamp", INDEXED | FAST);
    let text = b.add_text_field("message.text", TEXT);
    let paths = [
        "type",
        "event_type",
        "level",
        "context.execution_id",
        "context.deployment_id",
        "context.blueprint_id",
        "context.workflow_id",
        "context.node_id",
        "context.node_name",
        "context.task_id",
        "context.task_name",
        "context.operation",
        "context.plugin",
    ];
    let kw: Vec<_> = paths
        .iter()
        .map(|p| b.add_text_field(p, STRING | FAST))
        .collect();
    let index = tantivy::Index::create_in_dir(dir.path(), b.build()).expect("index");
    let mut w: tantivy::IndexWriter = index.writer_with_num_threads(1, 48 << 20).expect("writer");
    let mut timed = 0.0;
    for first in (0..n).step_by(batch()) {
        let prepared: Vec<TantivyDocument> = (first..(first + batch()).min(n))
            .map(|i| {
                let d = event(i);
                let mut t = TantivyDocument::default();
                t.add_u64(seq, i as u64);
                t.add_date(ts, DateTime::from_timestamp_millis(BASE_MS + i as i64));
                t.add_text(text, d["message"]["text"].as_str().unwrap_or_default());
                for (p, f) in paths.iter().zip(&kw) {
                    let v = p.split('.').fold(&d, |v, k| &v[k]);
                    if let Some(s) = v.as_str() {
                        t.add_text(*f, s);
                    }
                }
                t.add_text(source, d.to_string());
                t
            })
            .collect();
        let start = Instant::now();
        for t in prepared {
            w.add_document(t).expect("add");
        }
        w.commit().expect("commit");
        timed += start.elapsed().as_secs_f64();
    }
    n as f64 / timed
}

fn main() {
    let n: usize = std::env::var("EVENTS_BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let raw = raw_tantivy(n);

    let dir = tempfile::tempdir().expect("temp dir");
    let idx = EventIndex::open(dir.path()).expect("open");
    // As the pipeline gets them: message bodies (made before the clock runs).
    let mut secs = 0.0;
    let mut bytes = 0;
    for first in (0..n).step_by(batch()) {
        let bodies: Vec<Vec<u8>> = (first..(first + batch()).min(n))
            .map(|i| event(i).to_string().into_bytes())
            .collect();
        bytes += bodies.iter().map(Vec::len).sum::<usize>();
        let start = Instant::now();
        let events = bodies.iter().map(|b| (None, &b[..])).collect();
        idx.append_events(events, BASE_MS).expect("append");
        idx.commit().expect("commit");
        secs += start.elapsed().as_secs_f64();
    }
    let disk = idx.disk_bytes().unwrap_or(0);

    let now = BASE_MS + n as i64 * 10;
    let q = |body: Value| search::es::parse_search(&body, now).expect("query");
    let exec = q(json!({"size": 1000, "sort": [{"@timestamp": "asc"}],
        "query": {"bool": {"filter": [{"term": {"context.execution_id": format!("exec-{}", n / 2000)}}]}}}));
    let errors = q(json!({"size": 100, "sort": [{"@timestamp": "desc"}],
        "query": {"bool": {"filter": [{"term": {"level": "error"}}, {"range": {"@timestamp": {"gte": "now-1h"}}}]}}}));
    let text = q(
        json!({"size": 50, "sort": [{"@timestamp": "desc"}], "query": {"match_phrase": {"message.text": "vm_00abc"}}}),
    );
    let (e50, e99, en) = time_query(&idx, &exec);
    let (l50, l99, ln) = time_query(&idx, &errors);
    let (t50, t99, tn) = time_query(&idx, &text);
    println!(
        "{{\"bench\":\"events\",\"docs\":{n},\"avg_doc_bytes\":{},\"raw_tantivy_docs_per_s\":{raw:.0},\"index_docs_per_s\":{:.0},\"ratio_to_raw\":{:.2},\"index_mb_per_s\":{:.1},\"disk_bytes_per_doc\":{:.0},\"execution_hits\":{en},\"execution_ms_p50\":{e50:.2},\"execution_ms_p99\":{e99:.2},\"errors_last_hour_hits\":{ln},\"errors_last_hour_ms_p50\":{l50:.2},\"errors_last_hour_ms_p99\":{l99:.2},\"text_hits\":{tn},\"text_ms_p50\":{t50:.2},\"text_ms_p99\":{t99:.2}}}",
        bytes / n,
        n as f64 / secs,
        n as f64 / secs / raw,
        bytes as f64 / secs / 1e6,
        disk as f64 / n as f64,
    );
}
