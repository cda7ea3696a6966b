//! The REST model endpoints over real HTTP: blueprints, deployments,
//! executions, nodes, node instances, provider context.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;

use common::Cfyd;
use serde_json::{Value, json};

fn runnable(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/blueprints/runnable")
        .join(name)
}

/// A tar.gz of `dir` under one top-level directory, as the client builds it.
fn tar_gz(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    b.append_dir_all(dir.file_name().unwrap(), dir).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

fn zip_of(dir: &Path) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut out);
    let root = dir.file_name().unwrap().to_string_lossy().into_owned();
    for entry in walk(dir) {
        let rel = entry
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        z.start_file(
            format!("{root}/{rel}"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        z.write_all(&std::fs::read(&entry).unwrap()).unwrap();
    }
    z.finish().unwrap();
    out.into_inner()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(cfyd: &Cfyd) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: cfyd.url("rest", "/api/v2"),
        }
    }
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            r = r
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
    async fn upload(&self, id: &str, archive: Vec<u8>) -> (u16, Value) {
        let resp = self
            .http
            .put(format!(
                "{}/blueprints/{id}?application_file_name=blueprint.yaml",
                self.base
            ))
            .header("Content-Type", "application/json")
            .body(archive)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }
}

#[tokio::test]
async fn blueprint_to_deployment_to_node_instances() {
    let cfyd = Cfyd::start();
    let api = Api::new(&cfyd);
    let (code, bp) = api.upload("hw", tar_gz(&runnable("hello-web"))).await;
    assert_eq!(code, 201, "{bp}");
    assert_eq!(bp["main_file_name"], "blueprint.yaml");
    assert!(bp["plan"]["nodes"].as_array().unwrap().len() == 2);
    let (code, again) = api.upload("hw", tar_gz(&runnable("hello-web"))).await;
    assert_eq!(
        (code, again["error_code"].as_str()),
        (409, Some("conflict_error"))
    );
    let (code, zipped) = api.upload("mi", zip_of(&runnable("multi-instance"))).await;
    assert_eq!(code, 201, "{zipped}");

    let (code, dep) = api
        .call(
            reqwest::Method::PUT,
            "/deployments/d1",
            Some(json!({"blueprint_id": "hw"})),
        )
        .await;
    assert_eq!(code, 201, "{dep}");
    assert_eq!(dep["inputs"]["webserver_port"], 18080);
    assert!(
        dep["workflows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["name"] == "install" && w["created_at"].is_null())
    );
    assert!(dep.get("permalink").is_none());

    let (_, nodes) = api
        .call(
            reqwest::Method::GET,
            "/nodes?deployment_id=d1&id=host",
            None,
        )
        .await;
    assert_eq!(
        nodes["items"][0]["number_of_instances"], "1",
        "counts are strings"
    );
    let (_, insts) = api
        .call(
            reqwest::Method::GET,
            "/node-instances?deployment_id=d1",
            None,
        )
        .await;
    let items = insts["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|i| i["version"].is_null() && i["state"] == "uninitialized")
    );
    let id = items[0]["id"].as_str().unwrap().to_owned();

    let (_, one) = api
        .call(reqwest::Method::GET, &format!("/node-instances/{id}"), None)
        .await;
    assert_eq!(one["version"], 1);
    let patch = |version: Value, rp: Value| json!({"version": version, "state": "started", "runtime_properties": rp});
    let (code, upd) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/node-instances/{id}"),
            Some(patch(json!(1), json!({"a": 1}))),
        )
        .await;
    assert_eq!(
        (code, upd["version"].clone(), upd["state"].clone()),
        (200, json!(2), json!("started"))
    );
    let (code, stale) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/node-instances/{id}"),
            Some(patch(json!(1), json!({"b": 2}))),
        )
        .await;
    assert_eq!(
        (code, stale["error_code"].as_str()),
        (409, Some("conflict_error"))
    );
    assert_eq!(
        stale["message"],
        "Node instance update conflict [current_version=2, updated_version=1]"
    );
    let (code, forced) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/node-instances/{id}"),
            Some(patch(json!(0), json!({"b": 2}))),
        )
        .await;
    assert_eq!(
        (code, forced["runtime_properties"].clone()),
        (200, json!({"b": 2})),
        "version 0 skips the check; the map is replaced"
    );
    let (code, bad) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/node-instances/{id}"),
            Some(json!({"version": true})),
        )
        .await;
    assert_eq!(
        (code, bad["error_code"].as_str()),
        (400, Some("bad_parameters_error"))
    );

    let (_, execs) = api
        .call(reqwest::Method::GET, "/executions?deployment_id=d1", None)
        .await;
    assert_eq!(
        execs["items"][0]["workflow_id"],
        "create_deployment_environment"
    );
    assert_eq!(execs["items"][0]["status"], "terminated");
    let (code, start) = api.call(reqwest::Method::POST, "/executions", Some(json!({"deployment_id": "d1", "workflow_id": "uninstall", "force": "false", "allow_custom_parameters": "false"}))).await;
    assert_eq!(code, 201, "{start}");
    assert_eq!(
        (start["workflow_id"].as_str(), start["status"].as_str()),
        (Some("uninstall"), Some("pending"))
    );
    // uninstall runs hello-web's stop and delete scripts (which find
    // nothing to remove) and ends terminated, every instance deleted.
    let exec_path = format!("/executions/{}", start["id"].as_str().unwrap());
    let ended = loop {
        let (_, e) = api.call(reqwest::Method::GET, &exec_path, None).await;
        if matches!(
            e["status"].as_str(),
            Some("terminated" | "failed" | "cancelled")
        ) {
            break e;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(ended["status"], "terminated", "{ended}");
    let (code, _) = api
        .call(
            reqwest::Method::PATCH,
            &format!("/node-instances/{id}"),
            Some(json!({"version": 0, "state": "started"})),
        )
        .await;
    assert_eq!(code, 200);
    let (code, nope) = api
        .call(
            reqwest::Method::POST,
            "/executions",
            Some(json!({"deployment_id": "d1", "workflow_id": "nope"})),
        )
        .await;
    assert_eq!(
        (code, nope["error_code"].as_str()),
        (400, Some("nonexistent_workflow_error"))
    );

    let (code, outputs) = api
        .call(reqwest::Method::GET, "/deployments/d1/outputs", None)
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        outputs["outputs"]["http_endpoint"],
        "http://127.0.0.1:18080/"
    );

    let (code, dependent) = api
        .call(reqwest::Method::DELETE, "/blueprints/hw", None)
        .await;
    assert_eq!(
        (code, dependent["error_code"].as_str()),
        (400, Some("dependent_exists_error"))
    );
    let (code, live) = api
        .call(reqwest::Method::DELETE, "/deployments/d1", None)
        .await;
    assert_eq!(
        (code, live["error_code"].as_str()),
        (400, Some("dependent_exists_error")),
        "a started instance is live"
    );
    let (code, gone) = api
        .call(
            reqwest::Method::DELETE,
            "/deployments/d1?ignore_live_nodes=true",
            None,
        )
        .await;
    assert_eq!(
        (code, gone["id"].as_str(), gone["blueprint_id"].clone()),
        (200, Some("d1"), Value::Null)
    );
    let (code, _) = api
        .call(reqwest::Method::DELETE, "/blueprints/hw", None)
        .await;
    assert_eq!(code, 200);
    let (code, missing) = api.call(reqwest::Method::GET, "/blueprints/hw", None).await;
    assert_eq!(
        (code, missing["error_code"].as_str()),
        (404, Some("not_found_error"))
    );
}

