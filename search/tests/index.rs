//! The event index: persistence, ids, deletes, retention, aggregations.

#![allow(clippy::unwrap_used)]

use search::{EventIndex, Indices, Query, Search, Sort, es, format_millis, parse_millis};
use serde_json::{Value, json};

fn event(exec: &str, level: &str, text: &str, ts: &str) -> Value {
    json!({"type": "cloudify_log", "level": level, "message": {"text": text},
           "context": {"execution_id": exec}, "@timestamp": ts})
}

fn search(idx: &EventIndex, body: Value) -> search::Found {
    idx.search(&es::parse_search(&body, 0).unwrap()).unwrap()
}

#[test]
fn committed_events_survive_reopen_and_order_continues() {
    let dir = tempfile::tempdir().unwrap();
    {
        let idx = EventIndex::open(dir.path()).unwrap();
        idx.append(vec![event("e", "info", "one", "2015-01-01T00:00:00Z")], 0)
            .unwrap();
        idx.commit().unwrap();
        idx.append(vec![event("e", "info", "lost", "2015-01-01T00:00:01Z")], 0)
            .unwrap();
    }
    let idx = EventIndex::open(dir.path()).unwrap();
    assert_eq!(idx.len(), 1, "uncommitted documents are not there");
    idx.append(vec![event("e", "info", "two", "2014-01-01T00:00:00Z")], 0)
        .unwrap();
    idx.commit().unwrap();
    let found = search(&idx, json!({"sort": "_doc"}));
    let texts: Vec<&str> = found
        .hits
        .iter()
        .map(|h| h.source["message"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["one", "two"], "ingestion order continues");
    let by_time = search(&idx, json!({"sort": [{"@timestamp": "asc"}]}));
    assert_eq!(by_time.hits[0].source["message"]["text"], "two");
    assert_eq!(
        by_time.hits[0].sort,
        vec![json!(parse_millis("2014-01-01").unwrap())]
    );
}

#[test]
fn put_get_replace_and_delete_by_id_and_query() {
    let idx = EventIndex::temporary().unwrap();
    let (id, version) = idx
        .put(Some("a".into()), json!({"level": "info", "n": 1}))
        .unwrap();
    assert_eq!((id.as_str(), version), ("a", 1));
    idx.commit().unwrap();
    let (_, version) = idx
        .put(Some("a".into()), json!({"level": "warn", "n": 2}))
        .unwrap();
    assert_eq!(version, 2);
    idx.put(None, json!({"level": "warn", "n": 3})).unwrap();
    idx.commit().unwrap();
    assert_eq!(idx.len(), 2);
    let a = idx.get("a").unwrap().unwrap();
    assert_eq!((a.source["n"].as_u64(), a.version), (Some(2), 2));
    assert_eq!(
        idx.delete_matching(&Query::term("level", "warn")).unwrap(),
        2
    );
    idx.commit().unwrap();
    assert!(idx.get("a").unwrap().is_none());
    assert!(idx.is_empty());
    assert!(!idx.delete_id("a").unwrap());
}

#[test]
fn timestamp_comes_from_logstash_timestamp_when_missing() {
    let idx = EventIndex::temporary().unwrap();
    idx.append(
        vec![json!({"type": "cloudify_event", "timestamp": "2015-12-07 14:03:15.004+0000"})],
        7,
    )
    .unwrap();
    idx.commit().unwrap();
    let found = search(&idx, json!({}));
    assert_eq!(
        found.hits[0].source["@timestamp"],
        "2015-12-07T14:03:15.004Z"
    );
}

#[test]
fn aggregations_over_exact_and_evaluated_queries() {
    let idx = EventIndex::temporary().unwrap();
    let mut docs = Vec::new();
    for i in 0..12 {
        let level = ["info", "error", "warn"][i % 3];
        let ts = format_millis(parse_millis("2020-01-01").unwrap() + (i as i64) * 30_000);
        let mut d = event("e1", level, "x", &ts);
        d["extra"] = json!(i % 2);
        docs.push(d);
    }
    idx.append(docs, 0).unwrap();
    idx.commit().unwrap();
    let body = json!({"size": 0, "aggs": {"levels": {"terms": {"field": "level.keyword"}},
        "per_minute": {"date_histogram": {"field": "@timestamp", "interval": "1m"}}}});
    let found = search(&idx, body.clone());
    let aggs = found.aggs.unwrap();
    let buckets = aggs["levels"]["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 3);
    assert!(buckets.iter().all(|b| b["doc_count"] == 4), "{aggs}");
    assert_eq!(aggs["per_minute"]["buckets"].as_array().unwrap().len(), 6);
    // The evaluator's aggregations agree with tantivy's on indexed fields.
    let all = search(&idx, json!({"size": 100}));
    let docs: Vec<search::eval::Doc> = all
        .hits
        .iter()
        .map(|h| search::eval::Doc {
            id: h.id.clone(),
            seq: h.seq,
            source: h.source.clone(),
        })
        .collect();
    let req = es::aggs(&json!({"levels": {"terms": {"field": "level"}}, "per_minute": {"date_histogram": {"field": "@timestamp", "interval": "1m"}}})).unwrap();
    let mine = search::aggs::compute(&req, &docs.iter().collect::<Vec<_>>()).unwrap();
    let counts = |v: &Value, agg: &str| -> Vec<(String, u64)> {
        v[agg]["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["key"].to_string(), b["doc_count"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(counts(&mine, "levels"), counts(&aggs, "levels"));
    assert_eq!(
        counts(&mine, "per_minute").len(),
        counts(&aggs, "per_minute").len()
    );
    let mut filtered = body;
    filtered["query"] = json!({"term": {"extra": 0}});
    let found = search(&idx, filtered);
    assert_eq!(found.total, 6);
    let aggs = found.aggs.unwrap();
    let total: u64 = aggs["levels"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["doc_count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 6, "evaluated matches aggregate: {aggs}");
}

#[test]
fn retention_by_age_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let idx = EventIndex::open(dir.path()).unwrap();
    let old = format_millis(0);
    let now = format_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let mut docs = vec![event("e", "info", "old", &old); 10];
    docs.extend(vec![event("e", "info", &"new ".repeat(200), &now); 1000]);
    idx.append(docs, 0).unwrap();
    idx.commit().unwrap();
    assert_eq!(idx.retain(Some(86_400_000), None).unwrap(), 10);
    assert_eq!(idx.len(), 1000);
    let bytes = idx.disk_bytes().unwrap();
    let deleted = idx.retain(None, Some(bytes / 2)).unwrap();
    assert!((400..=600).contains(&deleted), "deleted {deleted}");
    let oldest = search(&idx, json!({"sort": "_doc", "size": 1}));
    assert!(oldest.hits[0].seq >= 10 + deleted, "the oldest went first");
}

#[test]
fn search_after_pages_through_everything_once() {
    let idx = EventIndex::temporary().unwrap();
    let docs = (0..25)
        .map(|i| {
            event(
                "e",
                ["a", "b"][i % 2],
                "t",
                &format_millis(i as i64 / 3 * 1000),
            )
        })
        .collect();
    idx.append(docs, 0).unwrap();
    idx.commit().unwrap();
    let mut s = Search {
        sort: vec![
            Sort {
                field: "@timestamp".into(),
                descending: true,
            },
            Sort {
                field: "_doc".into(),
                descending: false,
            },
        ],
        size: 4,
        ..Search::default()
    };
    let mut seen = Vec::new();
    loop {
        let found = idx.search(&s).unwrap();
        if found.hits.is_empty() {
            break;
        }
        seen.extend(found.hits.iter().map(|h| h.seq));
        s.search_after = found.hits.last().map(|h| h.sort.clone());
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!((seen.len(), sorted.len()), (25, 25));
}

#[test]
fn named_indices_create_reopen_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    {
        let all = Indices::open(dir.path()).unwrap();
        let (a, created) = all.ensure("logs-a").unwrap();
        assert!(created);
        a.append(vec![json!({"x": 1})], 0).unwrap();
        a.commit().unwrap();
        all.ensure("logs-b").unwrap();
        assert!(all.ensure("Bad").is_err());
    }
    let all = Indices::open(dir.path()).unwrap();
    assert_eq!(all.names(), vec!["logs-a", "logs-b"]);
    assert_eq!(all.get("logs-a").unwrap().len(), 1);
    assert!(all.delete("logs-b").unwrap());
    assert!(!dir.path().join("logs-b").exists());
}

#[test]
fn events_keep_their_text_with_logstash_fields_spliced_in() {
    let idx = EventIndex::temporary().unwrap();
    let bodies: Vec<&[u8]> = vec![
        br#"{"type":"cloudify_event","timestamp":"2015-12-07 14:03:15.004+0000","message":{"text":"a"}}"#,
        br#"{}"#,
        br#"{"@timestamp":"2016-01-01T00:00:00Z","@version":"2","level":"info"}"#,
        br#"{"@timestamp":"soon"}"#,
        br#"[1,2]"#,
        b"not json",
    ];
    let skipped = idx
        .append_events(bodies.into_iter().map(|b| (None, b)).collect(), 1_000)
        .unwrap();
    idx.commit().unwrap();
    assert_eq!(skipped, 2);
    let found = search(&idx, json!({"sort": "_doc"}));
    let sources: Vec<&Value> = found.hits.iter().map(|h| &h.source).collect();
    assert_eq!(sources[0]["@timestamp"], "2015-12-07T14:03:15.004Z");
    assert_eq!(sources[0]["@version"], "1");
    assert_eq!(sources[1]["@timestamp"], format_millis(1_000));
    assert_eq!(sources[2]["@version"], "2");
    assert_eq!(sources[2]["@timestamp"], "2016-01-01T00:00:00Z");
    assert_eq!(
        sources[3]["@timestamp"],
        format_millis(1_000),
        "a bad @timestamp is replaced"
    );
    let in_2016 = search(
        &idx,
        json!({"query": {"range": {"@timestamp": {"gte": "2016-01-01", "lt": "2016-01-02"}}}}),
    );
    assert_eq!(in_2016.total, 1);
}
