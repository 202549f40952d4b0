//! Helpers for Estate's end-to-end tests: finding the workspace's binaries and running
//! them as real processes.
#![deny(missing_docs)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Path of a binary built by this workspace (`target/<profile>/<name>`), found next to
/// the running test executable (`target/<profile>/deps/...`). `cargo test --workspace`
/// builds every binary before it runs any test.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} does not exist: build it first (cargo build -p {name}, or run the tests with cargo test --workspace)",
        path.display()
    );
    path
}

/// A child process whose standard output and error go to a log file, killed (SIGKILL) and
/// reaped when dropped, so that a failing test leaves nothing running.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    /// Starts `command` with its standard output and error appended to `log`, and
    /// standard input closed.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> std::io::Result<Proc> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()?;
        Ok(Proc {
            name: name.to_owned(),
            child: Some(child),
            log: log.to_path_buf(),
        })
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// Everything the process has logged so far (lossy UTF-8; empty when unreadable).
    pub fn log(&self) -> String {
        std::fs::read(&self.log)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// The last `lines` lines of the log, headed by the process's name, for failure
    /// messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        let start = all.len().saturating_sub(lines);
        format!(
            "--- last {} lines of {} ({}) ---\n{}",
            all.len() - start,
            self.name,
            self.log.display(),
            all[start..].join("\n")
        )
    }

    /// The exit status, when the process has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits up to `timeout` for the process to exit; on timeout kills
    /// it and answers `None`.
    #[cfg(unix)]
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let pid = rustix::process::Pid::from_child(child);
        if rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_err() {
            // Already gone: reap it below.
        }
        let status = poll_until(timeout, Duration::from_millis(20), || {
            child.try_wait().ok().flatten()
        });
        if status.is_none() {
            self.kill();
        } else {
            self.child = None;
        }
        status
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Calls `check` every `every` until it answers `Some`, for at most `timeout`; `None`
/// when the time ran out. `check` runs at least once.
pub fn poll_until<T>(
    timeout: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(every.min(deadline - now));
    }
}

/// An HTTP response: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body (lossy UTF-8, chunked transfer decoded).
    pub body: String,
}

/// A minimal HTTP/1.1 `GET` (`Connection: close`) over plain TCP, with 5 s timeouts:
/// enough for the collector's read API and `/metrics` without an HTTP client crate.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<HttpResponse> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )?;
    read_response(&mut stream)
}

/// A minimal HTTP/1.1 `POST` (`Connection: close`) over plain TCP, with 5 s timeouts, in
/// the same way as [`http_get`]: `bearer` becomes an `Authorization: Bearer` header.
pub fn http_post(
    addr: SocketAddr,
    path: &str,
    bearer: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let auth = bearer.map(|token| format!("Bearer {token}"));
    let mut headers = vec![("Content-Type", content_type)];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    http_request(addr, "POST", path, &headers, body)
}

/// A minimal HTTP/1.1 request (`Connection: close`) with extra header lines
/// (`("Authorization", "Bearer ...")`), in the same way as [`http_get`].
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    read_response(&mut stream)
}

/// Reads a whole HTTP/1.1 response (the server closes the connection after it).
fn read_response(stream: &mut TcpStream) -> std::io::Result<HttpResponse> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = &raw[split + 4..];
    let status = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let chunked = head.lines().any(|line| {
        let lower = line.to_ascii_lowercase();
        lower.starts_with("transfer-encoding:") && lower.contains("chunked")
    });
    let body = if chunked {
        dechunk(body).ok_or_else(|| bad("bad chunked body"))?
    } else {
        body.to_vec()
    };
    Ok(HttpResponse {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// `text` percent-encoded for a URL's query string (every byte but `A-Z a-z 0-9 - . _ ~`).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released),
/// for a program that must be told its port. Another process may take it in between:
/// callers retry on "address in use".
pub fn free_local_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

/// A program from a system package that a test needs (e.g. `prometheus` or `promtool`
/// from Debian's `prometheus` package), looked up on `PATH` and then in `/usr/bin`.
/// When it is missing the test should be skipped: this says so on standard error and
/// answers `None`, except under `CI=true`, where `.ci/run` installs the package and a skip
/// would hide a regression: then it panics.
pub fn system_program(name: &str, package: &str, test: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let found = on_path
        .into_iter()
        .chain(std::iter::once(Path::new("/usr/bin").join(name)))
        .find(|path| path.is_file());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is missing and CI=true: {test} must run in CI (.ci/run installs Debian's \
             {package} package)"
        );
        eprintln!("SKIPPED {test}: {name} not found (install Debian's {package} package)");
    }
    found
}

/// Waits up to `timeout` for `process` to log a line containing `marker` followed by
/// `addr=IP:PORT` (as `estate-server` logs `collector listening addr=...`), and answers
/// that address; `None` when the process exits first or the time runs out.
pub fn logged_addr(process: &mut Proc, marker: &str, timeout: Duration) -> Option<SocketAddr> {
    let found = poll_until(timeout, Duration::from_millis(50), || {
        if process.try_wait().is_some() {
            return Some(None);
        }
        process
            .log()
            .lines()
            .filter(|line| line.contains(marker))
            .find_map(|line| line.split("addr=").nth(1))
            .and_then(|addr| addr.split_whitespace().next())
            .and_then(|addr| addr.parse::<SocketAddr>().ok())
            .map(Some)
    });
    found.flatten()
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

/// `path` as a TOML basic string (quoted, `\\`, `"` and control characters escaped), for
/// the config files the tests write.
pub fn toml_string(path: &Path) -> String {
    let mut out = String::from("\"");
    for c in path.display().to_string().chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dechunk_joins_chunks() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert_eq!(dechunk(b"5\r\nab"), None);
    }

    #[test]
    fn poll_until_gives_up_at_the_deadline() {
        let started = Instant::now();
        let found: Option<()> = poll_until(
            Duration::from_millis(100),
            Duration::from_millis(10),
            || None,
        );
        assert_eq!(found, None);
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert_eq!(
            poll_until(Duration::ZERO, Duration::from_millis(10), || Some(1)),
            Some(1)
        );
    }
}
