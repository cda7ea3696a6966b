//! cfyd: a Cloudify-3.3-compatible manager in one binary.
//!
//! See ARCHITECTURE.md for the map. The binary entry point is `main.rs`;
//! everything it calls lives here so that tests can reach it too.

pub mod agent;
pub mod amqp;
pub mod app;
pub mod bus;
pub mod celery;
pub mod cli;
pub mod config;
pub mod ctx_cli;
pub mod datadir;
pub mod dsl;
pub mod es_api;
pub mod fileserver;
pub mod influx_api;
pub mod listeners;
pub mod logging;
pub mod logstash;
pub mod metrics;
pub mod model;
pub mod mqtt;
pub mod pipeline;
pub mod rest;
pub mod retention;
pub mod validate;
pub mod workflows;
