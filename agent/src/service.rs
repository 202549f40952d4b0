//! `estate-agent service install|uninstall|start|stop`: the agent as a Windows service
//! (docs/windows.md, "Installing on Windows").
//!
//! The pure parts compile and are tested everywhere: the subcommand, the `%ProgramData%`
//! layout, the command line the Service Control Manager runs, and the size-capped log
//! file. The SCM calls (`windows-service` crate) and the service main are Windows-only;
//! elsewhere `estate-agent service …` says that it is Windows-only and exits 1 (on Linux
//! the agent runs under systemd: dist/systemd/).
// The constants and the layout serve the Windows-only SCM code (and the tests).
#![cfg_attr(not(windows), allow(dead_code))]

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The service's name in the SCM (`sc query EstateAgent`).
pub const SERVICE_NAME: &str = "EstateAgent";
/// The name shown in services.msc.
pub const DISPLAY_NAME: &str = "Estate agent";
/// The description shown in services.msc.
pub const DESCRIPTION: &str = "Inventories this computer, samples its utilisation and power, and reports to an Estate collector.";
/// `%ProgramData%` when the variable is unset (it is set on every supported Windows).
pub const FALLBACK_PROGRAM_DATA: &str = r"C:\ProgramData";
/// The log file is renamed to `agent.log.1` (replacing the previous one) past this size,
/// so the logs take at most twice this.
pub const LOG_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// How long `start`, `stop` and `uninstall` wait for the service to change state.
pub const STATE_WAIT_SECS: u64 = 30;

/// `estate-agent service …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ServiceCommand {
    /// Register the EstateAgent service (automatic start, LocalSystem, restarted on failure)
    /// to run this executable; re-running updates the registration.
    Install {
        /// The config file the service reads (default: %ProgramData%\Estate\agent.toml).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Stop the service if it runs and remove its registration.
    Uninstall,
    /// Start the service and wait until it runs.
    Start,
    /// Stop the service and wait until it has stopped (it flushes its spool first).
    Stop,
    /// The service itself, as the Service Control Manager starts it (not for a console).
    #[command(hide = true)]
    Run {
        /// The config file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

/// Where the agent keeps its files on Windows, under `%ProgramData%\Estate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `%ProgramData%\Estate`.
    pub root: PathBuf,
    /// `%ProgramData%\Estate\agent.toml`.
    pub config: PathBuf,
    /// `%ProgramData%\Estate\logs`.
    pub logs: PathBuf,
    /// `%ProgramData%\Estate\state` (host id, agent token, spool).
    pub state: PathBuf,
}

impl Layout {
    /// The layout under `program_data` (the value of `%ProgramData%`, `None` when unset).
    /// Joined with `\` on every platform, so that it is the Windows path when tested on
    /// Linux.
    pub fn new(program_data: Option<OsString>) -> Layout {
        let base = program_data
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| FALLBACK_PROGRAM_DATA.to_owned());
        let root = format!(r"{}\Estate", base.trim_end_matches(['\\', '/']));
        Layout {
            config: PathBuf::from(format!(r"{root}\agent.toml")),
            logs: PathBuf::from(format!(r"{root}\logs")),
            state: PathBuf::from(format!(r"{root}\state")),
            root: PathBuf::from(root),
        }
    }

    /// The layout of this machine (`%ProgramData%`).
    pub fn from_env() -> Layout {
        Layout::new(std::env::var_os("ProgramData"))
    }
}

/// The arguments the SCM passes to the executable: `service run --config FILE` (the SCM
/// quotes each one).
pub fn launch_arguments(config: &Path) -> Vec<OsString> {
    vec![
        "service".into(),
        "run".into(),
        "--config".into(),
        config.as_os_str().to_owned(),
    ]
}

/// A log file that is rotated once it passes `max_bytes`: `agent.log` becomes
/// `agent.log.1` (replacing the previous one) and a new `agent.log` is started.
#[derive(Debug)]
pub struct CappedLog {
    path: PathBuf,
    max_bytes: u64,
    file: File,
    written: u64,
}

