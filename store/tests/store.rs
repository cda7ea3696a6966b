//! Queries, pages, export/import, and durability across `kill -9`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use store::{CollectionSpec, Config, Error, Query, Store};

fn specs() -> Vec<CollectionSpec> {
    vec![
        CollectionSpec::new("executions", &["deployment_id", "status"]),
        CollectionSpec::new("blueprints", &[]),
    ]
}

#[test]
fn filters_sort_pages_and_projection() {
    let s = Store::open(Config::temporary(), &specs()).unwrap();
    for i in 0..25 {
        let dep = format!("d{}", i % 3);
        let status = if i % 2 == 0 { "terminated" } else { "failed" };
        s.insert("executions", &format!("e{i:02}"), json!({"deployment_id": dep, "status": status, "n": i, "created_at": format!("2015-01-{:02}", 25 - i)}))
            .unwrap();
    }
    let q = Query::default()
        .filter("deployment_id", "d1")
        .sort_by("created_at", false);
    let page = s.list("executions", &q).unwrap();
    assert_eq!(page.total, 8);
    let ns: Vec<i64> = page
        .items
        .iter()
        .map(|d| d.doc["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, vec![22, 19, 16, 13, 10, 7, 4, 1]);

    let mut q = Query::default().sort_by("n", true);
    q.filters.push(store::Filter {
        field: "status".into(),
        any_of: vec![json!("failed"), json!("nope")],
    });
    q.size = Some(5);
    q.include = Some(vec!["n".into()]);
    let first = s.list("executions", &q).unwrap();
    assert_eq!(first.total, 12);
    assert_eq!(first.items[0].doc, json!({"n": 23}));
    let mut next = q.clone();
    next.after = first.next.clone();
    let second = s.list("executions", &next).unwrap();
    assert_eq!(second.items[0].doc, json!({"n": 13}));
    let mut offset = q.clone();
    offset.offset = 10;
    assert_eq!(s.list("executions", &offset).unwrap().items.len(), 2);
    assert!(
        s.list("executions", &Query::default().filter("n", "7"))
            .unwrap()
            .items
            .len()
            == 1,
        "query-string numbers match"
    );
}

#[test]
fn bad_input_is_an_error_value() {
    let s = Store::open(Config::temporary(), &specs()).unwrap();
    assert!(matches!(
        s.insert("nope", "x", json!({})),
        Err(Error::UnknownCollection(_))
    ));
    assert!(matches!(
        s.insert("blueprints", "", json!({})),
        Err(Error::BadId(_))
    ));
    assert!(matches!(
        s.insert("blueprints", "a\0b", json!({})),
        Err(Error::BadId(_))
    ));
    assert!(matches!(
        s.insert("blueprints", "x", json!([1])),
        Err(Error::NotAnObject)
    ));
    s.insert("blueprints", "x", json!({"a": 1})).unwrap();
    let e = s
        .replace("blueprints", "x", json!({"a": 2}), Some(9))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "blueprints x update conflict [current_version=1, updated_version=9]"
    );
}

#[test]
fn export_then_import_reproduces_the_store() {
    let a = Store::open(Config::temporary(), &specs()).unwrap();
    a.insert("blueprints", "bp", json!({"plan": {"nodes": []}}))
        .unwrap();
    a.insert(
        "executions",
        "e1",
        json!({"deployment_id": "d", "status": "started"}),
    )
    .unwrap();
    a.update(
        "executions",
        "e1",
        serde_json::Map::from_iter([("status".to_string(), json!("terminated"))]),
        Some(1),
    )
    .unwrap();
    let mut dump = Vec::new();
    assert_eq!(a.export(&mut dump).unwrap(), 2);
    let b = Store::open(Config::temporary(), &specs()).unwrap();
    assert_eq!(b.import(&dump[..]).unwrap(), 2);
    let e1 = b.get("executions", "e1").unwrap().unwrap();
    assert_eq!(
        (e1.version, e1.doc["status"].clone()),
        (2, json!("terminated"))
    );
    let by_status = b
        .list(
            "executions",
            &Query::default().filter("status", "terminated"),
        )
        .unwrap();
    assert_eq!(by_status.total, 1, "indexes are rebuilt on import");
    assert!(b.import(&b"{not json}\n"[..]).is_err());
}

/// The child half of the crash test: writes until killed, printing the id of
/// each write after it returned Ok.
fn crash_child(dir: &str) {
    let s = Store::open(Config::at(dir), &specs()).unwrap();
    for i in 0.. {
        s.insert(
            "blueprints",
            &format!("b{i}"),
            json!({"i": i, "pad": "x".repeat(200)}),
        )
        .unwrap();
        println!("ok {i}");
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    if let Ok(dir) = std::env::var("STORE_CRASH_CHILD_DIR") {
        crash_child(&dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "acknowledged_writes_survive_kill_9",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("STORE_CRASH_CHILD_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acked = Vec::new();
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(i) = line.strip_prefix("ok ") {
                    acked.push(i.trim().parse::<u64>().unwrap());
                }
            }
            acked
        });
        std::thread::sleep(Duration::from_millis(300 + 200 * round));
        child.kill().unwrap();
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        assert!(!acked.is_empty(), "the child wrote nothing");
        let s = Store::open(Config::at(dir.path()), &specs()).unwrap();
        for i in &acked {
            assert!(
                s.get("blueprints", &format!("b{i}")).unwrap().is_some(),
                "acknowledged b{i} lost in round {round}"
            );
        }
        drop(s);
        // The next round starts over on the same directory.
        std::fs::remove_dir_all(dir.path()).unwrap();
    }
}
