//! Serving a router over HTTP/1 with the limits a hostile client cannot get around, for `serve`
//! and `sim-agent` alike (docs/deploy.md#connections).
//!
//! `axum::serve` gives hyper no timer, so no header, body or keep-alive timeout would be in force:
//! a socket that never sends a byte, an unfinished request head or a body that never comes would
//! stay open for good. Here every accepted socket is served by hyper's HTTP/1 builder with a
//! timer and:
//! - a header read timeout, armed whenever hyper waits for a request head, so silent sockets and
//!   idle keep-alives close too;
//! - one deadline for the whole request body (a trickled body does not pass it frame by frame);
//! - a `Content-Length` over the body limit answered `413` before any body byte is read;
//! - a cap on open sockets, held by a permit the socket itself carries (an upgraded WebSocket
//!   counts until it closes). Over the cap a socket is accepted, sent a canned `503` without its
//!   request being read, and closed: never left in the backlog, where it would hold the client
//!   until its own timeout.

use axum::body::Body;
use axum::http::{header, Request, Response};
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// The limits every connection is served under.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// HTTP_HEADER_TIMEOUT_MS: how long hyper waits for a request head (first byte to last, and
    /// on an idle keep-alive).
    pub header_timeout: Duration,
    /// HTTP_BODY_TIMEOUT_MS: one deadline for all of a request's body, from its head on.
    pub body_timeout: Duration,
    /// HTTP_MAX_CONNECTIONS: sockets open at once, upgraded ones included.
    pub max_connections: usize,
    /// Bodies announced larger than this are refused before they are read.
    pub body_limit: usize,
}

impl ServerLimits {
    /// The defaults: 10 s for a head, 30 s for a body, and three quarters of the open-files soft
    /// limit (the rest left for the database, Redis, agents and logs).
    pub fn defaults(body_limit: usize) -> ServerLimits {
        ServerLimits {
            header_timeout: Duration::from_millis(10_000),
            body_timeout: Duration::from_millis(30_000),
            max_connections: default_max_connections(),
            body_limit,
        }
    }
}

/// Three quarters of this process's open-files soft limit (1,024 assumed when it cannot be read;
/// unlimited counts as 1,048,576).
pub fn default_max_connections() -> usize {
    let soft = open_files_soft_limit().unwrap_or(1024);
    usize::try_from(soft.min(1 << 20) / 4 * 3)
        .unwrap_or(768)
        .max(1)
}

/// The soft `RLIMIT_NOFILE`, from /proc/self/limits (no libc call needed).
pub fn open_files_soft_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        return Some(1 << 20);
    }
    soft.parse().ok()
}

/// Connections the kernel completes before they are accepted: a burst larger than the backlog
/// would wait for SYN retransmissions (a second each) instead of being answered.
const BACKLOG: u32 = 1024;

/// Binds a listener with a backlog of [`BACKLOG`] (tokio's `TcpListener::bind` asks for 128).
pub fn bind(addr: std::net::SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// What a socket over the cap is told, whole, before it is closed.
const OVER_CAP: &str = concat!(
    "HTTP/1.1 503 Service Unavailable\r\n",
    "content-type: application/json\r\n",
    "retry-after: 1\r\n",
    "connection: close\r\n",
    "content-length: 145\r\n",
    "\r\n",
    r#"{"success":false,"error":{"code":"too_many_connections","message":"the service has too many open connections, try again shortly","details":null}}"#,
);

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting and lets
/// in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection holds a clone; all dropped means all finished.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let mut last_accept_error: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors (or a connection reset before accept): said at most once
                    // a second, and the loop pauses instead of spinning.
                    if last_accept_error.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                        tracing::warn!(error = %e, "cannot accept a connection");
                        last_accept_error = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refuse(stream);
            continue;
        };
        let io = TokioIo::new(Permitted {
            stream,
            _permit: permit,
        });
        let router = router.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let router = router.clone();
            async move {
                if let Some(refused) = announced_too_large(&req, limits.body_limit) {
                    return Ok::<_, std::convert::Infallible>(refused);
                }
                let req = req.map(|body| Body::new(Deadline::new(body, limits.body_timeout)));
                router.oneshot(req).await
            }
        });
        let conn = builder.serve_connection(io, service).with_upgrades();
        let mut stop = stop_rx.clone();
        let stopping = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let alive = alive_tx.clone();
        tokio::spawn(async move {
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = stopping => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(alive);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(alive_tx);
    let _ = alive_rx.recv().await;
    Ok(())
}

/// `413 payload_too_large` for a request whose `Content-Length` is over the limit, before a byte
/// of its body is read.
fn announced_too_large(req: &Request<Incoming>, limit: usize) -> Option<Response<Body>> {
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u128>()
        .ok()?;
    (length > limit as u128).then(|| {
        let mut res =
            axum::response::IntoResponse::into_response(crate::error::ApiError::PayloadTooLarge);
        // The body is never read: the connection cannot be reused.
        res.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        res
    })
}

/// Tells a socket over the cap `503 too_many_connections` and closes it at once, in the accept
/// loop itself: a task per refusal would hold each descriptor a while longer, and a burst of them
/// would take the descriptors the cap keeps free. A new socket's send buffer takes the short
/// answer whole, so the write never waits.
fn refuse(stream: TcpStream) {
    let _ = stream.try_write(OVER_CAP.as_bytes());
    drop(stream);
}

/// A socket that holds its place under the connection cap for as long as it is open, upgraded or
/// not.
struct Permitted {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Permitted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Permitted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// A request body that must arrive whole within its deadline.
struct Deadline {
    inner: Incoming,
    until: tokio::time::Instant,
    /// Armed at the first wait, so a body read at once costs no timer.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Deadline {
    fn new(inner: Incoming, timeout: Duration) -> Self {
        Deadline {
            inner,
            until: tokio::time::Instant::now() + timeout,
            sleep: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within its deadline")]
struct BodyTimedOut;

impl hyper::body::Body for Deadline {
    type Data = hyper::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        let until = this.until;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_over_cap_answer_is_whole() {
        let (head, body) = OVER_CAP.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
        assert_eq!(v["error"]["code"], "too_many_connections");
    }

    #[test]
    fn the_default_cap_leaves_a_quarter_of_the_descriptors() {
        let soft = open_files_soft_limit().unwrap();
        assert_eq!(
            default_max_connections() as u64,
            (soft.min(1 << 20) / 4 * 3).max(1)
        );
    }
}
