//! The connection state machine, taken through a valid handshake and a
//! channel.open, then fed arbitrary bytes: never panics, and once it has
//! sent connection.close it sends nothing but what the close handshake allows.
#![no_main]

use std::sync::Arc;

use broker::proto::frame::decode_frame;
use broker::proto::method::{ChannelOpen, ConnectionOpen, ConnectionStartOk, ConnectionTuneOk};
use broker::proto::{Frame, Method, PROTOCOL_HEADER};
use broker::session::{Output, Session};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut session = Session::new(Arc::new(broker::Config::default()), true);
    let mut out = Vec::new();
    session.handle_header(PROTOCOL_HEADER, &mut out);
    let handshake: [Method; 4] = [
        ConnectionStartOk {
            mechanism: "PLAIN".into(),
            response: bytes::Bytes::from_static(b"\0guest\0guest"),
            ..Default::default()
        }
        .into(),
        ConnectionTuneOk {
            channel_max: 8,
            frame_max: 131_072,
            heartbeat: 0,
        }
        .into(),
        ConnectionOpen {
            virtual_host: "/".into(),
            ..Default::default()
        }
        .into(),
        ChannelOpen::default().into(),
    ];
    for (i, m) in handshake.into_iter().enumerate() {
        let channel = if i == 3 { 1 } else { 0 };
        session.handle_frame(Frame::Method { channel, method: m }, &mut out);
    }
    assert!(session.is_running());
    let mut buf = BytesMut::from(data);
    let mut closing = false;
    loop {
        out.clear();
        match decode_frame(&mut buf, session.frame_max) {
            Ok(Some(frame)) => session.handle_frame(frame, &mut out),
            Ok(None) => break,
            Err(e) => {
                // The server drops the rest of its buffer after a frame error.
                session.frame_error(&e, &mut out);
                buf.clear();
            }
        }
        for o in &out {
            if let Output::Send(Frame::Method { method, .. }) = o {
                if closing {
                    assert!(
                        matches!(method, Method::ConnectionCloseOk(_)),
                        "sent {} after close",
                        method.name()
                    );
                }
                if matches!(method, Method::ConnectionClose(_)) {
                    closing = true;
                }
            }
        }
        if session.is_closed() || out.iter().any(|o| matches!(o, Output::Disconnect)) {
            break;
        }
    }
});
