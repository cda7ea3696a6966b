//! Every method of the connection, channel, access, exchange, queue, basic,
//! confirm and tx classes, with its arguments in wire order.
//!
//! One table ([`methods!`] below) defines each method once; the struct, the
//! decoder and the encoder are generated from it, so they cannot disagree.

use bytes::{Bytes, BytesMut};

use super::codec::{DecodeError, Reader, Writer};
use super::field_table::FieldTable;

macro_rules! field_type {
    (octet) => {
        u8
    };
    (short) => {
        u16
    };
    (long) => {
        u32
    };
    (longlong) => {
        u64
    };
    (shortstr) => {
        String
    };
    (longstr) => {
        Bytes
    };
    (bit) => {
        bool
    };
    (table) => {
        FieldTable
    };
}

macro_rules! read_field {
    ($r:ident, octet) => {
        $r.u8()?
    };
    ($r:ident, short) => {
        $r.u16()?
    };
    ($r:ident, long) => {
        $r.u32()?
    };
    ($r:ident, longlong) => {
        $r.u64()?
    };
    ($r:ident, shortstr) => {
        $r.shortstr()?
    };
    ($r:ident, longstr) => {
        $r.longstr()?
    };
    ($r:ident, bit) => {
        $r.bit()?
    };
    ($r:ident, table) => {
        $r.table()?
    };
}

macro_rules! write_field {
    ($w:ident, $v:expr, octet) => {
        $w.u8(*$v)
    };
    ($w:ident, $v:expr, short) => {
        $w.u16(*$v)
    };
    ($w:ident, $v:expr, long) => {
        $w.u32(*$v)
    };
    ($w:ident, $v:expr, longlong) => {
        $w.u64(*$v)
    };
    ($w:ident, $v:expr, shortstr) => {
        $w.shortstr($v)
    };
    ($w:ident, $v:expr, longstr) => {
        $w.longstr($v)
    };
    ($w:ident, $v:expr, bit) => {
        $w.bit(*$v)
    };
    ($w:ident, $v:expr, table) => {
        $w.table($v)
    };
}

#[cfg(test)]
macro_rules! arb_field {
    (octet) => {
        proptest::prelude::any::<u8>()
    };
    (short) => {
        proptest::prelude::any::<u16>()
    };
    (long) => {
        proptest::prelude::any::<u32>()
    };
    (longlong) => {
        proptest::prelude::any::<u64>()
    };
    (shortstr) => {
        "[a-zA-Z0-9 ._/-]{0,40}"
    };
    (longstr) => {
        proptest::strategy::Strategy::prop_map(
            proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            Bytes::from,
        )
    };
    (bit) => {
        proptest::prelude::any::<bool>()
    };
    (table) => {
        super::field_table::strategy::table()
    };
}

macro_rules! methods {
    ($( $name:ident = ($class:literal, $id:literal, $text:literal) { $( $field:ident : $ty:ident ),* $(,)? } )*) => {
        /// A decoded method frame payload.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Method {
            $( $name($name), )*
        }

        $(
            #[derive(Debug, Clone, Default, PartialEq)]
            pub struct $name {
                $( pub $field: field_type!($ty), )*
            }

            impl From<$name> for Method {
                fn from(m: $name) -> Method {
                    Method::$name(m)
                }
            }
        )*

        impl Method {
            /// (class id, method id).
            pub fn ids(&self) -> (u16, u16) {
                match self {
                    $( Method::$name(_) => ($class, $id), )*
                }
            }

            /// The spec's name, e.g. `basic.publish`.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Method::$name(_) => $text, )*
                }
            }

            /// Decodes a method frame payload (class id, method id, arguments).
            pub fn decode(payload: &[u8]) -> Result<Method, DecodeError> {
                let mut r = Reader::new(payload);
                let class = r.u16()?;
                let id = r.u16()?;
                match (class, id) {
                    $( ($class, $id) => Ok(Method::$name($name {
                        $( $field: read_field!(r, $ty), )*
                    })), )*
                    _ => Err(DecodeError::UnknownMethod(class, id)),
                }
            }

            /// Appends the method frame payload to `buf`.
            pub fn encode(&self, buf: &mut BytesMut) {
                let mut w = Writer::new(buf);
                let (class, id) = self.ids();
                w.u16(class);
                w.u16(id);
                match self {
                    $( Method::$name(_m) => { $( write_field!(w, &_m.$field, $ty); )* } )*
                }
            }
        }

        #[cfg(test)]
        pub(crate) fn arb_method() -> impl proptest::strategy::Strategy<Value = Method> {
            use proptest::strategy::Strategy;
            proptest::strategy::Union::new(vec![
                $(
                    (proptest::strategy::Just(()), $( arb_field!($ty), )* )
                        .prop_map(|(_, $( $field, )* ): ((), $( field_type!($ty), )* )| {
                            Method::$name($name { $( $field, )* })
                        })
                        .boxed(),
                )*
            ])
        }
    };
}

