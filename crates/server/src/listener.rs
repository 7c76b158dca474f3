//! The HTTP listener: accepts TCP connections and serves them with hyper.
//!
//! It bounds what one client can hold. A connection must send its request
//! headers within the header timeout or it is closed, so a client that sends
//! one byte a second costs one connection slot for that long and never
//! blocks the accept loop. A connection with no request in progress and no
//! bytes moving for the same time is closed. Connections are capped in total and per client
//! address; a connection over either cap gets a 503 and is closed at once.
//! Request bodies and handlers are bounded by the request timeout of the API
//! router, not here.
//!
//! With `[http.tls]` set the listener serves HTTPS only. The TLS handshake
//! runs in the connection's task and must finish within the header timeout.
//! A plain HTTP request to the TLS port gets a 400 that names the fix, and
//! connections over a cap are closed without the 503, which a TLS client
//! could not read.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use oversight_tls::{Accepted, TlsAcceptor};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Limits of the listener.
#[derive(Debug, Clone, Copy)]
pub struct ListenerLimits {
    /// Time a connection has to send the headers of a request, counted from
    /// when the server starts waiting for them.
    pub header_timeout: Duration,
    /// Open connections allowed at once.
    pub max_connections: usize,
    /// Open connections allowed at once from one IP address.
    pub max_connections_per_ip: usize,
    /// Time open connections get to finish after shutdown starts.
    pub shutdown_grace: Duration,
}

/// ALPN protocols offered over TLS, most preferred first.
const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Loads the TLS acceptor of the HTTP listener, with ALPN for HTTP/2 and HTTP/1.1.
pub fn load_tls(files: &oversight_tls::TlsFiles) -> Result<TlsAcceptor, oversight_tls::TlsError> {
    TlsAcceptor::load(files, &ALPN_PROTOCOLS)
}

/// The state every connection task of a listener shares.
#[derive(Clone)]
struct ConnectionContext {
    builder: auto::Builder<TokioExecutor>,
    app: Router,
    idle_timeout: Duration,
    cancel: CancellationToken,
    tls: Option<TlsAcceptor>,
}

/// Serves `app` on `listener`, over TLS when `tls` is given, until `cancel`
/// fires, then waits up to `limits.shutdown_grace` for open connections to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ListenerLimits,
    tls: Option<TlsAcceptor>,
    cancel: CancellationToken,
) -> io::Result<()> {
    let admission = Arc::new(Admission::new(limits));
    let context = ConnectionContext {
        builder: connection_builder(limits.header_timeout),
        app,
        idle_timeout: limits.header_timeout,
        cancel: cancel.clone(),
        tls,
    };
    let connections = TaskTracker::new();
    let rejections = LogEvery::new(Duration::from_secs(10));
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                accept_failed(&error).await;
                continue;
            }
        };
        let slot = match Admission::admit(&admission, peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                metrics::counter!("oversight_http_connections_rejected_total", "reason" => refusal.label())
                    .increment(1);
                if let Some(count) = rejections.tick() {
                    tracing::warn!(peer = %peer, reason = refusal.label(), rejected = count, "http connection rejected");
                }
                if context.tls.is_none() {
                    tokio::spawn(reject(stream, refusal));
                }
                continue;
            }
        };
        // Without TCP_NODELAY small responses wait for the peer's delayed ACK.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(error = %error, peer = %peer, "cannot set TCP_NODELAY");
        }
        connections.spawn(open_connection(context.clone(), stream, peer, slot));
    }
    drop(listener);
    connections.close();
    tokio::select! {
        () = connections.wait() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!(
                grace_secs = limits.shutdown_grace.as_secs(),
                open = admission.open(),
                "http connections still open after the shutdown grace period, closing them"
            );
        }
    }
    Ok(())
}

/// Serves one accepted connection, after the TLS handshake when the
/// listener serves TLS, and frees its slot when it ends.
async fn open_connection(
    context: ConnectionContext,
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
) {
    let Some(tls) = &context.tls else {
        serve_connection(&context, stream, peer).await;
        drop(slot);
        return;
    };
    let handshake = tokio::time::timeout(context.idle_timeout, tls.accept(stream));
    let accepted = tokio::select! {
        () = context.cancel.cancelled() => return,
        accepted = handshake => accepted,
    };
    let reason = match accepted {
        Ok(Ok(Accepted::Tls(stream))) => {
            serve_connection(&context, *stream, peer).await;
            drop(slot);
            return;
        }
        Ok(Ok(Accepted::PlainText(stream))) => {
            reject_plain_text(stream).await;
            "plain_text"
        }
        Ok(Err(error)) => {
            tracing::debug!(error = %error, peer = %peer, "http tls handshake failed");
            "failed"
        }
        Err(_) => "timeout",
    };
    metrics::counter!("oversight_http_tls_handshakes_failed_total", "reason" => reason)
        .increment(1);
    drop(slot);
}

