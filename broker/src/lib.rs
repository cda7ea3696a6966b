//! A general AMQP 0-9-1 broker, compatible with what RabbitMQ clients expect.
//!
//! - [`proto`]: the sans-IO wire format (frames, methods, content, tables).

pub mod proto;
