//! The frame envelope: `type | channel | size | payload | 0xCE`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::codec::DecodeError;
use super::method::Method;
use super::properties::ContentHeader;
use super::{FRAME_MIN_SIZE, FRAME_OVERHEAD};

pub const FRAME_METHOD: u8 = 1;
pub const FRAME_HEADER: u8 = 2;
pub const FRAME_BODY: u8 = 3;
pub const FRAME_HEARTBEAT: u8 = 8;
pub const FRAME_END: u8 = 0xCE;

#[derive(Debug, Clone, PartialEq)]
// Moved a few times per message; boxing the content would add an
// allocation per message on the hot path.
#[allow(clippy::large_enum_variant)]
pub enum Frame {
    Method { channel: u16, method: Method },
    Header { channel: u16, header: ContentHeader },
    Body { channel: u16, payload: Bytes },
    Heartbeat { channel: u16 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame end octet {0:#04x}, expected 0xce")]
    BadFrameEnd(u8),
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    #[error("frame_too_large: payload of {size} bytes, limit {limit}")]
    TooLarge { size: u32, limit: u32 },
    #[error("cannot decode {what} on channel {channel}: {error}")]
    Decode {
        channel: u16,
        what: &'static str,
        /// (class, method) when the method ids were readable.
        ids: Option<(u16, u16)>,
        error: DecodeError,
    },
}

impl Frame {
    pub fn channel(&self) -> u16 {
        match self {
            Frame::Method { channel, .. }
            | Frame::Header { channel, .. }
            | Frame::Body { channel, .. }
            | Frame::Heartbeat { channel } => *channel,
        }
    }
}

/// Cuts one frame off the front of `buf`; `Ok(None)` means "need more
/// bytes". A size above `frame_max` is refused before anything is buffered.
pub fn decode_frame(buf: &mut BytesMut, frame_max: u32) -> Result<Option<Frame>, FrameError> {
    if buf.len() < 7 {
        return Ok(None);
    }
    let kind = buf[0];
    let channel = u16::from_be_bytes([buf[1], buf[2]]);
    let size = u32::from_be_bytes([buf[3], buf[4], buf[5], buf[6]]);
    let limit = frame_max.max(FRAME_MIN_SIZE) - FRAME_OVERHEAD;
    if size > limit {
        return Err(FrameError::TooLarge { size, limit });
    }
    if !matches!(
        kind,
        FRAME_METHOD | FRAME_HEADER | FRAME_BODY | FRAME_HEARTBEAT
    ) {
        return Err(FrameError::UnknownType(kind));
    }
    let total = 7 + size as usize + 1;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    let end = buf[total - 1];
    if end != FRAME_END {
        return Err(FrameError::BadFrameEnd(end));
    }
    buf.advance(7);
    let payload = buf.split_to(size as usize).freeze();
    buf.advance(1);
    let frame = match kind {
        FRAME_METHOD => Frame::Method {
            channel,
            method: Method::decode(&payload).map_err(|error| FrameError::Decode {
                channel,
                what: "method",
                ids: (payload.len() >= 4).then(|| {
                    (
                        u16::from_be_bytes([payload[0], payload[1]]),
                        u16::from_be_bytes([payload[2], payload[3]]),
                    )
                }),
                error,
            })?,
        },
        FRAME_HEADER => Frame::Header {
            channel,
            header: ContentHeader::decode(&payload).map_err(|error| FrameError::Decode {
                channel,
                what: "content header",
                ids: None,
                error,
            })?,
        },
        FRAME_BODY => Frame::Body { channel, payload },
        _ => Frame::Heartbeat { channel },
    };
    Ok(Some(frame))
}

/// Appends one frame.
pub fn encode_frame(frame: &Frame, buf: &mut BytesMut) {
    match frame {
        Frame::Method { channel, method } => encode_method(*channel, method, buf),
        Frame::Header { channel, header } => {
            envelope(FRAME_HEADER, *channel, buf, |b| header.encode(b));
        }
        Frame::Body { channel, payload } => {
            envelope(FRAME_BODY, *channel, buf, |b| b.put_slice(payload));
        }
        Frame::Heartbeat { channel } => envelope(FRAME_HEARTBEAT, *channel, buf, |_| {}),
    }
}

/// Appends a method frame.
pub fn encode_method(channel: u16, method: &Method, buf: &mut BytesMut) {
    envelope(FRAME_METHOD, channel, buf, |b| method.encode(b));
}

/// Appends a content-bearing method, its header and its body split into
/// frames of at most `frame_max` bytes.
pub fn encode_content(
    channel: u16,
    method: &Method,
    header: &ContentHeader,
    body: &[u8],
    frame_max: u32,
    buf: &mut BytesMut,
) {
    encode_method(channel, method, buf);
    envelope(FRAME_HEADER, channel, buf, |b| header.encode(b));
    let chunk = (frame_max.max(FRAME_MIN_SIZE) - FRAME_OVERHEAD) as usize;
    for part in body.chunks(chunk) {
        envelope(FRAME_BODY, channel, buf, |b| b.put_slice(part));
    }
}

fn envelope(kind: u8, channel: u16, buf: &mut BytesMut, payload: impl FnOnce(&mut BytesMut)) {
    buf.put_u8(kind);
    buf.put_u16(channel);
    let at = buf.len();
    buf.put_u32(0);
    payload(buf);
    let size = (buf.len() - at - 4) as u32;
    buf[at..at + 4].copy_from_slice(&size.to_be_bytes());
    buf.put_u8(FRAME_END);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::method::{BasicPublish, arb_method};
    use crate::proto::properties::Properties;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn method_frames_round_trip(m in arb_method(), channel in any::<u16>()) {
            let mut buf = BytesMut::new();
            encode_method(channel, &m, &mut buf);
            let frame = decode_frame(&mut buf, 1 << 20).unwrap().unwrap();
            prop_assert_eq!(frame, Frame::Method { channel, method: m });
            prop_assert!(buf.is_empty());
        }

        #[test]
        fn content_splits_at_frame_max(body in proptest::collection::vec(any::<u8>(), 0..20_000)) {
            let mut buf = BytesMut::new();
            let header = ContentHeader::new(body.len() as u64, Properties::default());
            let m = Method::BasicPublish(BasicPublish::default());
            encode_content(3, &m, &header, &body, 4096, &mut buf);
            let mut got = Vec::new();
            let mut frames = 0;
            while let Some(f) = decode_frame(&mut buf, 4096).unwrap() {
                frames += 1;
                if let Frame::Body { payload, .. } = f {
                    prop_assert!(payload.len() <= 4088);
                    got.extend_from_slice(&payload);
                }
            }
            prop_assert_eq!(got, body.clone());
            prop_assert_eq!(frames, 2 + body.len().div_ceil(4088));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(_)) = decode_frame(&mut buf, 4096) {}
        }
    }

    #[test]
    fn partial_frames_wait_for_more_bytes() {
        let mut full = BytesMut::new();
        encode_frame(&Frame::Heartbeat { channel: 0 }, &mut full);
        for cut in 0..full.len() {
            let mut part = BytesMut::from(&full[..cut]);
            assert_eq!(decode_frame(&mut part, 4096), Ok(None));
        }
    }

    #[test]
    fn envelope_errors() {
        let mut bad_end = BytesMut::from(&[8, 0, 0, 0, 0, 0, 0, 0xCD][..]);
        assert_eq!(
            decode_frame(&mut bad_end, 4096),
            Err(FrameError::BadFrameEnd(0xCD))
        );
        let mut bad_type = BytesMut::from(&[9, 0, 0, 0, 0, 0, 0, 0xCE][..]);
        assert_eq!(
            decode_frame(&mut bad_type, 4096),
            Err(FrameError::UnknownType(9))
        );
        let mut huge = BytesMut::from(&[3, 0, 1, 0, 1, 0, 0][..]);
        assert!(matches!(
            decode_frame(&mut huge, 4096),
            Err(FrameError::TooLarge { .. })
        ));
    }
}
