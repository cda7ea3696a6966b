//! Model-based test: random sequences of publish / get / ack / nack /
//! requeue / recover / purge / expired publishes, run against the broker
//! over a real socket and against a trivially correct queue model; after
//! every step both must agree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, VecDeque};

use amqprs::BasicProperties;
use amqprs::channel::*;
use common::Running;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Publish,
    /// Published with `expiration: "0"` and no consumer: never delivered.
    PublishExpired,
    Get {
        no_ack: bool,
    },
    Ack(usize),
    Nack {
        pick: usize,
        requeue: bool,
    },
    Recover,
    Purge,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Publish),
        1 => Just(Op::PublishExpired),
        4 => any::<bool>().prop_map(|no_ack| Op::Get { no_ack }),
        2 => any::<usize>().prop_map(Op::Ack),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, requeue)| Op::Nack { pick, requeue }),
        1 => Just(Op::Recover),
        1 => Just(Op::Purge),
    ]
}

/// The reference: ready messages in order (id, redelivered, expired),
/// unacked by delivery tag. An expired message is dropped once it is at the
/// head, never delivered.
#[derive(Default)]
struct Model {
    ready: VecDeque<(u32, bool, bool)>,
    unacked: BTreeMap<u64, u32>,
    next_tag: u64,
    next_id: u32,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn queue_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops));
    }
}

async fn run(ops: Vec<Op>) {
    let b = Running::in_memory().await;
    let (_conn, ch, _) = b.connect().await;
    let q = ch
        .queue_declare(QueueDeclareArguments::exclusive_server_named())
        .await
        .unwrap()
        .unwrap()
        .0;
    let mut m = Model::default();
    for op in ops {
        match op {
            Op::Publish | Op::PublishExpired => {
                let id = m.next_id;
                m.next_id += 1;
                let mut props = BasicProperties::default();
                let expired = matches!(op, Op::PublishExpired);
                if expired {
                    props.with_expiration("0");
                }
                m.ready.push_back((id, false, expired));
                ch.basic_publish(
                    props,
                    id.to_be_bytes().to_vec(),
                    BasicPublishArguments::new("", &q),
                )
                .await
                .unwrap();
            }
            Op::Get { no_ack } => {
                let got = ch
                    .basic_get(BasicGetArguments::new(&q).no_ack(no_ack).finish())
                    .await
                    .unwrap();
                let want = m.ready.pop_front();
                match (got, want) {
                    (None, None) => {}
                    (Some((ok, _, body)), Some((id, redelivered, _))) => {
                        drop_expired_head(&mut m);
                        assert_eq!(u32::from_be_bytes(body.try_into().unwrap()), id);
                        assert_eq!(ok.redelivered(), redelivered, "redelivered flag of {id}");
                        m.next_tag += 1;
                        assert_eq!(ok.delivery_tag(), m.next_tag);
                        assert_eq!(ok.message_count() as usize, m.ready.len());
                        if !no_ack {
                            m.unacked.insert(ok.delivery_tag(), id);
                        }
                    }
                    (got, want) => panic!("broker gave {:?}, model {want:?}", got.map(|g| g.2)),
                }
            }
            Op::Ack(pick) => {
                let Some(tag) = nth_tag(&m, pick) else {
                    continue;
                };
                m.unacked.remove(&tag);
                ch.basic_ack(BasicAckArguments::new(tag, false))
                    .await
                    .unwrap();
            }
            Op::Nack { pick, requeue } => {
                let Some(tag) = nth_tag(&m, pick) else {
                    continue;
                };
                let id = m.unacked.remove(&tag).unwrap();
                if requeue {
                    m.ready.push_front((id, true, false));
                }
                ch.basic_nack(BasicNackArguments::new(tag, false, requeue))
                    .await
                    .unwrap();
            }
            Op::Recover => {
                for (_, id) in std::mem::take(&mut m.unacked).into_iter().rev() {
                    m.ready.push_front((id, true, false));
                }
                ch.basic_recover(true).await.unwrap();
            }
            Op::Purge => {
                let n = ch
                    .queue_purge(QueuePurgeArguments::new(&q))
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(n as usize, m.ready.len(), "purge count");
                m.ready.clear();
            }
        }
        drop_expired_head(&mut m);
        let (_, ready, _) = ch
            .queue_declare(QueueDeclareArguments::new(&q).passive(true).finish())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ready as usize, m.ready.len(), "ready count after {op:?}");
        let tracked = b.broker.overview().ready_bytes;
        let actual: u64 = b
            .broker
            .queues()
            .iter()
            .map(|q| q.message_bytes_ready)
            .sum();
        assert_eq!(tracked, actual, "memory accounting after {op:?}");
    }
    b.stop().await;
}

fn drop_expired_head(m: &mut Model) {
    while m.ready.front().is_some_and(|e| e.2) {
        m.ready.pop_front();
    }
}

fn nth_tag(m: &Model, pick: usize) -> Option<u64> {
    if m.unacked.is_empty() {
        return None;
    }
    m.unacked.keys().nth(pick % m.unacked.len()).copied()
}