methods! {
    ConnectionStart = (10, 10, "connection.start") {
        version_major: octet, version_minor: octet, server_properties: table,
        mechanisms: longstr, locales: longstr,
    }
    ConnectionStartOk = (10, 11, "connection.start-ok") {
        client_properties: table, mechanism: shortstr, response: longstr, locale: shortstr,
    }
    ConnectionSecure = (10, 20, "connection.secure") { challenge: longstr }
    ConnectionSecureOk = (10, 21, "connection.secure-ok") { response: longstr }
    ConnectionTune = (10, 30, "connection.tune") { channel_max: short, frame_max: long, heartbeat: short }
    ConnectionTuneOk = (10, 31, "connection.tune-ok") { channel_max: short, frame_max: long, heartbeat: short }
    ConnectionOpen = (10, 40, "connection.open") { virtual_host: shortstr, capabilities: shortstr, insist: bit }
    ConnectionOpenOk = (10, 41, "connection.open-ok") { known_hosts: shortstr }
    ConnectionClose = (10, 50, "connection.close") {
        reply_code: short, reply_text: shortstr, class_id: short, method_id: short,
    }
    ConnectionCloseOk = (10, 51, "connection.close-ok") {}
    ConnectionBlocked = (10, 60, "connection.blocked") { reason: shortstr }
    ConnectionUnblocked = (10, 61, "connection.unblocked") {}
    ConnectionUpdateSecret = (10, 70, "connection.update-secret") { new_secret: longstr, reason: shortstr }
    ConnectionUpdateSecretOk = (10, 71, "connection.update-secret-ok") {}

    ChannelOpen = (20, 10, "channel.open") { out_of_band: shortstr }
    ChannelOpenOk = (20, 11, "channel.open-ok") { channel_id: longstr }
    ChannelFlow = (20, 20, "channel.flow") { active: bit }
    ChannelFlowOk = (20, 21, "channel.flow-ok") { active: bit }
    ChannelClose = (20, 40, "channel.close") {
        reply_code: short, reply_text: shortstr, class_id: short, method_id: short,
    }
    ChannelCloseOk = (20, 41, "channel.close-ok") {}

    AccessRequest = (30, 10, "access.request") {
        realm: shortstr, exclusive: bit, passive: bit, active: bit, write: bit, read: bit,
    }
    AccessRequestOk = (30, 11, "access.request-ok") { ticket: short }

    ExchangeDeclare = (40, 10, "exchange.declare") {
        ticket: short, exchange: shortstr, kind: shortstr, passive: bit, durable: bit,
        auto_delete: bit, internal: bit, nowait: bit, arguments: table,
    }
    ExchangeDeclareOk = (40, 11, "exchange.declare-ok") {}
    ExchangeDelete = (40, 20, "exchange.delete") { ticket: short, exchange: shortstr, if_unused: bit, nowait: bit }
    ExchangeDeleteOk = (40, 21, "exchange.delete-ok") {}
    ExchangeBind = (40, 30, "exchange.bind") {
        ticket: short, destination: shortstr, source: shortstr, routing_key: shortstr,
        nowait: bit, arguments: table,
    }
    ExchangeBindOk = (40, 31, "exchange.bind-ok") {}
    ExchangeUnbind = (40, 40, "exchange.unbind") {
        ticket: short, destination: shortstr, source: shortstr, routing_key: shortstr,
        nowait: bit, arguments: table,
    }
    ExchangeUnbindOk = (40, 51, "exchange.unbind-ok") {}

    QueueDeclare = (50, 10, "queue.declare") {
        ticket: short, queue: shortstr, passive: bit, durable: bit, exclusive: bit,
        auto_delete: bit, nowait: bit, arguments: table,
    }
    QueueDeclareOk = (50, 11, "queue.declare-ok") { queue: shortstr, message_count: long, consumer_count: long }
    QueueBind = (50, 20, "queue.bind") {
        ticket: short, queue: shortstr, exchange: shortstr, routing_key: shortstr,
        nowait: bit, arguments: table,
    }
    QueueBindOk = (50, 21, "queue.bind-ok") {}
    QueuePurge = (50, 30, "queue.purge") { ticket: short, queue: shortstr, nowait: bit }
    QueuePurgeOk = (50, 31, "queue.purge-ok") { message_count: long }
    QueueDelete = (50, 40, "queue.delete") {
        ticket: short, queue: shortstr, if_unused: bit, if_empty: bit, nowait: bit,
    }
    QueueDeleteOk = (50, 41, "queue.delete-ok") { message_count: long }
    QueueUnbind = (50, 50, "queue.unbind") {
        ticket: short, queue: shortstr, exchange: shortstr, routing_key: shortstr, arguments: table,
    }
    QueueUnbindOk = (50, 51, "queue.unbind-ok") {}

    BasicQos = (60, 10, "basic.qos") { prefetch_size: long, prefetch_count: short, global: bit }
    BasicQosOk = (60, 11, "basic.qos-ok") {}
    BasicConsume = (60, 20, "basic.consume") {
        ticket: short, queue: shortstr, consumer_tag: shortstr, no_local: bit, no_ack: bit,
        exclusive: bit, nowait: bit, arguments: table,
    }
    BasicConsumeOk = (60, 21, "basic.consume-ok") { consumer_tag: shortstr }
    BasicCancel = (60, 30, "basic.cancel") { consumer_tag: shortstr, nowait: bit }
    BasicCancelOk = (60, 31, "basic.cancel-ok") { consumer_tag: shortstr }
    BasicPublish = (60, 40, "basic.publish") {
        ticket: short, exchange: shortstr, routing_key: shortstr, mandatory: bit, immediate: bit,
    }
    BasicReturn = (60, 50, "basic.return") {
        reply_code: short, reply_text: shortstr, exchange: shortstr, routing_key: shortstr,
    }
    BasicDeliver = (60, 60, "basic.deliver") {
        consumer_tag: shortstr, delivery_tag: longlong, redelivered: bit, exchange: shortstr,
        routing_key: shortstr,
    }
    BasicGet = (60, 70, "basic.get") { ticket: short, queue: shortstr, no_ack: bit }
    BasicGetOk = (60, 71, "basic.get-ok") {
        delivery_tag: longlong, redelivered: bit, exchange: shortstr, routing_key: shortstr,
        message_count: long,
    }
    BasicGetEmpty = (60, 72, "basic.get-empty") { cluster_id: shortstr }
    BasicAck = (60, 80, "basic.ack") { delivery_tag: longlong, multiple: bit }
    BasicReject = (60, 90, "basic.reject") { delivery_tag: longlong, requeue: bit }
    BasicRecoverAsync = (60, 100, "basic.recover-async") { requeue: bit }
    BasicRecover = (60, 110, "basic.recover") { requeue: bit }
    BasicRecoverOk = (60, 111, "basic.recover-ok") {}
    BasicNack = (60, 120, "basic.nack") { delivery_tag: longlong, multiple: bit, requeue: bit }

    ConfirmSelect = (85, 10, "confirm.select") { nowait: bit }
    ConfirmSelectOk = (85, 11, "confirm.select-ok") {}

    TxSelect = (90, 10, "tx.select") {}
    TxSelectOk = (90, 11, "tx.select-ok") {}
    TxCommit = (90, 20, "tx.commit") {}
    TxCommitOk = (90, 21, "tx.commit-ok") {}
    TxRollback = (90, 30, "tx.rollback") {}
    TxRollbackOk = (90, 31, "tx.rollback-ok") {}
}

