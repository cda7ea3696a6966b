//! Store throughput for node-instance-sized documents (~1 KiB JSON).
//!
//! Run: `cargo bench --bench store`. Inserts N documents one write at a
//! time, with and without fsync per write, then reads them back by id and
//! lists them through a secondary index. Prints one JSON line.

use std::time::Instant;

use serde_json::json;
use store::{CollectionSpec, Config, Query, Store};

fn doc(i: usize) -> serde_json::Value {
    json!({
        "id": format!("vm_{i:05x}"), "node_id": "vm", "deployment_id": format!("dep{}", i % 10),
        "host_id": format!("vm_{i:05x}"), "state": "started", "version": 1,
        "runtime_properties": {"ip": "10.0.0.1", "pad": "x".repeat(700)},
        "relationships": [{"type": "cloudify.relationships.contained_in", "target_name": "h", "target_id": "h_00001"}],
    })
}

fn run(flush: bool, n: usize) -> (f64, f64, f64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let specs = [CollectionSpec::new("node_instances", &["deployment_id"])];
    let s = Store::open(
        Config {
            path: Some(dir.path().to_owned()),
            flush_every_write: flush,
        },
        &specs,
    )
    .expect("open");
    let t = Instant::now();
    for i in 0..n {
        s.insert("node_instances", &format!("vm_{i:05x}"), doc(i))
            .expect("insert");
    }
    let inserts = n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for i in 0..n {
        let got = s
            .get("node_instances", &format!("vm_{i:05x}"))
            .expect("get");
        assert!(got.is_some());
    }
    let reads = n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let page = s
        .list(
            "node_instances",
            &Query::default().filter("deployment_id", "dep3"),
        )
        .expect("list");
    assert_eq!(page.total, n / 10);
    let list_ms = t.elapsed().as_secs_f64() * 1000.0;
    (inserts, reads, list_ms)
}

fn main() {
    let (fi, fr, fl) = run(true, 2_000);
    let (ni, nr, nl) = run(false, 20_000);
    println!(
        "{{\"bench\":\"store\",\"fsync_inserts_per_s\":{fi:.0},\"fsync_reads_per_s\":{fr:.0},\"fsync_index_list_ms\":{fl:.2},\"nofsync_inserts_per_s\":{ni:.0},\"nofsync_reads_per_s\":{nr:.0},\"nofsync_index_list_2000_ms\":{nl:.2}}}"
    );
}
