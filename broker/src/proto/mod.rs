//! The AMQP 0-9-1 wire format, sans-IO: frames, methods, content headers and
//! field tables as pure functions over bytes.
//!
//! Framing is kept apart from payload format: [`frame`] cuts a byte stream
//! into frames and checks the envelope; [`method`], [`properties`] and
//! [`field_table`] decode what is inside. Every decoder takes a size limit or
//! is bounded by its input, and reports problems as [`DecodeError`] values.

pub mod codec;
pub mod constants;
pub mod field_table;
pub mod frame;
pub mod method;
pub mod properties;

pub use codec::{DecodeError, Reader, Writer};
pub use field_table::{FieldTable, FieldValue};
pub use frame::{Frame, FrameError, decode_frame, encode_frame};
pub use method::Method;
pub use properties::{ContentHeader, Properties};

/// The 8 bytes a 0-9-1 client opens with.
pub const PROTOCOL_HEADER: &[u8; 8] = b"AMQP\x00\x00\x09\x01";
/// Smallest `frame_max` a peer may negotiate.
pub const FRAME_MIN_SIZE: u32 = 4096;
/// Bytes of framing around a payload: type, channel, size, end octet.
pub const FRAME_OVERHEAD: u32 = 8;
