//! `estate-server quickstart`, the real binary: it comes up with no config file, this
//! host appears with an inventory, Ctrl-C (SIGINT) stops it with exit 0, and a second run
//! reuses the data directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Kills the quickstart if a test fails before it stopped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts the quickstart in `data_dir` on a free port; returns it, its stdout lines up to
/// "Ctrl-C to stop." and the URL of the "API" line (this host in the read API).
fn start(data_dir: &std::path::Path) -> (Guard, Vec<String>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_estate-server"))
        .args(["quickstart", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        // Any directory works: nothing is read from the current one.
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = Guard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no \"Ctrl-C to stop.\" line ({e}); got {lines:#?}"));
        let done = line.starts_with("Ctrl-C to stop.");
        lines.push(line);
        if done {
            break;
        }
    }
    let url = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("API:"))
        .unwrap_or_else(|| panic!("no \"API\" line in {lines:#?}"))
        .trim()
        .to_owned();
    (guard, lines, url)
}

/// GET `url` (`http://IP:PORT/path`) over HTTP/1.1; the status and the body.
fn get(url: &str) -> (u16, serde_json::Value) {
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or_default())
}

/// SIGINT, then the exit status within 15 s.
fn interrupt(mut guard: Guard) -> Option<i32> {
    let pid = guard.0.id().to_string();
    let killed = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "still running 15 s after SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn quickstart_shows_this_host_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("estate-data");

    let (guard, lines, host_url) = start(&data);
    let header = &lines[0];
    assert!(
        header.starts_with("Estate quickstart — collector on http://127.0.0.1:"),
        "{header}"
    );
    assert!(
        !header.contains(":0 "),
        "the real port is printed: {header}"
    );
    // The web page and this host's page in it answer.
    for label in ["web page:", "this host:"] {
        let url = lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label} line in {lines:#?}"))
            .trim();
        assert!(url.contains("/ui/"), "{url}");
        assert_eq!(get(url).0, 200, "{url}");
    }
    assert!(
        lines.iter().any(|l| l.trim().starts_with("metrics:")),
        "{lines:#?}"
    );
    let (status, host) = get(&host_url);
    assert_eq!(status, 200, "{host}");
    assert!(host["inventory"].is_object(), "no inventory: {host}");
    // This host is assessed against the baseline profile moments after its report.
    let checks_url = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("checks:"))
        .map(|u| u.trim().to_owned())
        .expect("a checks: line");
    let mut assessed = None;
    for _ in 0..100 {
        let (status, body) = get(&checks_url);
        if status == 200 {
            assessed = Some(body);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let assessed = assessed.expect("this host assessed within 10 s");
    assert_eq!(assessed["profile"], "baseline");
    assert!(!assessed["results"].as_array().unwrap().is_empty());
    let (status, _) = get(&host_url.replace(
        &format!("/api/v1/hosts/{}", host["host_id"].as_str().unwrap()),
        "/metrics",
    ));
    assert_eq!(status, 200);
    assert_eq!(interrupt(guard), Some(0));

    // The data directory holds the database, a private enrolment token and the agent's state.
    let token = data.join("enrolment-token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let first_token = std::fs::read_to_string(&token).unwrap();
    assert!(data.join("estate.db").exists());
    assert!(data.join("agent").join("token").exists());

    // A second run reuses them: same token, same host, the same agent token.
    let agent_token = std::fs::read_to_string(data.join("agent").join("token")).unwrap();
    let (guard, _, second_url) = start(&data);
    assert_eq!(
        second_url.rsplit('/').next(),
        host_url.rsplit('/').next(),
        "same host id"
    );
    let (status, host) = get(&second_url);
    assert_eq!(status, 200);
    assert!(host["inventory"].is_object(), "no inventory: {host}");
    assert_eq!(interrupt(guard), Some(0));
    assert_eq!(std::fs::read_to_string(&token).unwrap(), first_token);
    assert_eq!(
        std::fs::read_to_string(data.join("agent").join("token")).unwrap(),
        agent_token
    );
}
