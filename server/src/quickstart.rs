//! `estate-server quickstart`: a collector and an agent for this machine in one process,
//! with no config file.
//!
//! Everything lives under one data directory (default `./estate-data`, relative to the
//! directory it is started from): the SQLite database, a generated enrolment token
//! (`enrolment-token`, mode 0600) and the agent's state (`agent/`: host id, agent token,
//! spool). A second run reuses all of it. The collector is [`crate::start`]ed in-process
//! and the agent runs in-process through [`estate_agent::daemon`], its first report built
//! at once. Once this host is assessed, the first health-check report is written to
//! `<data dir>/reports/` (HTML, and the JSON the next one compares with). This module
//! only wires the parts together; it must not duplicate what any of them does.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use estate_agent::config::{AgentConfig, CollectorTarget};
use estate_agent::daemon::{self, DaemonError, DaemonOptions};
use estate_agent::host_id;
use estate_agent::root::SysRoot;

use crate::config::{AuthConfig, Backend, ServerConfig};
use crate::{AppError, Server, auth};

/// Default data directory, relative to the current directory.
pub const DEFAULT_DATA_DIR: &str = "estate-data";
/// Default listen address; a free port is used instead when 8470 is taken.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8470);
/// File in the data directory holding the enrolment token.
pub const ENROLMENT_TOKEN_FILE: &str = "enrolment-token";
/// The database in the data directory.
pub const DATABASE_FILE: &str = "estate.db";
/// The agent's state directory in the data directory.
pub const AGENT_DIR: &str = "agent";
/// The agent's report interval (short, for quick feedback).
pub const REPORT_INTERVAL: Duration = Duration::from_secs(60);
/// The agent's sample interval.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);
/// When the agent builds its first report after starting.
pub const FIRST_REPORT_AFTER: Duration = Duration::from_secs(1);
/// How long to wait for the first report before printing the addresses anyway.
pub const FIRST_REPORT_WAIT: Duration = Duration::from_secs(60);
/// How long to wait, once the first report is stored, for its assessment before
/// writing the first health-check report anyway.
pub const FIRST_ASSESSMENT_WAIT: Duration = Duration::from_secs(30);
/// The reports directory in the data directory.
pub const REPORTS_DIR: &str = "reports";

/// What `quickstart` was asked for.
#[derive(Debug, Clone, Default)]
pub struct QuickstartOptions {
    /// The data directory; `None`: [`DEFAULT_DATA_DIR`] in the current directory.
    pub data_dir: Option<PathBuf>,
    /// The listen address; `None`: [`DEFAULT_LISTEN`], or a free port when it is taken.
    pub listen: Option<SocketAddr>,
}

