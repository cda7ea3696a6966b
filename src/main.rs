//! The `cfyd` binary: parses the command line and turns errors into exit codes.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use cfyd::cli::{BlueprintsCommand, Cli, Command, ConfigCommand};
use cfyd::config;

/// mimalloc keeps freed pages for reuse; glibc's malloc returned the
/// broker's and the indexer's large buffers to the kernel and paid for
/// zeroing fresh pages on every batch (a third of the CPU under load).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Run as `ctx` (the link on an operation script's PATH): the ctx client.
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    if std::path::Path::new(&argv0)
        .file_name()
        .is_some_and(|n| n == "ctx")
    {
        let code = cfyd::ctx_cli::run(args.collect());
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cfyd: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Version => {
            println!(
                "cfyd {} (Cloudify {} API)",
                env!("CARGO_PKG_VERSION"),
                cfyd::rest::status::COMPATIBLE_VERSION
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Blueprints {
            command: BlueprintsCommand::Validate(args),
        } => cfyd::validate::run(&args),
        Command::Config {
            command: ConfigCommand::Show(args),
        } => {
            let config = config::load(&args.overrides(), std::env::vars())?;
            print!("{}", config.to_toml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Agent(args) => {
            let log = config::LogConfig {
                filter: args.log.clone(),
                ..config::LogConfig::default()
            };
            cfyd::logging::init(&log)?;
            let host = cfyd::bus::parse_url(&args.broker)?.host;
            let options = cfyd::agent::AgentOptions {
                name: args.name.unwrap_or_else(|| args.queue.clone()),
                rest_url: args
                    .rest_url
                    .unwrap_or_else(|| format!("http://{host}:8101")),
                file_server_url: args
                    .file_server_url
                    .unwrap_or_else(|| format!("http://{host}:53229")),
                broker_url: args.broker,
                queue: args.queue,
                concurrency: args.concurrency,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(cfyd::agent::run(options))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(args) => {
            let config = config::load(&args.overrides(), std::env::vars())?;
            cfyd::logging::init(&config.log)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(cfyd::app::run(config, cfyd::app::shutdown_signal()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
