//! Field tables and arrays with every value type RabbitMQ clients send.
//!
//! Tags follow RabbitMQ's errata, not the spec's table: `s` is a signed
//! short, `l` and `L` are both signed 64-bit, `U` is not accepted.

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::{DecodeError, Reader};

/// Nesting deeper than this is refused before it can exhaust the stack.
pub const MAX_DEPTH: usize = 32;

/// An ordered table of named values; keys are short strings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldTable(pub Vec<(String, FieldValue)>);

#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Bool(bool),
    I8(i8),
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    F32(f32),
    F64(f64),
    Decimal(u8, u32),
    LongStr(Bytes),
    Bytes(Bytes),
    Array(Vec<FieldValue>),
    Timestamp(u64),
    Table(FieldTable),
    Void,
}

impl FieldTable {
    pub fn new() -> Self {
        FieldTable(Vec::new())
    }

    pub fn get(&self, key: &str) -> Option<&FieldValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Replaces the value of `key`, or appends it.
    pub fn insert(&mut self, key: impl Into<String>, value: FieldValue) {
        let key = key.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<FieldValue> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &FieldValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Decodes a table with its u32 length prefix.
    pub fn decode(buf: &[u8]) -> Result<FieldTable, DecodeError> {
        FieldTable::decode_from(&mut Reader::new(buf), 0)
    }

    pub(crate) fn decode_from(r: &mut Reader<'_>, depth: usize) -> Result<FieldTable, DecodeError> {
        let len = r.u32()? as usize;
        let body = r.take(len, "field table")?;
        FieldTable::decode_body(body, depth)
    }

    /// Decodes table entries without the length prefix (AMQPLAIN responses).
    pub fn decode_body(body: &[u8], depth: usize) -> Result<FieldTable, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep(MAX_DEPTH));
        }
        let mut inner = Reader::new(body);
        let mut out = Vec::new();
        while inner.remaining() > 0 {
            let key = inner.shortstr()?;
            let value = FieldValue::decode_from(&mut inner, depth)?;
            out.push((key, value));
        }
        Ok(FieldTable(out))
    }

    /// Encodes with the u32 length prefix.
    pub fn encode(&self, buf: &mut BytesMut) {
        let at = buf.len();
        buf.put_u32(0);
        for (k, v) in &self.0 {
            let key = &k.as_bytes()[..k.len().min(255)];
            buf.put_u8(key.len() as u8);
            buf.put_slice(key);
            v.encode(buf);
        }
        let len = (buf.len() - at - 4) as u32;
        buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
}

impl FieldValue {
    fn decode_from(r: &mut Reader<'_>, depth: usize) -> Result<FieldValue, DecodeError> {
        let tag = r.u8()?;
        Ok(match tag {
            b't' => FieldValue::Bool(r.u8()? != 0),
            b'b' => FieldValue::I8(r.u8()? as i8),
            b'B' => FieldValue::U8(r.u8()?),
            b's' => FieldValue::I16(r.u16()? as i16),
            b'u' => FieldValue::U16(r.u16()?),
            b'I' => FieldValue::I32(r.u32()? as i32),
            b'i' => FieldValue::U32(r.u32()?),
            b'l' | b'L' => FieldValue::I64(r.u64()? as i64),
            b'f' => FieldValue::F32(f32::from_bits(r.u32()?)),
            b'd' => FieldValue::F64(f64::from_bits(r.u64()?)),
            b'D' => {
                let scale = r.u8()?;
                FieldValue::Decimal(scale, r.u32()?)
            }
            b'S' => FieldValue::LongStr(r.longstr()?),
            b'x' => FieldValue::Bytes(r.longstr()?),
            b'A' => {
                if depth >= MAX_DEPTH {
                    return Err(DecodeError::TooDeep(MAX_DEPTH));
                }
                let len = r.u32()? as usize;
                let body = r.take(len, "field array")?;
                let mut inner = Reader::new(body);
                let mut items = Vec::new();
                while inner.remaining() > 0 {
                    items.push(FieldValue::decode_from(&mut inner, depth + 1)?);
                }
                FieldValue::Array(items)
            }
            b'T' => FieldValue::Timestamp(r.u64()?),
            b'F' => FieldValue::Table(FieldTable::decode_from(r, depth + 1)?),
            b'V' => FieldValue::Void,
            other => return Err(DecodeError::UnknownFieldType(other)),
        })
    }

