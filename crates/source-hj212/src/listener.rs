//! The HJ 212 listener: accepts connections up to the configured maximum,
//! in total and per IP address, refuses addresses blocked for wrong
//! passwords, and runs a task per connection until shutdown.
//!
//! With `[hj212.tls]` set, every connection must complete a TLS handshake
//! within `frame_timeout_secs`, inside its own task so a client that never
//! finishes one holds only its own slot. A client that sends plain HJ 212
//! to the TLS port is closed without a reply.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use oversight_core::Clock;
use oversight_hj212::ParseOptions;
use oversight_store::Store;
use oversight_tls::{Accepted, TlsAcceptor};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::address::AddressBook;
use crate::cache::PointCache;
use crate::connection::{Reader, Writer};
use crate::contact::ContactLog;
use crate::{Hj212Config, Hj212Settings, ReadingSink, SourceError, connection, metrics};

/// How long to pause accepting after an accept error, such as running out
/// of file descriptors, so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The state every connection task shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) settings: Hj212Settings,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cache: PointCache,
    pub(crate) sink: Option<Arc<dyn ReadingSink>>,
    pub(crate) parse_options: ParseOptions,
    pub(crate) addresses: Arc<AddressBook>,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) contacts: Arc<ContactLog>,
}

/// A bound HJ 212 listener; [`Hj212Source::run`] serves it.
#[derive(Debug)]
pub struct Hj212Source {
    listener: TcpListener,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Hj212Source {
    /// Validates `config` and binds its listen address. Readings are stored
    /// in `store` with receive times from `clock`, then handed to `sink`.
    pub async fn bind(
        config: &Hj212Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        sink: Option<Arc<dyn ReadingSink>>,
    ) -> Result<Self, SourceError> {
        let settings = config.validate()?;
        let tls = match &settings.tls {
            Some(files) => Some(TlsAcceptor::load(files, &[])?),
            None => None,
        };
        let addr = settings.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SourceError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| SourceError::Bind { addr, source })?;
        metrics::describe();
        let parse_options = ParseOptions {
            trailing_text: settings.trailing_text,
        };
        let cache = PointCache::new(Arc::clone(&store), settings.point_cache_ttl);
        let addresses = Arc::new(AddressBook::new(
            settings.max_connections_per_address,
            settings.auth_failures_before_block,
            settings.auth_block,
        ));
        let shared = Arc::new(Shared {
            settings,
            store,
            clock,
            cache,
            sink,
            parse_options,
            addresses,
            tls,
            contacts: Arc::new(ContactLog::default()),
        });
        Ok(Self {
            listener,
            local_addr,
            shared,
        })
    }

    /// Returns the address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Returns the TLS acceptor, whose certificate can be reloaded while
    /// the listener runs, or `None` for plain TCP.
    pub fn tls(&self) -> Option<TlsAcceptor> {
        self.shared.tls.clone()
    }

    /// Accepts connections until `cancel` fires, then waits for every
    /// connection to finish the frame it is handling and close.
    pub async fn run(self, cancel: CancellationToken) {
        let limit = Arc::new(Semaphore::new(self.shared.settings.max_connections));
        let tracker = TaskTracker::new();
        tracker.spawn(Arc::clone(&self.shared.contacts).run(
            Arc::clone(&self.shared.store),
            self.shared.settings.contact_flush,
            cancel.clone(),
        ));
        info!(
            addr = %self.local_addr,
            max_connections = self.shared.settings.max_connections,
            tls = self.shared.tls.is_some(),
            "hj212 listening"
        );
        loop {
            let accepted = tokio::select! {
                () = cancel.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    warn!(error = %error, "hj212 accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
                ::metrics::counter!(metrics::CONNECTIONS_REJECTED, "reason" => "total_limit")
                    .increment(1);
                debug!(peer = %peer, "hj212 connection limit reached, connection closed");
                drop(stream);
                continue;
            };
            let slot = match self.shared.addresses.admit(peer.ip()) {
                Ok(slot) => slot,
                Err(refusal) => {
                    ::metrics::counter!(metrics::CONNECTIONS_REJECTED, "reason" => refusal.reason())
                        .increment(1);
                    debug!(peer = %peer, reason = refusal.reason(), "hj212 connection refused");
                    drop(stream);
                    continue;
                }
            };
            let shared = Arc::clone(&self.shared);
            let cancel = cancel.clone();
            tracker.spawn(async move {
                ::metrics::gauge!(metrics::CONNECTIONS).increment(1.0);
                if let Some(halves) = open(&shared, stream, peer).await {
                    connection::serve(shared, halves, peer, cancel).await;
                }
                ::metrics::gauge!(metrics::CONNECTIONS).decrement(1.0);
                drop(slot);
                drop(permit);
            });
        }
        drop(self.listener);
        tracker.close();
        tracker.wait().await;
        self.shared.contacts.flush(self.shared.store.as_ref()).await;
        info!(addr = %self.local_addr, "hj212 stopped");
    }
}

/// Splits an accepted connection into its halves, after the TLS handshake
/// when the listener serves TLS. Returns `None` when the handshake fails or
/// times out, or the client speaks plain text to the TLS port.
async fn open(shared: &Shared, stream: TcpStream, peer: SocketAddr) -> Option<(Reader, Writer)> {
    // Without TCP_NODELAY small acknowledgements wait for the device's delayed ACK.
    let _ = stream.set_nodelay(true);
    let Some(tls) = &shared.tls else {
        let (reader, writer) = stream.into_split();
        return Some((Box::new(reader), Box::new(writer)));
    };
    let timeout = shared.settings.frame_timeout;
    let reason = match tokio::time::timeout(timeout, tls.accept(stream)).await {
        Ok(Ok(Accepted::Tls(stream))) => {
            let (reader, writer) = tokio::io::split(*stream);
            return Some((Box::new(reader), Box::new(writer)));
        }
        Ok(Ok(Accepted::PlainText(_))) => "plain_text",
        Ok(Err(error)) => {
            debug!(peer = %peer, error = %error, "hj212 tls handshake failed");
            "failed"
        }
        Err(_) => "timeout",
    };
    ::metrics::counter!(metrics::TLS_HANDSHAKES_FAILED, "reason" => reason).increment(1);
    debug!(peer = %peer, reason, "hj212 connection closed before a tls handshake completed");
    None
}