/// Serves one connection until it ends, the server shuts down or it stays
/// idle (no request in progress, no bytes moving) for the idle timeout.
async fn serve_connection<S>(context: &ConnectionContext, stream: S, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let idle_timeout = context.idle_timeout;
    let cancel = &context.cancel;
    let activity = Arc::new(Activity::new());
    let request_activity = Arc::clone(&activity);
    let service = context
        .app
        .clone()
        .map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
    let service = service.map_response(move |response: Response| {
        let in_flight = InFlight::start(Arc::clone(&request_activity));
        response.map(|body| {
            Body::new(TrackedBody {
                body,
                _in_flight: in_flight,
            })
        })
    });
    let io = TokioIo::new(TrackedStream {
        stream,
        activity: Arc::clone(&activity),
    });
    let connection = context
        .builder
        .serve_connection_with_upgrades(io, TowerToHyperService::new(service));
    let mut connection = std::pin::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(error = %error, peer = %peer, "http connection ended with an error");
                }
                break;
            }
            () = cancel.cancelled(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = activity.idle_for(idle_timeout), if !closing => {
                tracing::debug!(peer = %peer, "closing idle http connection");
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// When a connection last moved bytes, and how many responses are still
/// being sent on it.
#[derive(Debug)]
struct Activity {
    started: Instant,
    /// Milliseconds after `started` of the last read or write.
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Completes once the connection has had no response in progress and
    /// no bytes moving for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        loop {
            let quiet_ms = self
                .now_ms()
                .saturating_sub(self.last_ms.load(Ordering::Relaxed));
            if quiet_ms >= timeout_ms && self.in_flight.load(Ordering::Relaxed) == 0 {
                return;
            }
            let wait_ms = timeout_ms.saturating_sub(quiet_ms).max(100);
            tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        }
    }
}

/// A response in progress: counted from when the handler returns until its
/// body has been sent or dropped, so a long stream is never cut as idle.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A response body that keeps its [`InFlight`] until it is dropped.
struct TrackedBody {
    body: Body,
    /// Held only for its drop.
    _in_flight: InFlight,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A stream that records in [`Activity`] every read or write that moves bytes.
#[derive(Debug)]
struct TrackedStream<S> {
    stream: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for TrackedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TrackedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            this.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            this.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Builds the per-connection protocol settings. HTTP/1.1 and HTTP/2 are both
/// served; HTTP/2 pings an idle client and drops it when the ping goes
/// unanswered for the header timeout.
fn connection_builder(header_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(header_timeout)
        .keep_alive_timeout(header_timeout)
        .max_concurrent_streams(100);
    builder
}

/// Handles a failed `accept`. Running out of file descriptors would make
/// the loop spin, so it pauses; a connection reset before it was accepted
/// is only that connection's problem.
async fn accept_failed(error: &io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    ) {
        return;
    }
    metrics::counter!("oversight_http_accept_errors_total").increment(1);
    tracing::error!(error = %error, "http accept failed, pausing 100 ms; raise the open files limit (ulimit -n) if it names too many open files");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The reason a connection was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// `max_connections` are open.
    Total,
    /// `max_connections_per_ip` are open from the client's address.
    PerAddress,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Self::Total => "max_connections",
            Self::PerAddress => "max_connections_per_ip",
        }
    }
}

/// Rejects a plain HTTP request on the TLS port with a 400 and closes the
/// connection.
async fn reject_plain_text(stream: TcpStream) {
    let body = serde_json::json!({"error": {
        "code": "tls_required",
        "message": "this port serves HTTPS only; use an https:// URL",
    }})
    .to_string();
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    write_and_close(stream, &response).await;
}

/// Writes `response`, closes the sending side and reads what the client
/// still sends for up to one second. Closing with unread request bytes would
/// make the kernel reset the connection, and the client could lose the
/// response before reading it.
async fn write_and_close(mut stream: TcpStream, response: &str) {
    let exchange = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0_u8; 4096];
        let mut drained = 0;
        while drained < 64 * 1024 {
            match stream.read(&mut sink).await? {
                0 => break,
                count => drained += count,
            }
        }
        io::Result::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), exchange).await;
}