    fn encode(&self, buf: &mut BytesMut) {
        match self {
            FieldValue::Bool(v) => {
                buf.put_u8(b't');
                buf.put_u8(u8::from(*v));
            }
            FieldValue::I8(v) => {
                buf.put_u8(b'b');
                buf.put_i8(*v);
            }
            FieldValue::U8(v) => {
                buf.put_u8(b'B');
                buf.put_u8(*v);
            }
            FieldValue::I16(v) => {
                buf.put_u8(b's');
                buf.put_i16(*v);
            }
            FieldValue::U16(v) => {
                buf.put_u8(b'u');
                buf.put_u16(*v);
            }
            FieldValue::I32(v) => {
                buf.put_u8(b'I');
                buf.put_i32(*v);
            }
            FieldValue::U32(v) => {
                buf.put_u8(b'i');
                buf.put_u32(*v);
            }
            FieldValue::I64(v) => {
                buf.put_u8(b'l');
                buf.put_i64(*v);
            }
            FieldValue::F32(v) => {
                buf.put_u8(b'f');
                buf.put_u32(v.to_bits());
            }
            FieldValue::F64(v) => {
                buf.put_u8(b'd');
                buf.put_u64(v.to_bits());
            }
            FieldValue::Decimal(scale, v) => {
                buf.put_u8(b'D');
                buf.put_u8(*scale);
                buf.put_u32(*v);
            }
            FieldValue::LongStr(v) => {
                buf.put_u8(b'S');
                buf.put_u32(v.len() as u32);
                buf.put_slice(v);
            }
            FieldValue::Bytes(v) => {
                buf.put_u8(b'x');
                buf.put_u32(v.len() as u32);
                buf.put_slice(v);
            }
            FieldValue::Array(items) => {
                buf.put_u8(b'A');
                let at = buf.len();
                buf.put_u32(0);
                for item in items {
                    item.encode(buf);
                }
                let len = (buf.len() - at - 4) as u32;
                buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
            }
            FieldValue::Timestamp(v) => {
                buf.put_u8(b'T');
                buf.put_u64(*v);
            }
            FieldValue::Table(t) => {
                buf.put_u8(b'F');
                t.encode(buf);
            }
            FieldValue::Void => buf.put_u8(b'V'),
        }
    }

    /// The value as an integer, whatever its width (RabbitMQ compares
    /// x-arguments by value).
    pub fn as_i64(&self) -> Option<i64> {
        Some(match *self {
            FieldValue::I8(v) => v.into(),
            FieldValue::U8(v) => v.into(),
            FieldValue::I16(v) => v.into(),
            FieldValue::U16(v) => v.into(),
            FieldValue::I32(v) => v.into(),
            FieldValue::U32(v) => v.into(),
            FieldValue::I64(v) => v,
            _ => return None,
        })
    }

    /// The value as text, for long strings that hold UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::LongStr(b) | FieldValue::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    pub fn str(s: &str) -> FieldValue {
        FieldValue::LongStr(Bytes::copy_from_slice(s.as_bytes()))
    }

    /// RabbitMQ's name for the type, used in 406 texts.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::Bool(_) => "bool",
            FieldValue::I8(_) => "byte",
            FieldValue::U8(_) => "unsignedbyte",
            FieldValue::I16(_) => "short",
            FieldValue::U16(_) => "unsignedshort",
            FieldValue::I32(_) => "signedint",
            FieldValue::U32(_) => "unsignedint",
            FieldValue::I64(_) => "long",
            FieldValue::F32(_) => "float",
            FieldValue::F64(_) => "double",
            FieldValue::Decimal(..) => "decimal",
            FieldValue::LongStr(_) => "longstr",
            FieldValue::Bytes(_) => "binary",
            FieldValue::Array(_) => "array",
            FieldValue::Timestamp(_) => "timestamp",
            FieldValue::Table(_) => "table",
            FieldValue::Void => "void",
        }
    }
}