impl Method {
    /// Whether a content header and body follow this method.
    pub fn has_content(&self) -> bool {
        matches!(
            self,
            Method::BasicPublish(_)
                | Method::BasicReturn(_)
                | Method::BasicDeliver(_)
                | Method::BasicGetOk(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn every_method_round_trips(m in arb_method()) {
            let mut buf = BytesMut::new();
            m.encode(&mut buf);
            prop_assert_eq!(Method::decode(&buf).unwrap(), m);
        }

        #[test]
        fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = Method::decode(&bytes);
        }
    }

    #[test]
    fn known_wire_bytes_decode() {
        // basic.ack(delivery_tag = 42, multiple = true), as pika writes it.
        let wire = [0, 60, 0, 80, 0, 0, 0, 0, 0, 0, 0, 42, 1];
        let m = Method::decode(&wire).unwrap();
        assert_eq!(
            m,
            Method::BasicAck(BasicAck {
                delivery_tag: 42,
                multiple: true
            })
        );
        // queue.declare with five packed bits: durable and auto_delete set.
        let mut buf = BytesMut::new();
        Method::QueueDeclare(QueueDeclare {
            queue: "q".into(),
            durable: true,
            auto_delete: true,
            ..Default::default()
        })
        .encode(&mut buf);
        assert_eq!(
            &buf[..],
            &[0, 50, 0, 10, 0, 0, 1, b'q', 0b01010, 0, 0, 0, 0]
        );
    }

    #[test]
    fn unknown_ids_are_reported() {
        assert_eq!(
            Method::decode(&[0, 99, 0, 1]),
            Err(DecodeError::UnknownMethod(99, 1))
        );
        assert_eq!(
            Method::decode(&[0, 60]),
            Err(DecodeError::Truncated("short"))
        );
    }
}
