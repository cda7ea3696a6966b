//! The Elasticsearch-compatible API on 9200 against the real binary:
//! bulk, documents, indices, mappings, scroll, delete-by-query,
//! aggregations, search_after, the cloudify_storage view, and the REST
//! raw-query endpoints and live tail that share it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::Cfyd;
use reqwest::{Client, Method};
use serde_json::{Value, json};

struct Es {
    http: Client,
    base: String,
}

impl Es {
    fn new(cfyd: &Cfyd) -> Es {
        Es {
            http: Client::new(),
            base: cfyd.url("elasticsearch", ""),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        assert_eq!(resp.headers()["x-elastic-product"], "Elasticsearch");
        let code = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn bulk(&self, path: &str, lines: &[Value]) -> Value {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        self.http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn total(v: &Value) -> u64 {
    let t = &v["hits"]["total"];
    t.as_u64().or_else(|| t["value"].as_u64()).unwrap()
}

#[tokio::test]
async fn bulk_documents_and_searches() {
    let cfyd = Cfyd::start();
    let es = Es::new(&cfyd);
    let (_, info) = es.call(Method::GET, "/", None).await;
    assert!(info["version"]["number"].as_str().unwrap().starts_with('7'));

    let mut lines = Vec::new();
    for i in 0..6 {
        let level = if i % 2 == 0 { "error" } else { "info" };
        lines.push(json!({"index": {"_index": "logstash-2015.12.07", "_id": format!("d{i}")}}));
        lines.push(json!({"type": "cloudify_log", "level": level, "message": {"text": format!("line {i}")},
                          "context": {"execution_id": "es-1"}, "@timestamp": format!("2015-12-07T14:03:0{i}.000Z")}));
    }
    lines.push(json!({"delete": {"_index": "cloudify_events", "_id": "d0"}}));
    lines.push(json!({"create": {"_index": "cloudify_events", "_id": "d1"}}));
    lines.push(json!({"a": 1}));
    lines.push(json!({"update": {"_index": "cloudify_events", "_id": "d3"}}));
    lines.push(json!({"doc": {"level": "warn"}}));
    lines.push(json!({"index": {"_index": "cloudify_storage", "_id": "x"}}));
    lines.push(json!({"a": 1}));
    let r = es.bulk("/_bulk", &lines).await;
    let items = r["items"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    assert_eq!(r["errors"], true);
    assert_eq!(items[0]["index"]["status"], 201);
    assert_eq!(items[6]["delete"]["result"], "deleted");
    assert_eq!(items[7]["create"]["status"], 409, "{r}");
    assert_eq!(items[8]["update"]["result"], "updated");
    assert_eq!(
        items[9]["index"]["status"], 403,
        "the storage view is read-only"
    );

    let (_, count) = es
        .call(
            Method::POST,
            "/cloudify_events/_count",
            Some(json!({"query": {"term": {"level": "error"}}})),
        )
        .await;
    assert_eq!(count["count"], 2, "d0 deleted, d2 and d4 left");
    let (_, found) = es
        .call(Method::POST, "/logstash-*/_search", Some(json!({"size": 2, "sort": [{"@timestamp": {"order": "desc"}}],
            "query": {"bool": {"filter": [{"term": {"context.execution_id": "es-1"}}], "must_not": [{"term": {"level": "error"}}]}},
            "_source": ["message", "level"], "track_total_hits": true})))
        .await;
    assert_eq!(
        found["hits"]["total"],
        json!({"value": 3, "relation": "eq"})
    );
    let hits = found["hits"]["hits"].as_array().unwrap();
    assert_eq!(hits[0]["_id"], "d5");
    assert_eq!(
        hits[0]["_source"],
        json!({"level": "info", "message": {"text": "line 5"}})
    );
    assert_eq!(
        hits[1]["_source"]["level"], "warn",
        "the partial update landed"
    );
    // search_after continues where the page ended.
    let (_, next) = es
        .call(Method::POST, "/cloudify_events/_search", Some(json!({"size": 10, "sort": [{"@timestamp": {"order": "desc"}}],
            "query": {"term": {"context.execution_id": "es-1"}}, "search_after": hits[1]["sort"].clone()})))
        .await;
    let ids: Vec<&str> = next["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["d2", "d1"]);
    // URL query string, aggregations.
    let (_, q) = es
        .call(
            Method::GET,
            "/cloudify_events/_search?q=level:error%20OR%20level:warn&size=0",
            None,
        )
        .await;
    assert_eq!(total(&q), 3);
    let (_, aggs) = es
        .call(
            Method::POST,
            "/cloudify_events/_search",
            Some(json!({"size": 0, "aggs": {"levels": {"terms": {"field": "level"}}}})),
        )
        .await;
    let buckets = aggs["aggregations"]["levels"]["buckets"]
        .as_array()
        .unwrap();
    assert_eq!(buckets.len(), 3, "{aggs}");

    // Documents.
    let (code, put) = es
        .call(
            Method::PUT,
            "/notes/_doc/n1",
            Some(json!({"title": "hello", "n": 1})),
        )
        .await;
    assert_eq!((code, put["result"].as_str()), (201, Some("created")));
    let (code, put) = es
        .call(
            Method::PUT,
            "/notes/_doc/n1",
            Some(json!({"title": "hello again", "n": 2})),
        )
        .await;
    assert_eq!(
        (code, put["result"].as_str(), put["_version"].as_u64()),
        (200, Some("updated"), Some(2))
    );
    let (code, got) = es
        .call(Method::GET, "/notes/_doc/n1?_source_includes=n", None)
        .await;
    assert_eq!(
        (code, got["found"].as_bool(), got["_source"].clone()),
        (200, Some(true), json!({"n": 2}))
    );
    let (code, _) = es
        .call(Method::PUT, "/notes/_create/n1", Some(json!({"x": 1})))
        .await;
    assert_eq!(code, 409);
    let (code, auto) = es
        .call(
            Method::POST,
            "/notes/_doc",
            Some(json!({"title": "auto", "n": 5})),
        )
        .await;
    assert_eq!(code, 201);
    let (_, range) = es
        .call(
            Method::POST,
            "/notes/_search",
            Some(json!({"query": {"range": {"n": {"gte": 2}}}, "sort": [{"n": "desc"}]})),
        )
        .await;
    assert_eq!(range["hits"]["hits"][0]["_id"], auto["_id"]);
    assert_eq!(total(&range), 2);
    let (code, del) = es.call(Method::DELETE, "/notes/_doc/n1", None).await;
    assert_eq!((code, del["result"].as_str()), (200, Some("deleted")));
    let (code, _) = es.call(Method::GET, "/notes/_doc/n1", None).await;
    assert_eq!(code, 404);
    let (code, _) = es.call(Method::DELETE, "/notes/_doc/n1", None).await;
    assert_eq!(code, 404);
    let (code, bad) = es
        .call(
            Method::PUT,
            "/notes/_doc/n2",
            Some(json!({"@timestamp": "yesterday"})),
        )
        .await;
    assert_eq!(
        (code, bad["error"]["type"].as_str()),
        (400, Some("mapper_parsing_exception"))
    );

    // Newer clients' compatible-with media types.
    let compat = "application/vnd.elasticsearch+json; compatible-with=7";
    let r = es
        .http
        .post(format!("{}/cloudify_events/_count", es.base))
        .header("Content-Type", compat)
        .header("Accept", compat)
        .body(json!({"query": {"term": {"level": "error"}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.elasticsearch+json;compatible-with=7"
    );
    assert_eq!(r.json::<Value>().await.unwrap()["count"], 2);

    // Errors.
    let (code, bad) = es
        .call(
            Method::POST,
            "/cloudify_events/_search",
            Some(json!({"query": {"fuzzy": {"x": "y"}}})),
        )
        .await;
    assert_eq!(
        (code, bad["error"]["type"].as_str()),
        (400, Some("parsing_exception"))
    );
    let (code, _) = es.call(Method::GET, "/other_index/_search", None).await;
    assert_eq!(code, 404);
    let (code, _) = es
        .call(
            Method::GET,
            "/other_index/_search?ignore_unavailable=true",
            None,
        )
        .await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn indices_mappings_scroll_and_delete_by_query() {
    let cfyd = Cfyd::start();
    let es = Es::new(&cfyd);
    let (code, created) = es
        .call(
            Method::PUT,
            "/audit",
            Some(json!({"settings": {"number_of_shards": 1}})),
        )
        .await;
    assert_eq!((code, created["acknowledged"].as_bool()), (200, Some(true)));
    let (code, again) = es.call(Method::PUT, "/audit", None).await;
    assert_eq!(
        (code, again["error"]["type"].as_str()),
        (400, Some("resource_already_exists_exception"))
    );
    let (code, _) = es.call(Method::PUT, "/Bad", None).await;
    assert_eq!(code, 400);
    let head = es
        .http
        .head(format!("{}/audit", es.base))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);
    let (_, mapping) = es
        .call(Method::GET, "/cloudify_events/_mapping", None)
        .await;
    assert_eq!(
        mapping["cloudify_events"]["mappings"]["properties"]["context"]["properties"]["execution_id"]
            ["type"],
        "keyword"
    );
    assert_eq!(
        mapping["cloudify_events"]["mappings"]["properties"]["@timestamp"]["type"],
        "date"
    );
    let (code, _) = es
        .call(
            Method::PUT,
            "/audit/_mapping",
            Some(json!({"properties": {"who": {"type": "keyword"}}})),
        )
        .await;
    assert_eq!(code, 200);

    let lines: Vec<Value> = (0..25)
        .flat_map(|i| {
            [
                json!({"index": {}}),
                json!({"who": format!("u{}", i % 5), "i": i}),
            ]
        })
        .collect();
    let r = es.bulk("/audit/_bulk", &lines).await;
    assert_eq!(r["errors"], false);
    let (_, cat) = es
        .call(Method::GET, "/_cat/indices?format=json", None)
        .await;
    let names: Vec<&str> = cat
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"audit")
            && names.contains(&"cloudify_events")
            && names.contains(&"cloudify_storage"),
        "{cat}"
    );

    // A 7.x scroll over everything, ten at a time.
    let (_, first) = es
        .call(
            Method::POST,
            "/audit/_search?scroll=1m",
            Some(json!({"size": 10, "sort": ["_doc"]})),
        )
        .await;
    let mut id = first["_scroll_id"].as_str().unwrap().to_owned();
    let mut seen: Vec<i64> = first["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_source"]["i"].as_i64().unwrap())
        .collect();
    loop {
        let (_, page) = es
            .call(
                Method::POST,
                "/_search/scroll",
                Some(json!({"scroll": "1m", "scroll_id": id})),
            )
            .await;
        let hits = page["hits"]["hits"].as_array().unwrap();
        if hits.is_empty() {
            break;
        }
        seen.extend(hits.iter().map(|h| h["_source"]["i"].as_i64().unwrap()));
        id = page["_scroll_id"].as_str().unwrap().to_owned();
    }
    assert_eq!(seen, (0..25).collect::<Vec<_>>());
    let (code, cleared) = es
        .call(
            Method::DELETE,
            "/_search/scroll",
            Some(json!({"scroll_id": [id.clone()]})),
        )
        .await;
    assert_eq!((code, cleared["num_freed"].as_u64()), (200, Some(1)));
    let (code, gone) = es
        .call(
            Method::POST,
            "/_search/scroll",
            Some(json!({"scroll_id": id})),
        )
        .await;
    assert_eq!(
        (code, gone["error"]["type"].as_str()),
        (404, Some("search_context_missing_exception"))
    );
    // ES 1.x scan: no hits first, then pages; the id as a raw body.
    let (_, scan) = es
        .call(
            Method::GET,
            "/audit/_search?search_type=scan&scroll=1m&size=20",
            None,
        )
        .await;
    assert_eq!(
        (total(&scan), scan["hits"]["hits"].as_array().unwrap().len()),
        (25, 0)
    );
    let raw = es
        .http
        .post(format!("{}/_search/scroll?scroll=1m", es.base))
        .body(scan["_scroll_id"].as_str().unwrap().to_owned())
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(raw["hits"]["hits"].as_array().unwrap().len(), 20);

    let (_, deleted) = es
        .call(
            Method::POST,
            "/audit/_delete_by_query",
            Some(json!({"query": {"term": {"who": "u1"}}})),
        )
        .await;
    assert_eq!(deleted["deleted"], 5);
    let (_, count) = es.call(Method::GET, "/audit/_count", None).await;
    assert_eq!(count["count"], 20);
    let (code, _) = es
        .call(
            Method::DELETE,
            "/audit/type/_query",
            Some(json!({"query": {"match_all": {}}})),
        )
        .await;
    assert_eq!(code, 200);
    let (code, _) = es.call(Method::DELETE, "/cloudify_events", None).await;
    assert_eq!(code, 400, "the event index stays");
    let (code, _) = es.call(Method::DELETE, "/audit", None).await;
    assert_eq!(code, 200);
    let (code, _) = es.call(Method::GET, "/audit/_search", None).await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn storage_view_rest_search_and_live_tail() {
    let cfyd = Cfyd::start();
    let es = Es::new(&cfyd);
    let http = Client::new();
    let r = http
        .post(cfyd.url("rest", "/api/v2/provider/context"))
        .json(&json!({"name": "lab", "context": {"cloud": "none"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let (code, found) = es
        .call(
            Method::POST,
            "/cloudify_storage/provider_context/_search",
            Some(json!({"query": {"term": {"name": "lab"}}})),
        )
        .await;
    assert_eq!((code, total(&found)), (200, 1), "{found}");
    assert_eq!(found["hits"]["hits"][0]["_type"], "provider_context");
    let rest: Value = http
        .post(cfyd.url("rest", "/search"))
        .json(&json!({"query": {"match_all": {}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(total(&rest) >= 1, "{rest}");

    // Live tail: events written after the stream opens arrive on it.
    let mut tail = http
        .get(cfyd.url("rest", "/api/v2/events/stream?execution_id=tail-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(tail.headers()["content-type"], "text/event-stream");
    let lines = vec![
        json!({"index": {"_index": "cloudify_events"}}),
        json!({"type": "cloudify_event", "message": {"text": "other"}, "context": {"execution_id": "tail-2"}}),
        json!({"index": {"_index": "cloudify_events"}}),
        json!({"type": "cloudify_event", "message": {"text": "mine"}, "context": {"execution_id": "tail-1"}}),
    ];
    es.bulk("/_bulk", &lines).await;
    let mut got = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !got.contains("mine") {
        let chunk = tokio::time::timeout_at(deadline, tail.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .unwrap();
        got.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(got.contains("id: ") && !got.contains("other"), "{got}");
}
