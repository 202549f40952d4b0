//! `estate-agent`: parses arguments and runs what the library builds.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use estate_agent::collect::Context;
use estate_agent::config::{AgentConfig, LogFormat};
use estate_agent::daemon::{self, DaemonOptions};
use estate_agent::report::{self, OneShot};
use estate_agent::root::SysRoot;

/// Default config file.
const DEFAULT_CONFIG: &str = "/etc/estate/agent.toml";

#[derive(Debug, Parser)]
#[command(
    name = "estate-agent",
    version,
    about = "Inventories this host, samples its utilisation and power, and reports to an Estate collector."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Collect one report and print it as JSON on standard output.
    Collect {
        /// Indent the JSON.
        #[arg(long)]
        pretty: bool,
        /// Config file (default: /etc/estate/agent.toml when it exists, else built-in defaults).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Read the system under DIR instead of / (a recorded sysroot).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Length of the utilisation and power burst, milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        burst_ms: u64,
    },
    /// Run as a daemon: sample, report every report_interval_secs, spool and send to the collector.
    Run {
        /// The config file.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Read the system under DIR instead of / (a recorded sysroot, for tests).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Check a config file and print every problem in it.
    CheckConfig {
        /// The config file.
        file: PathBuf,
    },
}

/// Logs to standard error, filtered by `ESTATE_LOG` (default `default_level`).
fn init_logging(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ESTATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    // Before any thread exists (see its doc for the measured effect).
    estate_agent::collect::platform::tune_allocator();
    let cli = Cli::parse();
    // The daemon logs as its config says, once the config is read.
    if !matches!(cli.command, Command::Run { .. }) {
        init_logging(LogFormat::Text, "warn");
    }
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("estate-agent: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn load_config(path: Option<PathBuf>) -> anyhow::Result<AgentConfig> {
    match path {
        Some(path) => Ok(AgentConfig::load(&path)?),
        None if std::path::Path::new(DEFAULT_CONFIG).exists() => {
            Ok(AgentConfig::load(std::path::Path::new(DEFAULT_CONFIG))?)
        }
        None => Ok(AgentConfig::default()),
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Collect {
            pretty,
            config,
            root,
            burst_ms,
        } => {
            let config = load_config(config)?;
            let root = SysRoot::new(root.unwrap_or_else(|| PathBuf::from("/")));
            let ctx = Context::new(root, Arc::new(config));
            let shot = OneShot {
                burst: std::time::Duration::from_millis(burst_ms),
                ..OneShot::default()
            };
            let report = report::collect_once(&ctx, shot).context("collecting a report")?;
            let json = if pretty {
                serde_json::to_string_pretty(&report)?
            } else {
                serde_json::to_string(&report)?
            };
            println!("{json}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { config, root } => {
            let config = match AgentConfig::load(&config) {
                Ok(config) => config,
                Err(err) => {
                    eprintln!("{err}");
                    return Ok(ExitCode::from(2));
                }
            };
            init_logging(config.log_format, "info");
            let options = DaemonOptions {
                root: SysRoot::new(root.unwrap_or_else(|| PathBuf::from("/"))),
                ..DaemonOptions::default()
            };
            daemon::run_until_signal(config, options).context("running the agent")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { file } => match AgentConfig::load(&file) {
            Ok(_) => {
                println!("{}: ok", file.display());
                Ok(ExitCode::SUCCESS)
            }
            Err(err) => {
                eprintln!("{err}");
                Ok(ExitCode::from(2))
            }
        },
    }
}
