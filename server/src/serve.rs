//! The accept loop of the collector, for HTTP and HTTPS alike: each connection is served
//! by hyper's HTTP/1.1 with the router as its service, after a TLS handshake when
//! `[tls]` is configured ([`crate::tls`]).
//!
//! A client cannot hold a connection by being slow: the TLS handshake must finish within
//! [`crate::tls::HANDSHAKE_TIMEOUT`], and the request head (and, on a kept-alive
//! connection, the next one) within `[server] client_timeout_secs`; the handlers bound
//! the time to read a body with the same setting (`408 request_timeout`).
//!
//! On shutdown it stops accepting and waits for the requests in flight to finish.

use std::future::Future;
use std::io;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use crate::tls::{HANDSHAKE_TIMEOUT, Tls};

/// Pause after an accept error other than a connection's own (such as too many open
/// files), so the loop does not spin.
pub const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(250);

/// Serves `router` on `listener` (over TLS with `tls`) until `shutdown` completes, then
/// stops accepting and waits for the connections in flight to finish their requests. A
/// handshake that fails or takes longer than [`HANDSHAKE_TIMEOUT`], or a request head
/// slower than `client_timeout`, closes its connection only (logged at debug).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<Tls>,
    client_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let watcher = graceful.watcher();
        let Some(tls) = &tls else {
            tokio::spawn(async move {
                let connection = http1(stream, router, client_timeout);
                if let Err(e) = watcher.watch(connection).await {
                    tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                }
            });
            continue;
        };
        let acceptor = tls.acceptor();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let connection = http1(stream, router, client_timeout);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(%peer, error = %e, "HTTPS connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// One HTTP/1.1 connection serving `router`, with the request-head timeout.
fn http1<S>(
    stream: S,
    router: axum::Router,
    client_timeout: Duration,
) -> hyper::server::conn::http1::Connection<TokioIo<S>, TowerToHyperService<axum::Router>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(client_timeout)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router))
}

/// Errors of one connection that `accept` reports, after which accepting goes on at once.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
