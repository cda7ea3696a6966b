//! Journal records: `len u32 | crc32 u32 | payload`, payload starting with a
//! type octet. Pure encode/decode, so that torn and corrupt tails are tested
//! without a disk.

use std::sync::Arc;

use bytes::{BufMut, BytesMut};

use crate::core::{Message, QueuedMessage};
use crate::proto::{ContentHeader, Properties, Reader};

const ENQUEUE: u8 = 1;
const REMOVE: u8 = 2;
/// Records larger than this are corrupt (the broker caps message size).
const MAX_RECORD: u32 = 1 << 30;

#[derive(Debug)]
pub struct RecoveredMessage {
    pub vhost: String,
    pub queue: String,
    pub qm: QueuedMessage,
}

#[derive(Debug)]
pub enum Record {
    Enqueue(RecoveredMessage),
    Remove(u64),
}

fn put_str(buf: &mut BytesMut, s: &str) {
    buf.put_u16(s.len() as u16);
    buf.put_slice(s.as_bytes());
}

fn put_bytes(buf: &mut BytesMut, b: &[u8]) {
    buf.put_u32(b.len() as u32);
    buf.put_slice(b);
}

fn frame(buf: &mut BytesMut, payload: impl FnOnce(&mut BytesMut)) {
    let at = buf.len();
    buf.put_u32(0);
    buf.put_u32(0);
    payload(buf);
    let len = (buf.len() - at - 8) as u32;
    let crc = crc32fast::hash(&buf[at + 8..]);
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    buf[at + 4..at + 8].copy_from_slice(&crc.to_be_bytes());
}

pub fn encode_enqueue(buf: &mut BytesMut, vhost: &str, queue: &str, qm: &QueuedMessage) {
    frame(buf, |b| {
        b.put_u8(ENQUEUE);
        b.put_u64(qm.id);
        b.put_u64(qm.enqueued_ms);
        b.put_u64(qm.expires_ms.unwrap_or(0));
        put_str(b, vhost);
        put_str(b, queue);
        put_str(b, &qm.msg.exchange);
        put_str(b, &qm.msg.routing_key);
        put_bytes(b, &qm.msg.header.raw_properties);
        put_bytes(b, &qm.msg.body);
    });
}

pub fn encode_remove(buf: &mut BytesMut, id: u64) {
    frame(buf, |b| {
        b.put_u8(REMOVE);
        b.put_u64(id);
    });
}

/// Why reading a segment stopped before its end.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// The bytes end inside a record: a write was torn by a crash.
    Torn,
    /// A checksum or a field is wrong.
    Corrupt,
}

/// Decodes the record at the front of `data`: the record and its length,
/// `Ok(None)` at a clean end.
pub fn decode(data: &[u8]) -> Result<Option<(Record, usize)>, Stop> {
    if data.is_empty() {
        return Ok(None);
    }
    if data.len() < 8 {
        return Err(Stop::Torn);
    }
    let len = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    let crc = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
    if len > MAX_RECORD {
        return Err(Stop::Corrupt);
    }
    let end = 8 + len as usize;
    if data.len() < end {
        return Err(Stop::Torn);
    }
    let payload = &data[8..end];
    if crc32fast::hash(payload) != crc {
        return Err(Stop::Corrupt);
    }
    let record = parse(payload).ok_or(Stop::Corrupt)?;
    Ok(Some((record, end)))
}

fn parse(payload: &[u8]) -> Option<Record> {
    let mut r = Reader::new(payload);
    let str16 = |r: &mut Reader<'_>| -> Option<String> {
        let n = r.u16().ok()? as usize;
        String::from_utf8(r.take(n, "string").ok()?.to_vec()).ok()
    };
    match r.u8().ok()? {
        REMOVE => Some(Record::Remove(r.u64().ok()?)),
        ENQUEUE => {
            let id = r.u64().ok()?;
            let enqueued_ms = r.u64().ok()?;
            let expires = r.u64().ok()?;
            let vhost = str16(&mut r)?;
            let queue = str16(&mut r)?;
            let exchange = str16(&mut r)?;
            let routing_key = str16(&mut r)?;
            let raw = r.longstr().ok()?;
            let body = r.longstr().ok()?;
            let properties = Properties::decode(&raw).ok()?;
            let header = ContentHeader {
                body_size: body.len() as u64,
                properties,
                raw_properties: raw,
            };
            let msg = Arc::new(Message {
                exchange,
                routing_key,
                header,
                body,
            });
            Some(Record::Enqueue(RecoveredMessage {
                vhost,
                queue,
                qm: QueuedMessage {
                    msg,
                    id,
                    enqueued_ms,
                    expires_ms: (expires != 0).then_some(expires),
                    // Whether it was delivered before the restart is not
                    // recorded; say it may have been.
                    redelivered: true,
                    persisted: true,
                },
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn qm(id: u64, body: Vec<u8>) -> QueuedMessage {
        let header = ContentHeader::new(
            body.len() as u64,
            Properties {
                delivery_mode: Some(2),
                ..Default::default()
            },
        );
        QueuedMessage {
            msg: Arc::new(Message {
                exchange: "x".into(),
                routing_key: "k".into(),
                header,
                body: body.into(),
            }),
            id,
            enqueued_ms: 5,
            expires_ms: Some(9),
            redelivered: false,
            persisted: true,
        }
    }

    proptest! {
        #[test]
        fn records_round_trip_and_torn_tails_are_detected(body in proptest::collection::vec(any::<u8>(), 0..300), id in any::<u64>(), cut in 1usize..40) {
            let mut buf = BytesMut::new();
            encode_enqueue(&mut buf, "/", "q", &qm(id, body.clone()));
            encode_remove(&mut buf, id);
            let (rec, used) = decode(&buf).unwrap().unwrap();
            match rec {
                Record::Enqueue(m) => {
                    prop_assert_eq!(m.qm.id, id);
                    prop_assert_eq!(&m.qm.msg.body[..], &body[..]);
                    prop_assert_eq!(m.qm.expires_ms, Some(9));
                    prop_assert_eq!(m.queue, "q");
                }
                Record::Remove(_) => prop_assert!(false),
            }
            let (rec, used2) = decode(&buf[used..]).unwrap().unwrap();
            prop_assert!(matches!(rec, Record::Remove(x) if x == id));
            prop_assert!(decode(&buf[used + used2..]).unwrap().is_none());
            let torn = &buf[..buf.len() - cut.min(buf.len() - used - 1)];
            prop_assert_eq!(decode(&torn[used..]).unwrap_err(), Stop::Torn);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn flipped_bit_is_corrupt() {
        let mut buf = BytesMut::new();
        encode_remove(&mut buf, 7);
        buf[10] ^= 1;
        assert_eq!(decode(&buf).unwrap_err(), Stop::Corrupt);
    }
}
