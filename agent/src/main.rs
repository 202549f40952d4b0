//! `estate-agent`: parses arguments and runs what the library builds.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use estate_agent::collect::Context;
use estate_agent::config::{AgentConfig, LogFormat};
use estate_agent::daemon::{self, DaemonOptions};
use estate_agent::report::{self, OneShot};
use estate_agent::root::SysRoot;

mod service;

/// Default config file.
const DEFAULT_CONFIG: &str = "/etc/estate/agent.toml";
/// Exit status of `run` when the agent stopped itself over `limits.max_rss_bytes`.
const MEMORY_LIMIT_EXIT: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "estate-agent",
    version,
    about = "Inventories this host, samples its utilisation and power, and reports to an Estate collector."
)]
struct Cli {
    /// Log format on standard error (json: one object per line); for `run` it overrides
    /// agent.log_format. The level comes from ESTATE_LOG.
    #[arg(long, value_name = "FORMAT", global = true)]
    log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    command: Command,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    // One human-readable line per event (no doc comment: clap would print the values
    // as a long list in --help).
    Text,
    // One JSON object per line, for log shippers.
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(arg: LogFormatArg) -> LogFormat {
        match arg {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
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
    /// Simulate a fleet of hosts reporting to a collector (demos and load tests; docs/simulator.md).
    Simulate(SimulateArgs),
    /// Print a complete commented agent.toml with every key at its default.
    GenConfig,
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Install, uninstall, start or stop the agent as a Windows service (Windows only).
    #[command(subcommand)]
    Service(service::ServiceCommand),
    /// Write the man pages (estate-agent.1 and one per subcommand) into DIR.
    Man {
        /// The directory (created when missing).
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// Number of simulated hosts.
    #[arg(long, value_name = "N", required_unless_present = "print")]
    hosts: Option<u32>,
    /// The collector's URL, e.g. http://127.0.0.1:8470.
    #[arg(long, value_name = "URL", required_unless_present_any = ["dry_run", "print"])]
    collector: Option<String>,
    /// File holding the collector's enrolment token.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["dry_run", "print"])]
    enrolment_token_file: Option<PathBuf>,
    /// Seconds between a host's reports.
    #[arg(long, value_name = "S", default_value_t = 300)]
    interval_secs: u64,
    /// Seed: the same seed gives the same hosts, inventories and utilisation series.
    #[arg(long, value_name = "X", default_value_t = 1)]
    seed: u64,
    /// The estate's make-up: council (95 % endpoints, 5 % servers) or servers.
    #[arg(long, value_name = "MIX", default_value = "council")]
    mix: String,
    /// Stop after this many seconds (default: on Ctrl-C, or with --once when every host is done).
    #[arg(long, value_name = "D")]
    duration_secs: Option<u64>,
    /// Requests in flight at most.
    #[arg(long, value_name = "C", default_value_t = 32)]
    concurrency: usize,
    /// Each host enrols and sends one report with its full inventory, then the run ends.
    #[arg(long)]
    once: bool,
    /// Build and compress the reports but send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Extra CA certificates (PEM) for an HTTPS collector.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Share of reports at which a looked-after host's inventory changes (a patch round).
    #[arg(long, value_name = "R", default_value_t = estate_agent::simulate::fleet::DEFAULT_CHANGE_RATE)]
    change_rate: f64,
    /// The day the hosts' ages count from, YYYY-MM-DD (default: today, UTC).
    #[arg(long, value_name = "DATE")]
    anchor_date: Option<chrono::NaiveDate>,
    /// Seconds between progress lines on standard error (0: none).
    #[arg(long, value_name = "S", default_value_t = 30)]
    progress_secs: u64,
    /// Print the final summary as JSON.
    #[arg(long)]
    json: bool,
    /// Print host INDEX's first report as JSON and exit (nothing is sent).
    #[arg(long, value_name = "INDEX")]
    print: Option<u64>,
    /// Append `HOST_ID REPORT_ID stored|duplicate` to FILE for each acknowledged report,
    /// as it arrives (the fault tests check it against the store); default: the file
    /// named by ESTATE_SIMULATE_ACKED_LOG, if set.
    #[arg(long, value_name = "FILE")]
    acked_log: Option<PathBuf>,
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
    // The daemon logs as its config (or --log-format) says, once the config is read; the
    // simulator logs its progress.
    let format = cli.log_format.map_or(LogFormat::Text, LogFormat::from);
    match cli.command {
        // The service logs to its file under %ProgramData%\Estate\logs.
        Command::Run { .. } | Command::Service(service::ServiceCommand::Run { .. }) => {}
        Command::Simulate(_) => init_logging(format, "info"),
        _ => init_logging(format, "warn"),
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
            init_logging(
                cli.log_format.map_or(config.log_format, LogFormat::from),
                "info",
            );
            let options = DaemonOptions {
                root: SysRoot::new(root.unwrap_or_else(|| PathBuf::from("/"))),
                // This process is the agent: its CPU and memory are the agent's.
                enforce_self_limits: true,
                ..DaemonOptions::default()
            };
            match daemon::run_until_signal(config, options) {
                Ok(_) => Ok(ExitCode::SUCCESS),
                // Over the memory limit: a distinct status for the service manager
                // (Restart=on-failure) and for whoever reads the journal.
                Err(err @ daemon::DaemonError::MemoryLimit(_)) => {
                    eprintln!("estate-agent: {err}");
                    Ok(ExitCode::from(MEMORY_LIMIT_EXIT))
                }
                Err(err) => Err(err).context("running the agent"),
            }
        }
        Command::Simulate(args) => simulate(args),
        Command::Service(command) => service::run(command),
        Command::GenConfig => {
            print!(
                "{}",
                estate_agent::config::reference::gen_config(
                    "estate-agent configuration (agent.toml), generated by `estate-agent gen-config`.",
                    &estate_agent::config::reference::agent_entries(),
                )
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            // Into a buffer first: the generator panics on a write error (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "estate-agent", &mut script);
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

fn simulate(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    use estate_agent::simulate::{self, Fleet, Mix};

    let mix = Mix::named(&args.mix)
        .with_context(|| format!("--mix must be council or servers, got `{}`", args.mix))?;
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.change_rate),
        "--change-rate must be between 0 and 1, got {}",
        args.change_rate
    );
    let anchor = args
        .anchor_date
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let fleet = Fleet::new(args.seed, mix, anchor, args.change_rate);
    let interval = std::time::Duration::from_secs(args.interval_secs);
    if let Some(index) = args.print {
        let window = i64::try_from(args.interval_secs).unwrap_or(300);
        let report = fleet.first_report(index, chrono::Utc::now(), window, uuid::Uuid::new_v4());
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let hosts = args.hosts.context("--hosts is required")?;
    let enrolment_token = match (&args.enrolment_token_file, args.dry_run) {
        (Some(file), false) => {
            let token = std::fs::read_to_string(file)
                .with_context(|| format!("reading --enrolment-token-file {}", file.display()))?
                .trim()
                .to_owned();
            anyhow::ensure!(!token.is_empty(), "{} is empty", file.display());
            token
        }
        _ => String::new(),
    };
    let mut options = simulate::Options::new(
        fleet,
        hosts,
        args.collector.unwrap_or_default(),
        enrolment_token,
    );
    options.interval = interval;
    options.concurrency = args.concurrency;
    options.once = args.once;
    options.dry_run = args.dry_run;
    options.ca_file = args.ca_file;
    options.acked_log = args.acked_log;
    options.duration = args.duration_secs.map(std::time::Duration::from_secs);
    options.progress_every =
        (args.progress_secs > 0).then(|| std::time::Duration::from_secs(args.progress_secs));
    let summary = simulate::run_until_signal(options).context("running the simulator")?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!("{summary}");
    }
    // --once succeeds when every host's report was acknowledged.
    let complete = summary.acknowledged >= u64::from(hosts);
    Ok(if args.once && !complete {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