#[cfg(test)]
pub(crate) mod strategy {
    //! proptest generators for tables, shared with the method tests.
    use super::*;
    use proptest::prelude::*;

    fn leaf() -> impl Strategy<Value = FieldValue> {
        prop_oneof![
            any::<bool>().prop_map(FieldValue::Bool),
            any::<i8>().prop_map(FieldValue::I8),
            any::<u8>().prop_map(FieldValue::U8),
            any::<i16>().prop_map(FieldValue::I16),
            any::<u16>().prop_map(FieldValue::U16),
            any::<i32>().prop_map(FieldValue::I32),
            any::<u32>().prop_map(FieldValue::U32),
            any::<i64>().prop_map(FieldValue::I64),
            (-1e30f32..1e30).prop_map(FieldValue::F32),
            (-1e300f64..1e300).prop_map(FieldValue::F64),
            (any::<u8>(), any::<u32>()).prop_map(|(s, v)| FieldValue::Decimal(s, v)),
            proptest::collection::vec(any::<u8>(), 0..20)
                .prop_map(|v| FieldValue::LongStr(v.into())),
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(|v| FieldValue::Bytes(v.into())),
            any::<u64>().prop_map(FieldValue::Timestamp),
            Just(FieldValue::Void),
        ]
    }

    pub fn value() -> impl Strategy<Value = FieldValue> {
        leaf().prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(FieldValue::Array),
                proptest::collection::vec(("[a-z-]{0,12}", inner), 0..6)
                    .prop_map(|kv| FieldValue::Table(FieldTable(kv))),
            ]
        })
    }

    pub fn table() -> impl Strategy<Value = FieldTable> {
        proptest::collection::vec(("[a-zA-Z0-9_.-]{0,20}", value()), 0..8).prop_map(FieldTable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn tables_round_trip(t in strategy::table()) {
            let mut buf = BytesMut::new();
            t.encode(&mut buf);
            prop_assert_eq!(FieldTable::decode(&buf).unwrap(), t);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = FieldTable::decode(&bytes);
        }
    }

    #[test]
    fn capital_l_is_a_signed_long_and_u_is_refused() {
        let mut body = vec![1, b'k', b'L'];
        body.extend_from_slice(&(-5i64).to_be_bytes());
        let mut buf = (body.len() as u32).to_be_bytes().to_vec();
        buf.extend_from_slice(&body);
        assert_eq!(
            FieldTable::decode(&buf).unwrap().get("k"),
            Some(&FieldValue::I64(-5))
        );
        let bad = [0, 0, 0, 5, 1, b'k', b'U', 0, 1];
        assert_eq!(
            FieldTable::decode(&bad),
            Err(DecodeError::UnknownFieldType(b'U'))
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut t = FieldTable::new();
        for _ in 0..(MAX_DEPTH + 3) {
            let mut outer = FieldTable::new();
            outer.insert("n", FieldValue::Table(t));
            t = outer;
        }
        let mut buf = BytesMut::new();
        t.encode(&mut buf);
        assert_eq!(
            FieldTable::decode(&buf),
            Err(DecodeError::TooDeep(MAX_DEPTH))
        );
    }

    #[test]
    fn integers_compare_by_value() {
        assert_eq!(FieldValue::I32(10).as_i64(), FieldValue::I64(10).as_i64());
        assert_eq!(FieldValue::U16(10).as_i64(), Some(10));
        assert_eq!(FieldValue::str("x").as_i64(), None);
    }
}
