//! The HJ 212 listener: accepts connections up to the configured maximum,
//! in total and per IP address, refuses addresses blocked for wrong
//! passwords, and runs a task per connection until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use oversight_core::Clock;
use oversight_hj212::ParseOptions;
use oversight_store::Store;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::address::AddressBook;
use crate::cache::PointCache;
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

    /// Accepts connections until `cancel` fires, then waits for every
    /// connection to finish the frame it is handling and close.
    pub async fn run(self, cancel: CancellationToken) {
        let limit = Arc::new(Semaphore::new(self.shared.settings.max_connections));
        let tracker = TaskTracker::new();
        info!(addr = %self.local_addr, max_connections = self.shared.settings.max_connections, "hj212 listening");
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
                connection::serve(shared, stream, peer, cancel).await;
                ::metrics::gauge!(metrics::CONNECTIONS).decrement(1.0);
                drop(slot);
                drop(permit);
            });
        }
        drop(self.listener);
        tracker.close();
        tracker.wait().await;
        info!(addr = %self.local_addr, "hj212 stopped");
    }
}