/// Why the quickstart could not run.
#[derive(Debug, thiserror::Error)]
pub enum QuickstartError {
    /// The data directory or a file in it could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The enrolment token could not be made.
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    /// The collector could not start or stop.
    #[error(transparent)]
    App(#[from] AppError),
    /// The agent could not start or failed.
    #[error("the agent: {0}")]
    Agent(#[from] DaemonError),
    /// The host has no usable identity.
    #[error(transparent)]
    HostId(#[from] host_id::HostIdError),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> QuickstartError + '_ {
    move |source| QuickstartError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Runs the collector and this machine's agent until `shutdown` completes, then stops the
/// agent (final report and flush) and the collector.
pub async fn run(
    options: QuickstartOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), QuickstartError> {
    let data_dir = options
        .data_dir
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    std::fs::create_dir_all(&data_dir).map_err(io_error(&data_dir))?;
    let data_dir = std::path::absolute(&data_dir).map_err(io_error(&data_dir))?;
    let token_file = data_dir.join(ENROLMENT_TOKEN_FILE);
    ensure_token_file(&token_file)?;

    let server = start_server(&data_dir, &token_file, options.listen).await?;
    let base = base_url(server.local_addr());
    println!(
        "Estate quickstart — collector on {base} (data in {})",
        data_dir.display()
    );

    let state_dir = data_dir.join(AGENT_DIR);
    std::fs::create_dir_all(&state_dir).map_err(io_error(&state_dir))?;
    let root = SysRoot::default();
    // The same id the daemon will find (machine id, SMBIOS UUID, or one it keeps).
    let (host, _) = host_id::host_id(&root, &state_dir)?;
    let agent_config = AgentConfig {
        collector: CollectorTarget {
            url: Some(base.clone()),
            enrolment_token_file: Some(token_file),
            ..CollectorTarget::default()
        },
        state_dir,
        report_interval: REPORT_INTERVAL,
        sample_interval: SAMPLE_INTERVAL,
        ..AgentConfig::default()
    };
    let agent_options = DaemonOptions {
        root,
        ..DaemonOptions::default()
    };
    let started = chrono::Utc::now();

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let agent = daemon::run_with_first_report(
        agent_config,
        agent_options,
        Some(FIRST_REPORT_AFTER),
        async move {
            let _ = stop_rx.await;
        },
    );
    tokio::pin!(agent);
    tokio::pin!(shutdown);
    let controller = async {
        tokio::select! {
            () = &mut shutdown => {}
            () = async {
                announce(&server, &base, &host, started, &data_dir).await;
                std::future::pending::<()>().await
            } => {}
        }
    };
    let agent_result = tokio::select! {
        result = &mut agent => result,
        () = controller => {
            eprintln!("stopping: the agent sends a final report, then the collector stops");
            let _ = stop_tx.send(());
            agent.await
        }
    };
    let server_result = server.shutdown().await;
    agent_result?;
    server_result?;
    println!("Estate quickstart stopped.");
    Ok(())
}

/// Writes a fresh enrolment token (mode 0600) unless the file already holds one.
fn ensure_token_file(path: &Path) -> Result<(), QuickstartError> {
    if auth::read_token_file(path).is_ok() {
        return Ok(());
    }
    let token = auth::new_token()?;
    let temp = path.with_extension("tmp");
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut file = open.open(&temp).map_err(io_error(&temp))?;
    std::io::Write::write_all(&mut file, format!("{token}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(&temp))?;
    std::fs::rename(&temp, path).map_err(io_error(path))
}

/// Starts the collector on `listen`, or on the default address, or a free port when the
/// default is taken.
async fn start_server(
    data_dir: &Path,
    token_file: &Path,
    listen: Option<SocketAddr>,
) -> Result<Server, QuickstartError> {
    let mut config = ServerConfig {
        listen: listen.unwrap_or(DEFAULT_LISTEN),
        ..ServerConfig::default()
    };
    config.storage.backend = Backend::Sqlite(data_dir.join(DATABASE_FILE));
    config.auth = AuthConfig {
        enrolment_token_file: Some(token_file.to_owned()),
        read_token_file: None,
    };
    // The monthly report into the data directory, beside the first one (and listed by
    // the web page's reports page).
    config.reports = Some(crate::report::schedule::ReportsConfig::new(
        data_dir.join(REPORTS_DIR),
    ));
    match crate::start(&config).await {
        Err(AppError::Bind { source, .. })
            if listen.is_none() && source.kind() == std::io::ErrorKind::AddrInUse =>
        {
            eprintln!("{DEFAULT_LISTEN} is taken; using a free port");
            config.listen = SocketAddr::new(DEFAULT_LISTEN.ip(), 0);
            Ok(crate::start(&config).await?)
        }
        other => Ok(other?),
    }
}

/// `http://IP:PORT` to reach `addr` from this machine (loopback for a wildcard address).
pub fn base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Once `host`'s assessment of this run is stored (or [`FIRST_ASSESSMENT_WAIT`]
/// passes), writes the first health-check report (HTML, and the JSON the next report
/// compares with) into `<data dir>/reports`; returns the HTML file.
async fn first_report(
    server: &Server,
    host: &str,
    since: chrono::DateTime<chrono::Utc>,
    data_dir: &Path,
) -> Result<PathBuf, String> {
    let store = server.store();
    let assessed = tokio::time::timeout(FIRST_ASSESSMENT_WAIT, async {
        loop {
            if let Ok(Some((a, _))) = store.assessment(host.to_owned()).await
                && a.assessed_at >= since
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    if assessed.is_err() {
        eprintln!(
            "this host's assessment has not arrived after {} s; the first report shows it unscored",
            FIRST_ASSESSMENT_WAIT.as_secs()
        );
    }
    let assessor = tokio::task::spawn_blocking(|| {
        crate::assess::Assessor::load(&crate::assess::AssessConfig::default())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let config = crate::report::ReportsConfig {
        formats: vec![crate::report::Format::Html],
        ..crate::report::ReportsConfig::new(data_dir.join(REPORTS_DIR))
    };
    let paths =
        crate::report::schedule::run_once(&config, store.as_ref(), &assessor, chrono::Utc::now())
            .await
            .map_err(|e| e.to_string())?;
    paths
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "html"))
        .ok_or_else(|| "no HTML report was written".to_owned())
}

/// Waits until this run's first report of `host` is stored with an inventory (or
/// [`FIRST_REPORT_WAIT`] passes), writes the first health-check report, then prints the
/// addresses and the report's path.
async fn announce(
    server: &Server,
    base: &str,
    host: &str,
    started: chrono::DateTime<chrono::Utc>,
    data_dir: &Path,
) {
    let store = server.store();
    // A report of this run: built (at least FIRST_REPORT_AFTER) after the start, which a
    // previous run's final report was not. The store keeps microseconds.
    let since = started;
    let arrived = tokio::time::timeout(FIRST_REPORT_WAIT, async {
        loop {
            match store.host(host.to_owned()).await {
                Ok(Some(record))
                    if record.last_seen >= since && record.inventory_hash.is_some() =>
                {
                    return;
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "cannot read this host from the store"),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    if arrived.is_err() {
        eprintln!(
            "this host's first report has not arrived after {} s; run with RUST_LOG=info to see why",
            FIRST_REPORT_WAIT.as_secs()
        );
    }
    let report = if arrived.is_ok() {
        first_report(server, host, since, data_dir).await
    } else {
        Err("no report from this host yet".to_owned())
    };
    println!("  web page:  {base}/ui/");
    println!("  this host: {base}{}", crate::web::html::host_url(host));
    println!("  API:       {base}/api/v1/hosts/{host}");
    println!("  checks:    {base}/api/v1/hosts/{host}/checks");
    println!("  score:     {base}/api/v1/estate/score");
    println!("  carbon:    {base}/api/v1/carbon");
    println!("  metrics:   {base}/metrics");
    match report {
        Ok(path) => println!("  report:    {}", path.display()),
        Err(e) => eprintln!("the first health-check report was not written: {e}"),
    }
    println!("Ctrl-C to stop.");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wildcard_addresses_print_as_loopback() {
        assert_eq!(
            base_url("0.0.0.0:8470".parse().unwrap()),
            "http://127.0.0.1:8470"
        );
        assert_eq!(base_url("[::]:9".parse().unwrap()), "http://[::1]:9");
        assert_eq!(
            base_url("127.0.0.1:1234".parse().unwrap()),
            "http://127.0.0.1:1234"
        );
    }

    #[test]
    fn the_token_file_is_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ENROLMENT_TOKEN_FILE);
        ensure_token_file(&path).unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        assert!(first.trim().len() >= crate::config::MIN_TOKEN_CHARS);
        ensure_token_file(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
