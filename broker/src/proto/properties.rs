//! The content header frame and the basic class's fourteen properties.

use bytes::{Bytes, BytesMut};

use super::codec::{DecodeError, Reader, Writer};
use super::field_table::FieldTable;

/// Class id of the basic class, the only one that carries content.
pub const BASIC_CLASS: u16 = 60;

/// A decoded content header payload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentHeader {
    pub body_size: u64,
    pub properties: Properties,
    /// The property flags and values exactly as received, re-sent verbatim
    /// on delivery so that nothing a client wrote is lost or reordered.
    pub raw_properties: Bytes,
}

/// Basic properties; a field is `Some` when its flag bit was set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Properties {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub headers: Option<FieldTable>,
    pub delivery_mode: Option<u8>,
    pub priority: Option<u8>,
    pub correlation_id: Option<String>,
    pub reply_to: Option<String>,
    pub expiration: Option<String>,
    pub message_id: Option<String>,
    pub timestamp: Option<u64>,
    pub kind: Option<String>,
    pub user_id: Option<String>,
    pub app_id: Option<String>,
    pub cluster_id: Option<String>,
}

const fn bit(n: u16) -> u16 {
    1 << n
}

impl Properties {
    pub fn is_persistent(&self) -> bool {
        self.delivery_mode == Some(2)
    }

    /// Decodes property flags and values.
    pub fn decode(raw: &[u8]) -> Result<Properties, DecodeError> {
        let mut r = Reader::new(raw);
        let flags = r.u16()?;
        if flags & 0b11 != 0 {
            return Err(DecodeError::BadPropertyFlags(flags));
        }
        let s = |r: &mut Reader<'_>, n| -> Result<Option<String>, DecodeError> {
            if flags & bit(n) != 0 {
                r.shortstr().map(Some)
            } else {
                Ok(None)
            }
        };
        let content_type = s(&mut r, 15)?;
        let content_encoding = s(&mut r, 14)?;
        let headers = if flags & bit(13) != 0 {
            Some(r.table()?)
        } else {
            None
        };
        let delivery_mode = if flags & bit(12) != 0 {
            Some(r.u8()?)
        } else {
            None
        };
        let priority = if flags & bit(11) != 0 {
            Some(r.u8()?)
        } else {
            None
        };
        let correlation_id = s(&mut r, 10)?;
        let reply_to = s(&mut r, 9)?;
        let expiration = s(&mut r, 8)?;
        let message_id = s(&mut r, 7)?;
        let timestamp = if flags & bit(6) != 0 {
            Some(r.u64()?)
        } else {
            None
        };
        let kind = s(&mut r, 5)?;
        let user_id = s(&mut r, 4)?;
        let app_id = s(&mut r, 3)?;
        let cluster_id = s(&mut r, 2)?;
        Ok(Properties {
            content_type,
            content_encoding,
            headers,
            delivery_mode,
            priority,
            correlation_id,
            reply_to,
            expiration,
            message_id,
            timestamp,
            kind,
            user_id,
            app_id,
            cluster_id,
        })
    }

    /// Encodes property flags and values.
    pub fn encode(&self, buf: &mut BytesMut) {
        let mut flags = 0u16;
        let mut set = |present: bool, n| {
            if present {
                flags |= bit(n);
            }
        };
        set(self.content_type.is_some(), 15);
        set(self.content_encoding.is_some(), 14);
        set(self.headers.is_some(), 13);
        set(self.delivery_mode.is_some(), 12);
        set(self.priority.is_some(), 11);
        set(self.correlation_id.is_some(), 10);
        set(self.reply_to.is_some(), 9);
        set(self.expiration.is_some(), 8);
        set(self.message_id.is_some(), 7);
        set(self.timestamp.is_some(), 6);
        set(self.kind.is_some(), 5);
        set(self.user_id.is_some(), 4);
        set(self.app_id.is_some(), 3);
        set(self.cluster_id.is_some(), 2);
        let mut w = Writer::new(buf);
        w.u16(flags);
        let strs = |w: &mut Writer<'_>, v: &Option<String>| {
            if let Some(v) = v {
                w.shortstr(v);
            }
        };
        strs(&mut w, &self.content_type);
        strs(&mut w, &self.content_encoding);
        if let Some(h) = &self.headers {
            w.table(h);
        }
        if let Some(v) = self.delivery_mode {
            w.u8(v);
        }
        if let Some(v) = self.priority {
            w.u8(v);
        }
        strs(&mut w, &self.correlation_id);
        strs(&mut w, &self.reply_to);
        strs(&mut w, &self.expiration);
        strs(&mut w, &self.message_id);
        if let Some(v) = self.timestamp {
            w.u64(v);
        }
        strs(&mut w, &self.kind);
        strs(&mut w, &self.user_id);
        strs(&mut w, &self.app_id);
        strs(&mut w, &self.cluster_id);
    }

    /// The encoded flags and values as one buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::new();
        self.encode(&mut buf);
        buf.freeze()
    }
}

impl ContentHeader {
    /// Builds a header whose raw bytes match its properties.
    pub fn new(body_size: u64, properties: Properties) -> Self {
        let raw_properties = properties.to_bytes();
        ContentHeader {
            body_size,
            properties,
            raw_properties,
        }
    }

    /// Decodes a content header frame payload.
    pub fn decode(payload: &[u8]) -> Result<ContentHeader, DecodeError> {
        let mut r = Reader::new(payload);
        let class = r.u16()?;
        if class != BASIC_CLASS {
            return Err(DecodeError::UnsupportedContentClass(class));
        }
        let _weight = r.u16()?;
        let body_size = r.u64()?;
        let raw = &payload[12..];
        let properties = Properties::decode(raw)?;
        Ok(ContentHeader {
            body_size,
            properties,
            raw_properties: Bytes::copy_from_slice(raw),
        })
    }

    /// Appends the content header frame payload, using the raw properties.
    pub fn encode(&self, buf: &mut BytesMut) {
        let mut w = Writer::new(buf);
        w.u16(BASIC_CLASS);
        w.u16(0);
        w.u64(self.body_size);
        w.buf().extend_from_slice(&self.raw_properties);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::field_table::strategy;
    use proptest::option::of;
    use proptest::prelude::*;

    fn s() -> impl Strategy<Value = Option<String>> {
        of("[a-z0-9/.-]{0,30}")
    }

    prop_compose! {
        fn props()(a in s(), b in s(), h in of(strategy::table()), dm in of(any::<u8>()),
                   p in of(any::<u8>()), c in s(), rt in s(), e in s(), m in s(),
                   ts in of(any::<u64>()), k in s(), u in s(), app in s(), cl in s()) -> Properties {
            Properties { content_type: a, content_encoding: b, headers: h, delivery_mode: dm,
                priority: p, correlation_id: c, reply_to: rt, expiration: e, message_id: m,
                timestamp: ts, kind: k, user_id: u, app_id: app, cluster_id: cl }
        }
    }

    proptest! {
        #[test]
        fn properties_round_trip(p in props(), size in any::<u64>()) {
            let header = ContentHeader::new(size, p);
            let mut buf = BytesMut::new();
            header.encode(&mut buf);
            prop_assert_eq!(ContentHeader::decode(&buf).unwrap(), header);
        }

        #[test]
        fn arbitrary_headers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = ContentHeader::decode(&bytes);
        }
    }
}