impl CappedLog {
    /// Opens `dir/name` for appending, creating `dir` when missing.
    pub fn open(dir: &Path, name: &str, max_bytes: u64) -> io::Result<CappedLog> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(name);
        let file = open_append(&path)?;
        let written = file.metadata()?.len();
        Ok(CappedLog {
            path,
            max_bytes,
            file,
            written,
        })
    }

    /// The rotated file: `agent.log.1`.
    pub fn rotated_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".1");
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let rotated = self.rotated_path();
        // Windows does not replace an existing file on rename.
        match std::fs::remove_file(&rotated) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
        // Rust opens files with FILE_SHARE_DELETE, so the open file can be renamed; when
        // the rename fails all the same, the caller keeps writing to the current file
        // (past the cap rather than losing lines).
        std::fs::rename(&self.path, &rotated)?;
        self.file = open_append(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

impl Write for CappedLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written > 0 && self.written + buf.len() as u64 > self.max_bytes {
            // A failed rotation keeps writing to the current file.
            let _ = self.rotate();
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Runs `estate-agent service …`.
#[cfg(not(windows))]
pub fn run(command: ServiceCommand) -> anyhow::Result<std::process::ExitCode> {
    let _ = command;
    anyhow::bail!(
        "`estate-agent service` is Windows-only (it registers the agent with the Service Control \
         Manager); on Linux run the agent under systemd: dist/systemd/estate-agent.service"
    )
}

/// Runs `estate-agent service …`.
#[cfg(windows)]
pub fn run(command: ServiceCommand) -> anyhow::Result<std::process::ExitCode> {
    windows::run(command)
}

#[cfg(windows)]
mod windows {
    //! The Service Control Manager calls and the service main.

    use std::ffi::OsString;
    use std::path::PathBuf;
    use std::process::ExitCode;
    use std::sync::{Mutex, OnceLock};
    use std::time::{Duration, Instant};

    use anyhow::Context as _;
    use estate_agent::config::AgentConfig;
    use estate_agent::daemon::{self, DaemonError, DaemonOptions};
    use windows_service::service::{
        ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
        ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
        ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
    };
    use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
    use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};

    use super::{
        CappedLog, DESCRIPTION, DISPLAY_NAME, LOG_MAX_BYTES, Layout, SERVICE_NAME, STATE_WAIT_SECS,
        ServiceCommand, launch_arguments,
    };

    const ERROR_SERVICE_ALREADY_RUNNING: i32 = 1056;
    const ERROR_SERVICE_DOES_NOT_EXIST: i32 = 1060;
    const ERROR_SERVICE_NOT_ACTIVE: i32 = 1062;
    const ERROR_SERVICE_EXISTS: i32 = 1073;
    const ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: i32 = 1063;
    /// Service-specific exit codes (`sc query` shows them as SERVICE_EXIT_CODE).
    const EXIT_CONFIG: u32 = 2;
    const EXIT_MEMORY_LIMIT: u32 = 3;
    const EXIT_FAILED: u32 = 1;

    fn os_error(err: &windows_service::Error) -> Option<i32> {
        match err {
            windows_service::Error::Winapi(io) => io.raw_os_error(),
            _ => None,
        }
    }

    pub(super) fn run(command: ServiceCommand) -> anyhow::Result<ExitCode> {
        match command {
            ServiceCommand::Install { config } => install(config),
            ServiceCommand::Uninstall => uninstall(),
            ServiceCommand::Start => start(),
            ServiceCommand::Stop => stop(),
            ServiceCommand::Run { config } => dispatch(config),
        }
    }

    fn manager(access: ServiceManagerAccess) -> anyhow::Result<ServiceManager> {
        ServiceManager::local_computer(None::<&str>, access)
            .context("connecting to the Service Control Manager (run as an administrator)")
    }

    fn install(config: Option<PathBuf>) -> anyhow::Result<ExitCode> {
        let config = config.unwrap_or_else(|| Layout::from_env().config);
        let config = std::path::absolute(&config)
            .with_context(|| format!("resolving {}", config.display()))?;
        let exe = std::env::current_exe().context("finding this executable")?;
        let info = ServiceInfo {
            name: SERVICE_NAME.into(),
            display_name: DISPLAY_NAME.into(),
            service_type: ServiceType::OWN_PROCESS,
            start_type: ServiceStartType::AutoStart,
            error_control: ServiceErrorControl::Normal,
            executable_path: exe.clone(),
            launch_arguments: launch_arguments(&config),
            dependencies: vec![],
            // LocalSystem: BitLocker and the TPM need administrator rights.
            account_name: None,
            account_password: None,
        };
        let scm = manager(ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE)?;
        let access = ServiceAccess::QUERY_STATUS
            | ServiceAccess::CHANGE_CONFIG
            | ServiceAccess::START
            | ServiceAccess::STOP;
        let (service, verb) = match scm.create_service(&info, access) {
            Ok(service) => (service, "installed"),
            Err(err) if os_error(&err) == Some(ERROR_SERVICE_EXISTS) => {
                let service = scm
                    .open_service(SERVICE_NAME, access)
                    .context("opening the existing EstateAgent service")?;
                service
                    .change_config(&info)
                    .context("updating the EstateAgent service")?;
                (service, "updated")
            }
            Err(err) => return Err(err).context("creating the EstateAgent service"),
        };
        service
            .set_description(DESCRIPTION)
            .context("setting the service's description")?;
        // Restarted after a failure (as systemd's Restart=on-failure), including a
        // non-zero exit such as the memory limit's: 10 s, 30 s, then every 60 s.
        let restart = |secs| ServiceAction {
            action_type: ServiceActionType::Restart,
            delay: Duration::from_secs(secs),
        };
        service
            .update_failure_actions(ServiceFailureActions {
                reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(86_400)),
                reboot_msg: None,
                command: None,
                actions: Some(vec![restart(10), restart(30), restart(60)]),
            })
            .context("setting the service's recovery actions")?;
        // Best effort: Wine, for one, lacks this setting; the restarts after a crash hold.
        if let Err(err) = service.set_failure_actions_on_non_crash_failures(true) {
            eprintln!(
                "estate-agent: warning: the service will not be restarted after a non-zero exit \
                 (only after a crash): {err}"
            );
        }
        println!(
            "{SERVICE_NAME} {verb}: {} service run --config {}",
            exe.display(),
            config.display()
        );
        Ok(ExitCode::SUCCESS)
    }

    fn wait_for(
        service: &windows_service::service::Service,
        wanted: ServiceState,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(STATE_WAIT_SECS);
        loop {
            let state = service
                .query_status()
                .context("querying the service")?
                .current_state;
            if state == wanted {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{SERVICE_NAME} is {state:?} after {STATE_WAIT_SECS} s (wanted {wanted:?})"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn open(access: ServiceAccess) -> anyhow::Result<Option<windows_service::service::Service>> {
        let scm = manager(ServiceManagerAccess::CONNECT)?;
        match scm.open_service(SERVICE_NAME, access) {
            Ok(service) => Ok(Some(service)),
            Err(err) if os_error(&err) == Some(ERROR_SERVICE_DOES_NOT_EXIST) => Ok(None),
            Err(err) => Err(err).context("opening the EstateAgent service"),
        }
    }

    fn stop_and_wait(service: &windows_service::service::Service) -> anyhow::Result<()> {
        match service.stop() {
            Ok(_) => wait_for(service, ServiceState::Stopped),
            Err(err) if os_error(&err) == Some(ERROR_SERVICE_NOT_ACTIVE) => Ok(()),
            Err(err) => Err(err).context("stopping the EstateAgent service"),
        }
    }

    fn uninstall() -> anyhow::Result<ExitCode> {
        let access = ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE;
        let Some(service) = open(access)? else {
            println!("{SERVICE_NAME} is not installed");
            return Ok(ExitCode::SUCCESS);
        };
        stop_and_wait(&service)?;
        service
            .delete()
            .context("deleting the EstateAgent service")?;
        println!("{SERVICE_NAME} uninstalled");
        Ok(ExitCode::SUCCESS)
    }

    fn start() -> anyhow::Result<ExitCode> {
        let service = open(ServiceAccess::QUERY_STATUS | ServiceAccess::START)?
            .context("the EstateAgent service is not installed (estate-agent service install)")?;
        match service.start::<&str>(&[]) {
            Ok(()) => wait_for(&service, ServiceState::Running)?,
            Err(err) if os_error(&err) == Some(ERROR_SERVICE_ALREADY_RUNNING) => {}
            Err(err) => return Err(err).context("starting the EstateAgent service"),
        }
        println!("{SERVICE_NAME} running");
        Ok(ExitCode::SUCCESS)
    }

    fn stop() -> anyhow::Result<ExitCode> {
        let service = open(ServiceAccess::QUERY_STATUS | ServiceAccess::STOP)?
            .context("the EstateAgent service is not installed")?;
        stop_and_wait(&service)?;
        println!("{SERVICE_NAME} stopped");
        Ok(ExitCode::SUCCESS)
    }

    /// The config file of `service run`, for the service main (the SCM passes the
    /// service main its own, empty, arguments).
    static CONFIG: OnceLock<PathBuf> = OnceLock::new();

    windows_service::define_windows_service!(ffi_service_main, service_main);

    fn dispatch(config: PathBuf) -> anyhow::Result<ExitCode> {
        let _ = CONFIG.set(config);
        match windows_service::service_dispatcher::start(SERVICE_NAME, ffi_service_main) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(err) if os_error(&err) == Some(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) => {
                anyhow::bail!(
                    "`service run` is what the Service Control Manager starts; from a console \
                     use `estate-agent run --config FILE`"
                )
            }
            Err(err) => Err(err).context("starting the service dispatcher"),
        }
    }

    fn service_main(_arguments: Vec<OsString>) {
        // Nothing is left to report a failure to but the SCM's exit code.
        let _ = service_body();
    }

    fn status(state: ServiceState, exit: ServiceExitCode) -> ServiceStatus {
        ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: if state == ServiceState::Running {
                ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
            } else {
                ServiceControlAccept::empty()
            },
            exit_code: exit,
            checkpoint: 0,
            // The final flush's deadline and then some.
            wait_hint: Duration::from_secs(30),
            process_id: None,
        }
    }

    fn service_body() -> windows_service::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let stop_tx = Mutex::new(Some(stop_tx));
        let handle =
            service_control_handler::register(SERVICE_NAME, move |control| match control {
                ServiceControl::Stop | ServiceControl::Shutdown => {
                    tracing::info!(?control, "service control: stopping");
                    if let Some(tx) = stop_tx.lock().ok().and_then(|mut tx| tx.take()) {
                        let _ = tx.send(());
                    }
                    ServiceControlHandlerResult::NoError
                }
                ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
                _ => ServiceControlHandlerResult::NotImplemented,
            })?;
        handle.set_service_status(status(
            ServiceState::StartPending,
            ServiceExitCode::Win32(0),
        ))?;
        let exit = run_daemon(
            || {
                let _ = handle
                    .set_service_status(status(ServiceState::Running, ServiceExitCode::Win32(0)));
            },
            stop_rx,
        );
        handle.set_service_status(status(ServiceState::StopPending, ServiceExitCode::Win32(0)))?;
        handle.set_service_status(status(ServiceState::Stopped, exit))
    }

    /// Loads the config, logs to `%ProgramData%\Estate\logs\agent.log` and runs the daemon
    /// until the stop control; the service's exit code says how it ended.
    fn run_daemon(
        running: impl FnOnce(),
        stop: tokio::sync::oneshot::Receiver<()>,
    ) -> ServiceExitCode {
        let layout = Layout::from_env();
        let log = CappedLog::open(&layout.logs, "agent.log", LOG_MAX_BYTES);
        let config_path = CONFIG.get().cloned().unwrap_or(layout.config);
        let config = AgentConfig::load(&config_path);
        if let Ok(log) = log {
            let format = config
                .as_ref()
                .map_or(estate_agent::config::LogFormat::Text, |c| c.log_format);
            let filter = tracing_subscriber::EnvFilter::try_from_env("ESTATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            let builder = tracing_subscriber::fmt()
                .with_writer(Mutex::new(log))
                .with_ansi(false)
                .with_env_filter(filter);
            let _ = match format {
                estate_agent::config::LogFormat::Text => builder.try_init(),
                estate_agent::config::LogFormat::Json => builder.json().try_init(),
            };
        }
        let config = match config {
            Ok(config) => config,
            Err(err) => {
                tracing::error!(config = %config_path.display(), "{err}");
                return ServiceExitCode::ServiceSpecific(EXIT_CONFIG);
            }
        };
        tracing::info!(config = %config_path.display(), "service starting");
        let options = DaemonOptions {
            // This process is the agent: its CPU and memory are the agent's.
            enforce_self_limits: true,
            ..DaemonOptions::default()
        };
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(4)
            .build()
        {
            Ok(runtime) => runtime,
            Err(err) => {
                tracing::error!(error = %err, "could not start the runtime");
                return ServiceExitCode::ServiceSpecific(EXIT_FAILED);
            }
        };
        running();
        // The same daemon as `estate-agent run`; the stop control ends it as Ctrl-C does.
        let result = runtime.block_on(daemon::run(config, options, async {
            let _ = stop.await;
        }));
        match result {
            Ok(_) => {
                tracing::info!("service stopped");
                ServiceExitCode::Win32(0)
            }
            Err(err @ DaemonError::MemoryLimit(_)) => {
                tracing::error!("{err}");
                ServiceExitCode::ServiceSpecific(EXIT_MEMORY_LIMIT)
            }
            Err(err) => {
                tracing::error!("running the agent: {err}");
                ServiceExitCode::ServiceSpecific(EXIT_FAILED)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_follows_program_data() {
        let layout = Layout::new(Some(r"D:\Data\".into()));
        assert_eq!(layout.root, PathBuf::from(r"D:\Data\Estate"));
        assert_eq!(layout.config, PathBuf::from(r"D:\Data\Estate\agent.toml"));
        assert_eq!(layout.logs, PathBuf::from(r"D:\Data\Estate\logs"));
        assert_eq!(layout.state, PathBuf::from(r"D:\Data\Estate\state"));
    }

    #[test]
    fn layout_falls_back_when_program_data_is_unset_or_empty() {
        for unset in [None, Some(OsString::from("  "))] {
            let layout = Layout::new(unset);
            assert_eq!(
                layout.config,
                PathBuf::from(r"C:\ProgramData\Estate\agent.toml")
            );
        }
    }

    #[test]
    fn state_layout_matches_the_config_default_on_windows() {
        // config.rs's Windows default state_dir is the fallback layout's.
        let layout = Layout::new(None);
        assert_eq!(
            layout.state,
            PathBuf::from(r"C:\ProgramData\Estate\state"),
            "keep config::DEFAULT_STATE_DIR (cfg(windows)) in step"
        );
    }

    #[test]
    fn launch_arguments_run_the_service_with_its_config() {
        let args = launch_arguments(Path::new(r"C:\ProgramData\Estate\agent.toml"));
        assert_eq!(
            args,
            [
                "service",
                "run",
                "--config",
                r"C:\ProgramData\Estate\agent.toml"
            ]
            .map(OsString::from)
            .to_vec()
        );
    }

    #[test]
    fn launch_arguments_parse_back_as_service_run() {
        use clap::{Parser, Subcommand};
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(subcommand)]
            command: Top,
        }
        #[derive(Debug, Subcommand)]
        enum Top {
            #[command(subcommand)]
            Service(ServiceCommand),
        }
        let config = Path::new("/some dir/agent.toml");
        let argv = std::iter::once(OsString::from("estate-agent")).chain(launch_arguments(config));
        match Cli::try_parse_from(argv).map(|cli| cli.command) {
            Ok(Top::Service(ServiceCommand::Run { config: parsed })) => {
                assert_eq!(parsed, config);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn capped_log_rotates_past_its_cap_and_keeps_one_old_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let logs = dir.path().join("logs");
        let mut log = CappedLog::open(&logs, "agent.log", 100).expect("open");
        let line = [b'a'; 39];
        for _ in 0..2 {
            log.write_all(&line).expect("write");
            log.write_all(b"\n").expect("write");
        }
        // 80 bytes: still one file.
        assert!(!log.rotated_path().exists());
        log.write_all(b"third line that does not fit\n")
            .expect("write");
        let current = std::fs::read_to_string(logs.join("agent.log")).expect("read");
        let old = std::fs::read_to_string(logs.join("agent.log.1")).expect("read");
        assert_eq!(current, "third line that does not fit\n");
        assert_eq!(old.len(), 80);
        // A second rotation replaces agent.log.1.
        for _ in 0..2 {
            log.write_all(&line).expect("write");
        }
        let old = std::fs::read(logs.join("agent.log.1")).expect("read");
        assert!(
            old.starts_with(b"third line"),
            "{}",
            String::from_utf8_lossy(&old)
        );
        let total: u64 = ["agent.log", "agent.log.1"]
            .iter()
            .map(|f| std::fs::metadata(logs.join(f)).map_or(0, |m| m.len()))
            .sum();
        assert!(total <= 200, "{total} bytes kept");
    }

    #[test]
    fn capped_log_appends_to_an_existing_file_and_counts_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("agent.log"), [b'x'; 90]).expect("seed");
        let mut log = CappedLog::open(dir.path(), "agent.log", 100).expect("open");
        log.write_all(&[b'y'; 20]).expect("write");
        let current = std::fs::read(dir.path().join("agent.log")).expect("read");
        assert_eq!(current, vec![b'y'; 20]);
        assert_eq!(
            std::fs::read(dir.path().join("agent.log.1")).expect("read"),
            vec![b'x'; 90]
        );
    }

    #[cfg(not(windows))]
    #[test]
    fn elsewhere_the_subcommand_says_it_is_windows_only() {
        let err = run(ServiceCommand::Start).expect_err("Windows-only");
        let message = format!("{err:#}");
        assert!(message.contains("Windows-only"), "{message}");
        assert!(message.contains("systemd"), "{message}");
    }
}