#[tokio::test]
async fn bad_requests_get_cloudify_errors() {
    let cfyd = Cfyd::start();
    let api = Api::new(&cfyd);
    let dir = tempfile::tempdir().unwrap();
    let bp = dir.path().join("bad");
    std::fs::create_dir(&bp).unwrap();
    std::fs::write(
        bp.join("blueprint.yaml"),
        "tosca_definitions_version: cloudify_dsl_1_2\nnode_templates:\n  a: {type: nope}\n",
    )
    .unwrap();
    let (code, e) = api.upload("bad", tar_gz(&bp)).await;
    assert_eq!(
        (code, e["error_code"].as_str()),
        (400, Some("invalid_blueprint_error"))
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid blueprint - ")
    );
    let (code, e) = api
        .upload("junk", b"definitely not an archive".to_vec())
        .await;
    assert_eq!(
        (code, e["error_code"].as_str()),
        (400, Some("bad_parameters_error"))
    );

    let (code, _) = api.upload("hw", tar_gz(&runnable("ops-and-inputs"))).await;
    assert_eq!(code, 201);
    let (code, e) = api
        .call(
            reqwest::Method::PUT,
            "/deployments/x",
            Some(json!({"blueprint_id": "hw", "inputs": {"zzz": 1}})),
        )
        .await;
    assert_eq!(
        (code, e["error_code"].as_str()),
        (400, Some("unknown_deployment_input_error")),
        "{e}"
    );
    let (code, e) = api
        .call(
            reqwest::Method::PUT,
            "/deployments/x",
            Some(json!({"blueprint_id": "nope"})),
        )
        .await;
    assert_eq!(
        (code, e["error_code"].as_str()),
        (404, Some("not_found_error"))
    );
    let resp = api
        .http
        .put(format!("{}/deployments/x", api.base))
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    let (code, e) = api
        .call(
            reqwest::Method::GET,
            "/blueprints?_include=id,nonsense",
            None,
        )
        .await;
    assert_eq!(
        (code, e["error_code"].as_str()),
        (400, Some("no_such_include_field_error"))
    );
    let (code, e) = api
        .call(reqwest::Method::GET, "/blueprints?colour=red", None)
        .await;
    assert_eq!(
        (code, e["error_code"].as_str()),
        (400, Some("bad_parameters_error"))
    );
    let (code, spec) = api.call(reqwest::Method::GET, "/swagger.json", None).await;
    assert_eq!((code, spec["openapi"].as_str()), (200, Some("3.0.3")));
    assert!(spec["paths"]["/api/v2/deployments/{id}"]["put"]["requestBody"].is_object());
    let (code, e) = api.call(reqwest::Method::GET, "/tokens", None).await;
    assert_eq!(
        (code, e["error_code"].as_str()),
        (401, Some("application_not_secured_error"))
    );
}

