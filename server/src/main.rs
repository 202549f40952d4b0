//! `estate-server`: parses arguments and runs the collector built by the library.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use estate_server::assess::Assessor;
use estate_server::cli::{self, CliError, Verdict};
use estate_server::config::ServerConfig;

/// Estate's collector: receives agents' reports, stores them and serves the estate view.
#[derive(Debug, Parser)]
#[command(name = "estate-server", version, about)]
struct Cli {
    /// Log format on standard error (json: one object per line). The level comes from
    /// RUST_LOG.
    #[arg(long, value_name = "FORMAT", global = true, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    // One human-readable line per event (no doc comment: clap would print the values
    // as a long list in --help).
    Text,
    // One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Try Estate on this machine: a collector on SQLite under a local data directory and
    /// an agent for this host, with no config file. Ctrl-C stops both.
    Quickstart {
        /// Where the database, the enrolment token and the agent's state are kept
        /// (reused by the next run).
        #[arg(long, value_name = "DIR", default_value = estate_server::quickstart::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// Listen address (IP:PORT; port 0 picks a free one). Default 127.0.0.1:8470, or a
        /// free port when 8470 is taken.
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Run the collector.
    Serve {
        /// The collector's config file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Validate a config file and the check config, lifecycle table and carbon data it
    /// names; print every problem and exit 2 on any (0 when valid).
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Test or list the health-check catalogue.
    Checks(cli::ChecksArgs),
    /// Audit hosts against a profile without a running collector: one agent report file
    /// (--report), or the estate in the collector's store (--config). Exits 1 when the
    /// score is below --fail-below (or the profile's fail_below), 2 on errors.
    Audit(cli::AuditArgs),
    /// Print the facts the checks read, as JSON: of an agent report file (--report), or
    /// of a host in the store (HOST --config).
    Facts(cli::FactsArgs),
    /// Estimate the energy and carbon of one agent report file, on-premises and in each
    /// scenario, optionally with what-if utilisation.
    Estimate(cli::EstimateArgs),
    /// The estate's energy and carbon estimates from the collector's store: per host,
    /// totals per scenario and the best candidates.
    Carbon(cli::CarbonArgs),
    /// Write the estate's health-check report (HTML, Markdown, CSV or JSON) from the
    /// collector's store, compared with the previous report.
    Report(cli::ReportArgs),
    /// Print a complete commented server.toml with every key at its default.
    GenConfig,
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages (estate-server.1 and one per subcommand) into DIR.
    Man {
        /// The directory (created when missing).
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
    },
    /// Import hosts from an inventory export (RVTools XLSX/CSV, Azure Migrate CSV, Estate
    /// CSV) into the collector's store and assess them; bad rows are listed by line.
    /// Exits 2 only when nothing could be read.
    Import(cli::ImportArgs),
    /// Manage per-host agent tokens.
    Token {
        /// The collector's config file (names the store).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// List hosts with a token.
    List,
    /// Revoke a host's token (it must enrol again).
    Revoke {
        /// The host id.
        host: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The quickstart prints its own summary; its log shows only problems by default.
    let default_level = match cli.command {
        Command::Quickstart { .. } => "warn",
        _ => "info",
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().init(),
    }
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("estate-server: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Quickstart { data_dir, listen } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let options = estate_server::quickstart::QuickstartOptions {
                data_dir: Some(data_dir),
                listen,
            };
            runtime.block_on(estate_server::quickstart::run(options, shutdown_signal()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { file } => {
            let checked = ServerConfig::load(&file)
                .map_err(CliError::from)
                .and_then(|config| {
                    // The certificate, key and client CA are read and matched as at start.
                    if let Some(tls) = &config.tls {
                        estate_server::tls::Tls::load(tls)
                            .map_err(|e| CliError::Open(estate_server::AppError::Tls(e)))?;
                    }
                    Ok(Assessor::load(&config.assess)?)
                });
            match checked {
                Ok(_) => {
                    println!("{}: ok", file.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => {
                    eprintln!("{err}");
                    Ok(ExitCode::from(err.exit_code()))
                }
            }
        }
        Command::Checks(args) => offline(|out, _| cli::checks(&args, out)),
        Command::Audit(args) => offline(|out, diag| cli::audit(&args, out, diag)),
        Command::Facts(args) => offline(|out, _| cli::facts(&args, out)),
        Command::Estimate(args) => offline(|out, _| cli::estimate(&args, out)),
        Command::Carbon(args) => offline(|out, _| cli::carbon(&args, out)),
        Command::Import(args) => offline(|out, diag| cli::import(&args, out, diag)),
        Command::Report(args) => offline(|out, diag| {
            cli::report(
                &args,
                out,
                diag,
                std::io::IsTerminal::is_terminal(&std::io::stderr()),
            )
        }),
        Command::Serve { config } => {
            let config = match ServerConfig::load(&config) {
                Ok(c) => c,
                Err(err) => {
                    eprintln!("{err}");
                    return Ok(ExitCode::from(2));
                }
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(async {
                let server = estate_server::start(&config).await?;
                shutdown_signal().await;
                tracing::info!("shutting down");
                server.shutdown().await?;
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::GenConfig => {
            print!("{}", estate_server::config::reference::server_gen_config());
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            // Into a buffer first: the generator panics on a write error (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "estate-server", &mut script);
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(e).context("writing the completion script")
                }
                _ => Ok(ExitCode::SUCCESS),
            }
        }
        Command::Man { out_dir } => {
            std::fs::create_dir_all(&out_dir)
                .with_context(|| format!("creating {}", out_dir.display()))?;
            clap_mangen::generate_to(Cli::command(), &out_dir)
                .with_context(|| format!("writing man pages into {}", out_dir.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { config, action } => {
            let config = match ServerConfig::load(&config) {
                Ok(c) => c,
                Err(err) => {
                    eprintln!("{err}");
                    return Ok(ExitCode::from(2));
                }
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(async {
                let store = estate_server::open_store(&config)?;
                match action {
                    TokenAction::List => {
                        for t in store.tokens().await? {
                            println!(
                                "{}\t{}\t{}\t{}",
                                t.host_id,
                                t.hostname,
                                t.issued_at.to_rfc3339(),
                                if t.revoked { "revoked" } else { "active" }
                            );
                        }
                        anyhow::Ok(ExitCode::SUCCESS)
                    }
                    TokenAction::Revoke { host } => {
                        if store.revoke(host.clone()).await? {
                            println!("revoked the token of {host}");
                            anyhow::Ok(ExitCode::SUCCESS)
                        } else {
                            eprintln!("{host} has no active token");
                            anyhow::Ok(ExitCode::from(1))
                        }
                    }
                }
            })
        }
    }
}

/// Runs an offline command on standard output and error, and maps its verdict or error
/// to the exit status (0, 1, or 2 with the error on standard error).
fn offline(
    command: impl FnOnce(&mut dyn Write, &mut dyn Write) -> Result<Verdict, CliError>,
) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut diag = std::io::stderr();
    let result = command(&mut out, &mut diag);
    let _ = out.flush();
    match result {
        Ok(verdict) => Ok(ExitCode::from(verdict.exit_code())),
        // The reader went away (`| head`): not an error of ours.
        Err(CliError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(ExitCode::SUCCESS)
        }
        Err(err) if err.is_located() => {
            eprintln!("{err}");
            Ok(ExitCode::from(err.exit_code()))
        }
        Err(err) => {
            eprintln!("estate-server: {err}");
            Ok(ExitCode::from(err.exit_code()))
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