/// Sends a 503 to a connection over a cap and closes it. The request is not
/// read, so the write gets one second and its failure is ignored.
async fn reject(mut stream: TcpStream, refusal: Refusal) {
    let message = match refusal {
        Refusal::Total => {
            "the server has reached http.max_connections open connections; retry later"
        }
        Refusal::PerAddress => {
            "your address has reached http.max_connections_per_ip open connections; \
             close idle connections or retry later"
        }
    };
    let body =
        serde_json::json!({"error": {"code": "unavailable", "message": message}}).to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

/// Counts of open connections, in total and per client address.
#[derive(Debug)]
struct Admission {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<OpenConnections>,
}

#[derive(Debug, Default)]
struct OpenConnections {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

impl Admission {
    fn new(limits: ListenerLimits) -> Self {
        Self {
            max_total: limits.max_connections,
            max_per_ip: limits.max_connections_per_ip,
            open: Mutex::new(OpenConnections::default()),
        }
    }

    /// Takes a slot for a connection from `ip`, or returns which cap is reached.
    fn admit(this: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refusal> {
        let mut open = this.lock();
        if open.total >= this.max_total {
            return Err(Refusal::Total);
        }
        let from_ip = open.per_ip.entry(ip).or_insert(0);
        if *from_ip >= this.max_per_ip {
            return Err(Refusal::PerAddress);
        }
        *from_ip += 1;
        open.total += 1;
        Ok(Slot {
            admission: Arc::clone(this),
            ip,
        })
    }

    fn release(&self, ip: IpAddr) {
        let mut open = self.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(from_ip) = open.per_ip.get_mut(&ip) {
            *from_ip -= 1;
            if *from_ip == 0 {
                open.per_ip.remove(&ip);
            }
        }
    }

    fn open(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OpenConnections> {
        // The counts stay consistent even if a holder panicked: every update
        // is a single step.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection's place in [`Admission`], given back when dropped.
#[derive(Debug)]
struct Slot {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admission.release(self.ip);
    }
}

/// Lets a repeating event through to the log at most once per interval, with
/// the number of events since the last one let through.
#[derive(Debug)]
struct LogEvery {
    interval: Duration,
    started: Instant,
    /// Milliseconds after `started` of the last event let through, plus one; 0 for none.
    last_ms: AtomicU64,
    count: AtomicU64,
}

impl LogEvery {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records an event; returns the count to log, or `None` to stay quiet.
    fn tick(&self) -> Option<u64> {
        self.count.fetch_add(1, Ordering::Relaxed);
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX) + 1;
        let last_ms = self.last_ms.load(Ordering::Relaxed);
        let interval_ms = u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX);
        if last_ms != 0 && now_ms.saturating_sub(last_ms) < interval_ms {
            return None;
        }
        self.last_ms
            .compare_exchange(last_ms, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .ok()?;
        Some(self.count.swap(0, Ordering::Relaxed))
    }
}

/// Raises the soft limit of open files to the hard limit, so the connection
/// caps rather than the operating system bound the number of clients.
/// Returns the soft limit in force afterwards, or `None` where the platform
/// has no such limit.
pub fn raise_open_files_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(error) => {
            tracing::warn!(error = %error, "cannot raise the open files limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// The address a connection came from, as the listener records it on each request.
pub type PeerAddr = ConnectInfo<SocketAddr>;

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(total: usize, per_ip: usize) -> Arc<Admission> {
        Arc::new(Admission::new(ListenerLimits {
            header_timeout: Duration::from_secs(1),
            max_connections: total,
            max_connections_per_ip: per_ip,
            shutdown_grace: Duration::from_secs(1),
        }))
    }

    #[test]
    fn admission_caps_per_address() {
        let admission = admission(10, 2);
        let a: IpAddr = "127.0.0.1".parse().expect("literal address");
        let b: IpAddr = "127.0.0.2".parse().expect("literal address");
        let first = Admission::admit(&admission, a).expect("first from a");
        let _second = Admission::admit(&admission, a).expect("second from a");
        assert_eq!(
            Admission::admit(&admission, a).unwrap_err(),
            Refusal::PerAddress
        );
        assert!(Admission::admit(&admission, b).is_ok());
        drop(first);
        assert!(Admission::admit(&admission, a).is_ok());
    }

    #[test]
    fn admission_caps_total() {
        let admission = admission(2, 2);
        let slots: Vec<Slot> = (1..=2u8)
            .map(|last| {
                Admission::admit(&admission, IpAddr::from([127, 0, 0, last])).expect("under cap")
            })
            .collect();
        let other = IpAddr::from([127, 0, 0, 9]);
        assert_eq!(
            Admission::admit(&admission, other).unwrap_err(),
            Refusal::Total
        );
        assert_eq!(admission.open(), 2);
        drop(slots);
        assert_eq!(admission.open(), 0);
        assert!(admission.lock().per_ip.is_empty());
    }

    #[test]
    fn log_every_lets_first_through() {
        let log = LogEvery::new(Duration::from_secs(3600));
        assert_eq!(log.tick(), Some(1));
        assert_eq!(log.tick(), None);
        assert_eq!(log.tick(), None);
    }
}