#[tokio::test]
async fn v1_lists_are_bare_arrays_and_v2_pages() {
    let cfyd = Cfyd::start();
    let api = Api::new(&cfyd);
    for i in 0..3 {
        let (code, _) = api
            .upload(&format!("bp{i}"), tar_gz(&runnable("two-tier")))
            .await;
        assert_eq!(code, 201);
    }
    let v1: Value = reqwest::get(cfyd.url("rest", "/api/v1/blueprints"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v1.as_array().unwrap().len(), 3);
    assert!(v1[0].get("main_file_name").is_none(), "v1 field set");
    let root: Value = reqwest::get(cfyd.url("rest", "/blueprints"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(root.is_array(), "3.2 root paths are v1");
    let (_, page) = api
        .call(
            reqwest::Method::GET,
            "/blueprints?_sort=-id&_size=2&_offset=0&_include=id",
            None,
        )
        .await;
    assert_eq!(page["items"], json!([{"id": "bp2"}, {"id": "bp1"}]));
    assert_eq!(
        page["metadata"]["pagination"],
        json!({"total": 3, "size": 2, "offset": 0})
    );

    let (code, ctx) = api
        .call(reqwest::Method::GET, "/provider/context", None)
        .await;
    assert_eq!((code, ctx["name"].as_str()), (200, Some("cfyd")));
    let (code, _) = api
        .call(
            reqwest::Method::POST,
            "/provider/context",
            Some(json!({"name": "p", "context": {"a": 1}})),
        )
        .await;
    assert_eq!(code, 201);
    let (code, _) = api
        .call(
            reqwest::Method::POST,
            "/provider/context",
            Some(json!({"name": "p", "context": {"a": 1}})),
        )
        .await;
    assert_eq!(code, 409);
    let (code, _) = api
        .call(
            reqwest::Method::POST,
            "/provider/context?update=true",
            Some(json!({"name": "p", "context": {"a": 2}})),
        )
        .await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn file_server_serves_uploaded_blueprints_safely() {
    let cfyd = Cfyd::start();
    let api = Api::new(&cfyd);
    let (code, _) = api.upload("hw", tar_gz(&runnable("hello-web"))).await;
    assert_eq!(code, 201);
    let url = |p: &str| cfyd.url("file_server", p);
    let want = std::fs::read(runnable("hello-web").join("scripts/start.sh")).unwrap();
    let resp = reqwest::get(url("/blueprints/hw/scripts/start.sh"))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), want);
    let ranged = reqwest::Client::new()
        .get(url("/blueprints/hw/scripts/start.sh"))
        .header("Range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status().as_u16(), 206);
    assert_eq!(ranged.bytes().await.unwrap().to_vec(), want[..4].to_vec());
    let archive = reqwest::get(url("/uploaded-blueprints/hw/hw.tar.gz"))
        .await
        .unwrap();
    assert_eq!(archive.status().as_u16(), 200);
    for bad in [
        "/blueprints/hw/../../store",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/blueprints/nope.sh",
    ] {
        let code = reqwest::get(url(bad)).await.unwrap().status().as_u16();
        assert!(code == 400 || code == 404, "{bad}: {code}");
    }
    let download = reqwest::get(cfyd.url("rest", "/api/v2/blueprints/hw/archive"))
        .await
        .unwrap();
    assert_eq!(
        download.headers()["content-disposition"],
        "attachment; filename=hw.tar.gz"
    );
    let stored = std::fs::read(
        cfyd.data_dir()
            .join("resources/uploaded-blueprints/hw/hw.tar.gz"),
    )
    .unwrap();
    assert_eq!(download.bytes().await.unwrap().to_vec(), stored);
}

#[tokio::test]
async fn deployment_modifications_scale_out_finish_and_roll_back() {
    let cfyd = Cfyd::start();
    let api = Api::new(&cfyd);
    let (code, _) = api.upload("mi", tar_gz(&runnable("multi-instance"))).await;
    assert_eq!(code, 201);
    let (code, _) = api
        .call(
            reqwest::Method::PUT,
            "/deployments/m",
            Some(json!({"blueprint_id": "mi"})),
        )
        .await;
    assert_eq!(code, 201);
    assert_eq!(worker_count(&api).await, 3);
    let (code, m) = api.call(reqwest::Method::POST, "/deployment-modifications", Some(json!({"deployment_id": "m", "nodes": {"worker": {"instances": 5}}, "context": {"workflow_id": "scale"}}))).await;
    assert_eq!(code, 201, "{m}");
    assert_eq!(m["status"], "started");
    let added = m["node_instances"]["added_and_related"].as_array().unwrap();
    assert_eq!(
        added
            .iter()
            .filter(|i| i["modification"] == "added")
            .count(),
        2
    );
    assert_eq!(
        m["node_instances"]["before_modification"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        worker_count(&api).await,
        5,
        "new instances are stored at start"
    );
    let (code, busy) = api
        .call(
            reqwest::Method::POST,
            "/deployment-modifications",
            Some(json!({"deployment_id": "m", "nodes": {"worker": {"instances": 1}}})),
        )
        .await;
    assert_eq!(
        (code, busy["error_code"].as_str()),
        (400, Some("existing_started_deployment_modification_error"))
    );
    let mid = m["id"].as_str().unwrap();
    let (code, done) = api
        .call(
            reqwest::Method::POST,
            &format!("/deployment-modifications/{mid}/finish"),
            None,
        )
        .await;
    assert_eq!((code, done["status"].as_str()), (200, Some("finished")));
    let (code, again) = api
        .call(
            reqwest::Method::POST,
            &format!("/deployment-modifications/{mid}/finish"),
            None,
        )
        .await;
    assert_eq!(
        (code, again["error_code"].as_str()),
        (400, Some("deployment_modification_already_ended_error"))
    );
    let (_, nodes) = api
        .call(
            reqwest::Method::GET,
            "/nodes?deployment_id=m&id=worker",
            None,
        )
        .await;
    assert_eq!(nodes["items"][0]["number_of_instances"], "5");

    let (_, shrink) = api
        .call(
            reqwest::Method::POST,
            "/deployment-modifications",
            Some(json!({"deployment_id": "m", "nodes": {"worker": {"instances": 1}}})),
        )
        .await;
    assert_eq!(worker_count(&api).await, 5, "removal happens at finish");
    let sid = shrink["id"].as_str().unwrap();
    let (code, rb) = api
        .call(
            reqwest::Method::POST,
            &format!("/deployment-modifications/{sid}/rollback"),
            None,
        )
        .await;
    assert_eq!((code, rb["status"].as_str()), (200, Some("rolledback")));
    assert_eq!(worker_count(&api).await, 5);
    let (_, shrink) = api
        .call(
            reqwest::Method::POST,
            "/deployment-modifications",
            Some(json!({"deployment_id": "m", "nodes": {"worker": {"instances": 2}}})),
        )
        .await;
    let sid = shrink["id"].as_str().unwrap();
    api.call(
        reqwest::Method::POST,
        &format!("/deployment-modifications/{sid}/finish"),
        None,
    )
    .await;
    assert_eq!(worker_count(&api).await, 2);
    let (_, list) = api
        .call(
            reqwest::Method::GET,
            "/deployment-modifications?deployment_id=m",
            None,
        )
        .await;
    assert_eq!(list["metadata"]["pagination"]["total"], 3);
}

async fn worker_count(api: &Api) -> usize {
    let (_, v) = api
        .call(
            reqwest::Method::GET,
            "/node-instances?deployment_id=m&node_id=worker",
            None,
        )
        .await;
    v["items"].as_array().unwrap().len()
}

fn wagon(name: &str, archive: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let meta = json!({"package_name": name, "package_version": "1.0", "archive_name": archive, "package_source": "x", "supported_platform": "any", "build_server_os_properties": {"distribution": "debian", "distribution_version": "12", "distribution_release": "bookworm"}, "wheels": ["a.whl"], "excluded_wheels": [], "supported_python_versions": ["py3"]}).to_string();
    let mut h = tar::Header::new_gnu();
    h.set_size(meta.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, format!("{name}-1.0/package.json"), meta.as_bytes())
        .unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

#[tokio::test]
async fn plugins_and_snapshots_round_trip() {
    let cfyd = Cfyd::start();
    let api = Api::new(&cfyd);
    let post_plugin = |bytes: Vec<u8>| {
        let api = &api;
        async move {
            let resp = api
                .http
                .post(format!("{}/plugins", api.base))
                .header("Content-Type", "application/json")
                .body(bytes)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (code, p) = post_plugin(wagon("demo-plugin", "demo-plugin-1.0.wgn")).await;
    assert_eq!(code, 201, "{p}");
    assert_eq!(
        (p["distribution"].as_str(), p["wheels"].clone()),
        (Some("debian"), json!(["a.whl"]))
    );
    let (code, dup) = post_plugin(wagon("demo-plugin", "demo-plugin-1.0.wgn")).await;
    assert_eq!(
        (code, dup["error_code"].as_str()),
        (409, Some("conflict_error"))
    );
    let (code, bad) = post_plugin(b"nope".to_vec()).await;
    assert_eq!(
        (code, bad["error_code"].as_str()),
        (400, Some("invalid_plugin_error"))
    );
    let pid = p["id"].as_str().unwrap();
    let archive = reqwest::get(format!("{}/plugins/{pid}/archive", api.base))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        archive.to_vec(),
        wagon("demo-plugin", "demo-plugin-1.0.wgn")
    );

    let (code, _) = api.upload("hw", tar_gz(&runnable("hello-web"))).await;
    assert_eq!(code, 201);
    let (code, _) = api
        .call(
            reqwest::Method::PUT,
            "/deployments/d1",
            Some(json!({"blueprint_id": "hw"})),
        )
        .await;
    assert_eq!(code, 201);
    let (code, exec) = api
        .call(reqwest::Method::PUT, "/snapshots/s1", Some(json!({})))
        .await;
    assert_eq!(
        (code, exec["workflow_id"].as_str(), exec["status"].as_str()),
        (201, Some("create_snapshot"), Some("terminated")),
        "{exec}"
    );
    let (_, snap) = api.call(reqwest::Method::GET, "/snapshots/s1", None).await;
    assert_eq!(snap["status"], "created");
    let zip = reqwest::get(format!("{}/snapshots/s1/archive", api.base))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();

    // A fresh manager restores it.
    let other = Cfyd::start();
    let api2 = Api::new(&other);
    let resp = api2
        .http
        .put(format!("{}/snapshots/s1/archive", api2.base))
        .header("Content-Type", "application/json")
        .body(zip)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let (code, r) = api2
        .call(
            reqwest::Method::POST,
            "/snapshots/s1/restore",
            Some(json!({"recreate_deployments_envs": false, "force": false})),
        )
        .await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(r.as_object().unwrap().len(), 4, "snapshot-shaped: {r}");
    let (code, dep) = api2
        .call(reqwest::Method::GET, "/deployments/d1", None)
        .await;
    assert_eq!((code, dep["blueprint_id"].as_str()), (200, Some("hw")));
    let (_, insts) = api2
        .call(
            reqwest::Method::GET,
            "/node-instances?deployment_id=d1",
            None,
        )
        .await;
    assert_eq!(
        insts["items"].as_array().unwrap().len(),
        2,
        "indexes work after restore"
    );
    let script = reqwest::get(other.url("file_server", "/blueprints/hw/scripts/start.sh"))
        .await
        .unwrap();
    assert_eq!(script.status().as_u16(), 200);
    let (code, again) = api2
        .call(
            reqwest::Method::POST,
            "/snapshots/s1/restore",
            Some(json!({"recreate_deployments_envs": false, "force": false})),
        )
        .await;
    assert_eq!(
        (code, again["error_code"].as_str()),
        (400, Some("bad_parameters_error")),
        "not empty any more"
    );
}

#[tokio::test]
async fn oversized_uploads_get_413_in_cloudify_shape() {
    let cfyd = Cfyd::start_with(&["--set", "rest.max_upload_mb=1"]);
    let api = Api::new(&cfyd);
    let (code, e) = api.upload("big", vec![0u8; 2 << 20]).await;
    assert_eq!(
        (code, e["error_code"].as_str()),
        (413, Some("request_entity_too_large_error")),
        "{e}"
    );
    assert!(e["server_traceback"].is_string());
    // A fresh client: the server closes a connection whose body it refused.
    let resp = reqwest::get(format!("{}/blueprints/%FF%FE", api.base))
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert!(status == 400 || status == 404, "{status}");
    assert!(body["error_code"].is_string(), "{body}");
}
