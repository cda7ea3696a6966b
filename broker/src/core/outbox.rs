//! A connection's outgoing bytes: the core and the connection's own task
//! encode frames into it; the writer task drains it to the socket.

use std::sync::atomic::{AtomicBool, Ordering};

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::proto::frame::{encode_content, encode_frame, encode_method};
use crate::proto::{ContentHeader, Frame, Method};

/// Above this many buffered bytes the core stops delivering to the
/// connection's consumers until the writer catches up.
pub const HIGH_WATER: usize = 4 << 20;
/// Below this, a throttled connection gets deliveries again.
pub const LOW_WATER: usize = 1 << 20;

#[derive(Debug)]
pub struct Outbox {
    buf: Mutex<BytesMut>,
    notify: Notify,
    closed: AtomicBool,
    frame_max: std::sync::atomic::AtomicU32,
    /// Set by the core when it stops delivering because of [`HIGH_WATER`].
    pub throttled: AtomicBool,
    /// Negotiated heartbeat in seconds (0 = off), for the writer.
    pub heartbeat: std::sync::atomic::AtomicU16,
}

impl Outbox {
    pub fn new(frame_max: u32) -> Self {
        Outbox {
            buf: Mutex::new(BytesMut::with_capacity(8192)),
            notify: Notify::new(),
            closed: AtomicBool::new(false),
            frame_max: std::sync::atomic::AtomicU32::new(frame_max),
            throttled: AtomicBool::new(false),
            heartbeat: std::sync::atomic::AtomicU16::new(0),
        }
    }

    pub fn set_frame_max(&self, frame_max: u32) {
        self.frame_max.store(frame_max, Ordering::Relaxed);
    }

    pub fn frame_max(&self) -> u32 {
        self.frame_max.load(Ordering::Relaxed)
    }

    pub fn method(&self, channel: u16, method: &Method) {
        self.write(|b| encode_method(channel, method, b));
    }

    pub fn frame(&self, frame: &Frame) {
        self.write(|b| encode_frame(frame, b));
    }

    pub fn content(&self, channel: u16, method: &Method, header: &ContentHeader, body: &[u8]) {
        let frame_max = self.frame_max();
        self.write(|b| encode_content(channel, method, header, body, frame_max, b));
    }

    pub fn raw(&self, bytes: &[u8]) {
        self.write(|b| b.extend_from_slice(bytes));
    }

    fn write(&self, f: impl FnOnce(&mut BytesMut)) {
        if self.closed.load(Ordering::Relaxed) {
            return;
        }
        f(&mut self.buf.lock());
        self.notify.notify_one();
    }

    pub fn len(&self) -> usize {
        self.buf.lock().len()
    }

    /// Takes everything buffered so far, leaving `spare` in its place.
    pub fn take(&self, spare: BytesMut) -> BytesMut {
        std::mem::replace(&mut *self.buf.lock(), spare)
    }

    pub async fn wait(&self) {
        self.notify.notified().await;
    }

    /// No more writes are accepted; the writer drains and stops.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.notify.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}
