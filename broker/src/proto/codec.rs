//! Primitive AMQP types: integers, short and long strings, packed bits.

use bytes::{BufMut, Bytes, BytesMut};

use super::field_table::FieldTable;

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("short string is not valid UTF-8")]
    InvalidUtf8,
    #[error("unknown field type {0:#04x}")]
    UnknownFieldType(u8),
    #[error("field table nesting deeper than {0}")]
    TooDeep(usize),
    #[error("unknown method {0}.{1}")]
    UnknownMethod(u16, u16),
    #[error("content header for class {0}, expected 60")]
    UnsupportedContentClass(u16),
    #[error("property flags {0:#06x} use bits basic does not define")]
    BadPropertyFlags(u16),
}

/// Reads primitive values from a payload; consecutive bits share one octet.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    bits: u8,
    bit_index: u8,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            bits: 0,
            bit_index: 8,
        }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        self.bit_index = 8;
        if self.remaining() < n {
            return Err(DecodeError::Truncated(what));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>("octet")?[0])
    }
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array("short")?))
    }
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array("long")?))
    }
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array("longlong")?))
    }

    pub fn bit(&mut self) -> Result<bool, DecodeError> {
        if self.bit_index >= 8 {
            let b = self.u8()?;
            self.bits = b;
            self.bit_index = 0;
        }
        let v = self.bits & (1 << self.bit_index) != 0;
        self.bit_index += 1;
        Ok(v)
    }

    pub fn shortstr(&mut self) -> Result<String, DecodeError> {
        let len = self.u8()? as usize;
        let raw = self.take(len, "short string")?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| DecodeError::InvalidUtf8)
    }

    pub fn longstr(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.u32()? as usize;
        Ok(Bytes::copy_from_slice(self.take(len, "long string")?))
    }

    pub fn table(&mut self) -> Result<FieldTable, DecodeError> {
        FieldTable::decode_from(self, 0)
    }
}

/// Writes primitive values; consecutive bits share one octet.
pub struct Writer<'a> {
    buf: &'a mut BytesMut,
    bit_pos: Option<(usize, u8)>,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut BytesMut) -> Self {
        Writer { buf, bit_pos: None }
    }

    pub fn buf(&mut self) -> &mut BytesMut {
        self.bit_pos = None;
        self.buf
    }

    pub fn u8(&mut self, v: u8) {
        self.buf().put_u8(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf().put_u16(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.buf().put_u32(v);
    }
    pub fn u64(&mut self, v: u64) {
        self.buf().put_u64(v);
    }

    pub fn bit(&mut self, v: bool) {
        match self.bit_pos {
            Some((at, n)) if n < 8 => {
                if v {
                    self.buf[at] |= 1 << n;
                }
                self.bit_pos = Some((at, n + 1));
            }
            _ => {
                let at = self.buf.len();
                self.buf.put_u8(u8::from(v));
                self.bit_pos = Some((at, 1));
            }
        }
    }

    /// Writes at most 255 bytes; longer input is cut at a char boundary
    /// (callers validate names before they get here).
    pub fn shortstr(&mut self, s: &str) {
        let mut end = s.len().min(255);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.u8(end as u8);
        self.buf().put_slice(&s.as_bytes()[..end]);
    }

    pub fn longstr(&mut self, s: &[u8]) {
        self.u32(s.len() as u32);
        self.buf().put_slice(s);
    }

    pub fn table(&mut self, t: &FieldTable) {
        t.encode(self.buf());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_pack_lsb_first_and_reset_on_other_fields() {
        let mut buf = BytesMut::new();
        let mut w = Writer::new(&mut buf);
        w.bit(true);
        w.bit(false);
        w.bit(true);
        w.u8(7);
        w.bit(true);
        assert_eq!(&buf[..], &[0b101, 7, 1]);
        let mut r = Reader::new(&buf);
        assert!(r.bit().unwrap());
        assert!(!r.bit().unwrap());
        assert!(r.bit().unwrap());
        assert_eq!(r.u8().unwrap(), 7);
        assert!(r.bit().unwrap());
    }

    #[test]
    fn nine_bits_take_two_octets() {
        let mut buf = BytesMut::new();
        let mut w = Writer::new(&mut buf);
        for _ in 0..9 {
            w.bit(true);
        }
        assert_eq!(&buf[..], &[0xff, 1]);
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let mut r = Reader::new(&[5, b'a']);
        assert_eq!(r.shortstr(), Err(DecodeError::Truncated("short string")));
        let mut r = Reader::new(&[0, 0, 0]);
        assert_eq!(r.u32(), Err(DecodeError::Truncated("long")));
    }
}
