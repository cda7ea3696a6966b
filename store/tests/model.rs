//! State-machine test: random operation sequences, including reopening the
//! store, against a `BTreeMap` model; index-backed and scanned lists must
//! agree with the model after every step.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};
use store::{CollectionSpec, Config, Error, Query, Store, WriteOp};

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, u8),
    Replace(u8, u8, bool),
    Update(u8, u8),
    Delete(u8, bool),
    Batch(u8, u8, u8),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..8, 0u8..4).prop_map(|(i, g)| Op::Insert(i, g)),
        2 => (0u8..8, 0u8..4, any::<bool>()).prop_map(|(i, g, s)| Op::Replace(i, g, s)),
        2 => (0u8..8, 0u8..4).prop_map(|(i, g)| Op::Update(i, g)),
        2 => (0u8..8, any::<bool>()).prop_map(|(i, s)| Op::Delete(i, s)),
        1 => (0u8..8, 0u8..8, 0u8..4).prop_map(|(a, b, g)| Op::Batch(a, b, g)),
        1 => Just(Op::Reopen),
    ]
}

fn specs() -> Vec<CollectionSpec> {
    vec![CollectionSpec::new("items", &["group"])]
}

fn id(i: u8) -> String {
    format!("item-{i}")
}

fn doc(i: u8, g: u8) -> Value {
    json!({"id": id(i), "group": format!("g{g}"), "n": i})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn store_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let open = || Store::open(Config { path: Some(dir.path().to_owned()), flush_every_write: false }, &specs()).unwrap();
        let mut store = Some(open());
        let mut model: BTreeMap<String, (u64, Value)> = BTreeMap::new();
        for op in ops {
            let s = store.as_ref().unwrap();
            match op {
                Op::Insert(i, g) => {
                    let r = s.insert("items", &id(i), doc(i, g));
                    if let std::collections::btree_map::Entry::Vacant(e) = model.entry(id(i)) {
                        prop_assert_eq!(r.unwrap().version, 1);
                        e.insert((1, doc(i, g)));
                    } else {
                        prop_assert!(matches!(r, Err(Error::AlreadyExists { .. })), "expected AlreadyExists");
                    }
                }
                Op::Replace(i, g, stale) => {
                    let current = model.get(&id(i)).map(|(v, _)| *v);
                    let expected = current.map(|v| if stale { v + 1 } else { v });
                    let r = s.replace("items", &id(i), doc(i, g), expected);
                    match current {
                        None => prop_assert!(matches!(r, Err(Error::NotFound { .. })), "expected NotFound"),
                        Some(_) if stale => prop_assert!(matches!(r, Err(Error::Conflict { .. })), "expected Conflict"),
                        Some(v) => {
                            prop_assert_eq!(r.unwrap().version, v + 1);
                            model.insert(id(i), (v + 1, doc(i, g)));
                        }
                    }
                }
                Op::Update(i, g) => {
                    let mut patch = serde_json::Map::new();
                    patch.insert("group".into(), json!(format!("g{g}")));
                    let r = s.update("items", &id(i), patch, None);
                    match model.get_mut(&id(i)) {
                        None => prop_assert!(matches!(r, Err(Error::NotFound { .. })), "expected NotFound"),
                        Some((v, d)) => {
                            *v += 1;
                            d["group"] = json!(format!("g{g}"));
                            prop_assert_eq!(r.unwrap().doc, d.clone());
                        }
                    }
                }
                Op::Delete(i, stale) => {
                    let current = model.get(&id(i)).map(|(v, _)| *v);
                    let r = s.delete("items", &id(i), current.map(|v| if stale { v + 7 } else { v }));
                    match current {
                        None => prop_assert!(matches!(r, Err(Error::NotFound { .. })), "expected NotFound"),
                        Some(_) if stale => prop_assert!(matches!(r, Err(Error::Conflict { .. })), "expected Conflict"),
                        Some(_) => {
                            r.unwrap();
                            model.remove(&id(i));
                        }
                    }
                }
                Op::Batch(a, b, g) => {
                    // Two inserts, all or nothing.
                    let r = s.write(vec![
                        WriteOp::Insert { collection: "items".into(), id: id(a), doc: doc(a, g) },
                        WriteOp::Insert { collection: "items".into(), id: id(b), doc: doc(b, g) },
                    ]);
                    let ok = a != b && !model.contains_key(&id(a)) && !model.contains_key(&id(b));
                    prop_assert_eq!(r.is_ok(), ok);
                    if ok {
                        model.insert(id(a), (1, doc(a, g)));
                        model.insert(id(b), (1, doc(b, g)));
                    }
                }
                Op::Reopen => {
                    store.take().unwrap().flush().unwrap();
                    store = Some(open());
                }
            }
            let s = store.as_ref().unwrap();
            let all = s.list("items", &Query::default()).unwrap();
            let got: Vec<(String, u64, Value)> = all.items.into_iter().map(|d| (d.id, d.version, d.doc)).collect();
            let want: Vec<(String, u64, Value)> = model.iter().map(|(k, (v, d))| (k.clone(), *v, d.clone())).collect();
            prop_assert_eq!(got, want);
            for g in 0..4 {
                let group = format!("g{g}");
                let by_index = s.list("items", &Query::default().filter("group", group.clone())).unwrap();
                let ids: Vec<String> = by_index.items.into_iter().map(|d| d.id).collect();
                let want: Vec<String> = model.iter().filter(|(_, (_, d))| d["group"] == group).map(|(k, _)| k.clone()).collect();
                prop_assert_eq!(ids, want, "index for {}", group);
            }
        }
    }
}
