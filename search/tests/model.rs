//! Model test: random documents and random queries of the supported DSL;
//! the index's answer (total, hit ids and order, `search_after` pages)
//! must equal the reference evaluator's on the same documents.

#![allow(clippy::unwrap_used)]

use std::ops::Bound;

use proptest::prelude::*;
use search::eval::{self, Doc};
use search::query::RangeValue;
use search::{EventIndex, Query, Search, Sort, format_millis};
use serde_json::{Value, json};

const WORDS: &[&str] = &["alpha", "beta", "gamma", "delta", "vm_1", "Task"];
const BASE: i64 = 1_449_497_000_000;

#[derive(Debug, Clone)]
struct Spec {
    kind: usize,
    level: Option<usize>,
    exec: usize,
    extra: usize,
    count: i64,
    words: Vec<usize>,
    secs: i64,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..2usize,
        proptest::option::of(0..3usize),
        0..3usize,
        0..3usize,
        -2..5i64,
        proptest::collection::vec(0..WORDS.len(), 0..5),
        0..40i64,
    )
        .prop_map(|(kind, level, exec, extra, count, words, secs)| Spec {
            kind,
            level,
            exec,
            extra,
            count,
            words,
            secs,
        })
}

fn document(s: &Spec) -> Value {
    let kind = ["cloudify_event", "cloudify_log"][s.kind];
    let mut d = json!({
        "type": kind,
        "message": {"text": s.words.iter().map(|w| WORDS[*w]).collect::<Vec<_>>().join(" ")},
        "context": {"execution_id": format!("e{}", s.exec), "extra": format!("x{}", s.extra)},
        "count": s.count,
        "@timestamp": format_millis(BASE + s.secs * 1000),
    });
    if let Some(l) = s.level {
        d["level"] = json!(["info", "warn", "error"][l]);
    }
    d
}

const LEVELS: &[&str] = &["info", "warn", "error", "nope"];

fn leaf() -> impl Strategy<Value = Query> {
    prop_oneof![
        Just(Query::All),
        (0..4usize).prop_map(|l| Query::term("level", LEVELS[l])),
        proptest::collection::vec(0..3usize, 1..3).prop_map(|es| Query::Term {
            field: "context.execution_id".into(),
            values: es.into_iter().map(|e| format!("e{e}")).collect()
        }),
        (0..3usize).prop_map(|x| Query::term("context.extra", &format!("x{x}"))),
        (0..WORDS.len()).prop_map(|w| Query::term("message.text", WORDS[w])),
        (
            proptest::collection::vec(0..WORDS.len(), 1..3),
            any::<bool>()
        )
            .prop_map(|(ws, all)| {
                Query::Match {
                    field: "message.text".into(),
                    text: ws.iter().map(|w| WORDS[*w]).collect::<Vec<_>>().join(" "),
                    all,
                }
            }),
        proptest::collection::vec(0..WORDS.len(), 1..3).prop_map(|ws| Query::Phrase {
            field: "message.text".into(),
            text: ws.iter().map(|w| WORDS[*w]).collect::<Vec<_>>().join(" "),
        }),
        (0..40i64, 0..40i64, any::<bool>()).prop_map(|(a, b, inclusive)| {
            let v = |s: i64| RangeValue::Num((BASE + s * 1000) as f64);
            Query::Range {
                field: "@timestamp".into(),
                lower: Bound::Included(v(a)),
                upper: if inclusive {
                    Bound::Included(v(b))
                } else {
                    Bound::Excluded(v(b))
                },
            }
        }),
        (-2..5i64).prop_map(|c| Query::Range {
            field: "count".into(),
            lower: Bound::Excluded(RangeValue::Num(c as f64)),
            upper: Bound::Unbounded,
        }),
        (0..3usize).prop_map(|l| Query::Prefix {
            field: "level".into(),
            prefix: LEVELS[l][..2].into()
        }),
        prop_oneof![Just("*a*"), Just("?eta"), Just("v*_1"), Just("e*")].prop_map(|p| {
            Query::Wildcard {
                field: "message.text".into(),
                pattern: p.into(),
            }
        }),
        Just(Query::Exists {
            field: "level".into()
        }),
        proptest::collection::vec(0..30u64, 0..4)
            .prop_map(|ids| Query::Ids(ids.into_iter().map(|i| format!("{i:016x}")).collect())),
    ]
}

