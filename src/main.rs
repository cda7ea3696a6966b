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
