//! The connection state machine fed arbitrary bytes after a valid header:
//! never panics, and once it has sent connection.close it sends nothing but
//! what the close handshake allows.
#![no_main]

use std::sync::Arc;

use broker::proto::frame::decode_frame;
use broker::proto::{Frame, Method, PROTOCOL_HEADER};
use broker::session::{Output, Session};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut session = Session::new(Arc::new(broker::Config::default()), true);
    let mut out = Vec::new();
    session.handle_header(PROTOCOL_HEADER, &mut out);
    let mut buf = BytesMut::from(data);
    let mut closing = false;
    loop {
        out.clear();
        match decode_frame(&mut buf, session.frame_max) {
            Ok(Some(frame)) => session.handle_frame(frame, &mut out),
            Ok(None) => break,
            Err(e) => session.frame_error(&e, &mut out),
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
