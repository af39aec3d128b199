//! [`Acceptor`]: the accept loop's one step, calm under errors that a retry
//! cannot fix at once.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

/// How long to wait after an accept error such as `EMFILE`: long enough not
/// to spin, short enough to serve again as soon as descriptors free up.
const BACKOFF: Duration = Duration::from_millis(50);

/// At most one WARN a second per listener.
const WARN_EVERY: Duration = Duration::from_secs(1);

/// Accepts connections on one listener (`name` is `main` or `admin`).
#[derive(Debug)]
pub(crate) struct Acceptor {
    listener: TcpListener,
    name: &'static str,
    warned: Option<Instant>,
}

impl Acceptor {
    pub(crate) fn new(listener: TcpListener, name: &'static str) -> Self {
        Self {
            listener,
            name,
            warned: None,
        }
    }

    /// The next connection. A connection reset or aborted before it was
    /// accepted is the peer's business and skipped at once; any other error
    /// (`EMFILE`, `ENFILE`, `ENOBUFS`, …) would come back at once if retried,
    /// so it is counted in `invalid_scope_proxy_accept_errors_total`, logged
    /// at most once a second, and followed by a short sleep (as axum's
    /// `serve` does, with a second).
    pub(crate) async fn next(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok(accepted) => return accepted,
                Err(error)
                    if matches!(
                        error.kind(),
                        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
                    ) => {}
                Err(error) => {
                    metrics::counter!("invalid_scope_proxy_accept_errors_total", "listener" => self.name)
                        .increment(1);
                    if self.warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                        self.warned = Some(Instant::now());
                        tracing::warn!(%error, listener = self.name, "invalid_scope_proxy.accept_failed");
                    }
                    tokio::time::sleep(BACKOFF).await;
                }
            }
        }
    }
}
