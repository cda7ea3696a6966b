//! Cold start and idle memory of `cfyd serve`.
//!
//! Run: `cargo bench --bench startup`. Starts the release binary N times on
//! free ports in fresh data directories, measures the time from spawn until
//! `ports.json` appears (every listener bound and serving), then the resident
//! memory of an idle instance. Prints one JSON line.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 30;

fn main() {
    let bin = env!("CARGO_BIN_EXE_cfyd");
    let mut times = Vec::with_capacity(RUNS);
    let mut rss_kib = 0;
    for run in 0..RUNS {
        let dir = tempfile::tempdir().expect("temp dir");
        let ports = dir.path().join("ports.json");
        let start = Instant::now();
        let mut child = Command::new(bin)
            .args([
                "serve",
                "--ephemeral-ports",
                "--log-filter",
                "warn",
                "--data-dir",
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn cfyd");
        while !ports.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "cfyd did not start"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        times.push(start.elapsed());
        if run == RUNS - 1 {
            std::thread::sleep(Duration::from_secs(1));
            rss_kib = rss_of(child.id());
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{{\"bench\":\"startup\",\"runs\":{RUNS},\"ready_ms_p50\":{:.2},\"ready_ms_p90\":{:.2},\"ready_ms_max\":{:.2},\"idle_rss_kib\":{rss_kib}}}",
        ms(times[RUNS / 2]),
        ms(times[RUNS * 9 / 10]),
        ms(times[RUNS - 1]),
    );
}

fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