fn query() -> impl Strategy<Value = Query> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        (
            proptest::collection::vec(inner.clone(), 0..3),
            proptest::collection::vec(inner.clone(), 0..3),
            proptest::collection::vec(inner, 0..2),
            0..3usize,
        )
            .prop_map(|(must, should, must_not, min_should)| Query::Bool {
                min_should: min_should.min(should.len()),
                must,
                should,
                must_not,
            })
    })
}

fn sorts() -> impl Strategy<Value = Vec<Sort>> {
    let field = prop_oneof![
        Just("@timestamp"),
        Just("level"),
        Just("_doc"),
        Just("context.extra"),
        Just("count"),
        Just("type")
    ];
    proptest::collection::vec((field, any::<bool>()), 0..3).prop_map(|ks| {
        let mut v: Vec<Sort> = ks
            .into_iter()
            .map(|(f, d)| Sort {
                field: f.into(),
                descending: d,
            })
            .collect();
        // Relevance scores differ between tantivy and the evaluator; the
        // model compares field orders (an empty sort means `_score`).
        if v.is_empty() {
            v.push(Sort {
                field: "_doc".into(),
                descending: false,
            });
        }
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn index_answers_like_the_evaluator(
        specs in proptest::collection::vec(spec(), 0..30),
        q in query(),
        sort in sorts(),
        from in 0..4usize,
        size in 1..12usize,
        after_at in proptest::option::of(0..10usize),
    ) {
        let idx = EventIndex::temporary().unwrap();
        let sources: Vec<Value> = specs.iter().map(document).collect();
        idx.append(sources.clone(), 0).unwrap();
        idx.commit().unwrap();
        let docs: Vec<Doc> = sources
            .into_iter()
            .enumerate()
            .map(|(i, source)| Doc { id: format!("{i:016x}"), seq: i as u64, source })
            .collect();
        let mut s = Search { query: q, sort, from, size, ..Search::default() };
        if let Some(at) = after_at {
            let all = Search { from: 0, size: 100, ..s.clone() };
            let (_, hits) = eval::search(&docs, &all);
            if let Some((rank, _)) = hits.get(at) {
                s.search_after = Some(rank.keys.iter().map(|k| k.to_json()).collect());
                s.from = 0;
            }
        }
        let (total, expected) = eval::search(&docs, &s);
        let found = idx.search(&s).unwrap();
        let got: Vec<&str> = found.hits.iter().map(|h| h.id.as_str()).collect();
        let want: Vec<&str> = expected.iter().map(|(_, d)| d.id.as_str()).collect();
        prop_assert_eq!(found.total, total, "total for {:?}", s);
        prop_assert_eq!(got, want, "hits for {:?}", s);
        // Aggregations: tantivy's collector against the evaluator's.
        let req = json!({"levels": {"terms": {"field": "level", "size": 10}}});
        let agg = idx.search(&Search { aggs: Some(req.clone()), size: 0, from: 0, search_after: None, ..s.clone() }).unwrap();
        let everything = Search { from: 0, size: 1000, search_after: None, ..s.clone() };
        let (_, all) = eval::search(&docs, &everything);
        let matched: Vec<&Doc> = all.iter().map(|(_, d)| *d).collect();
        let mine = search::aggs::compute(&req, &matched).unwrap();
        let buckets = |v: &Value| -> Vec<(String, u64)> {
            let mut b: Vec<(String, u64)> = v["levels"]["buckets"].as_array().unwrap().iter()
                .map(|b| (b["key"].to_string(), b["doc_count"].as_u64().unwrap())).collect();
            b.sort();
            b
        };
        prop_assert_eq!(buckets(&agg.aggs.unwrap()), buckets(&mine));
        for (h, (r, _)) in found.hits.iter().zip(&expected) {
            let keys: Vec<Value> = r.keys.iter().map(|k| k.to_json()).collect();
            prop_assert_eq!(&h.sort, &keys);
        }
    }
}
