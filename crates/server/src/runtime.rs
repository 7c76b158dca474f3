//! The running server: store, HJ 212 source, rules and HTTP API composed.
//!
//! [`Server::start`] binds both listeners before it returns, so the caller can
//! print the real addresses (port 0 picks a free port). Every task shares one
//! cancellation token; [`Server::shutdown`] fires it, the listeners stop
//! accepting, open connections finish what they were doing, queued readings
//! are evaluated, and [`Server::wait`] returns when everything has stopped.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::middleware;
use oversight_core::AlertEvent;
use oversight_core::{Clock, MonitoringPoint, Reading};
use oversight_notify::{Notifier, NotifyError};
use oversight_rules::{
    AlertEventSink, EngineConfig, ReadingBatch, RulesError, RulesHandle, RulesService,
    StoreTaskSink,
};
use oversight_source_hj212::{Hj212Source, ReadingSink, SourceError};
use oversight_store::Store;
use oversight_tls::TlsAcceptor;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::Layer;

use crate::api::{self, AppState};
use crate::assets;
use crate::config::Settings;
use crate::guard;
use crate::ledger::{self, Checkpointer, LedgerKeyError, LedgerPublic};
use crate::listener::{self, ListenerLimits};
use crate::name_key::{NameKey, NameKeyError};
use crate::tasks::{EvidenceFiles, TaskService, run_scheduler};
use crate::telemetry;

/// The server could not start, or a part of it failed while running.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listener could not bind its address.
    #[error("cannot listen on {addr} for {what}; pick a free address with --{flag}")]
    Bind {
        /// The listener's purpose.
        what: &'static str,
        /// The configured address.
        addr: SocketAddr,
        /// The flag that sets it.
        flag: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The HJ 212 listener could not start.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The HTTP server failed.
    #[error("HTTP server failed: {0}")]
    Http(#[source] std::io::Error),
    /// The rules service failed.
    #[error(transparent)]
    Rules(#[from] RulesError),
    /// The HTTPS certificate or key cannot be used.
    #[error("cannot serve TLS on the HTTP listener: {0}")]
    Tls(oversight_tls::TlsError),
    /// Notification delivery could not start or failed while running.
    #[error(transparent)]
    Notify(#[from] NotifyError),
    /// The ledger's signing key could not be loaded or created.
    #[error(transparent)]
    LedgerKey(#[from] LedgerKeyError),
    /// The key of unknown login names could not be loaded or created.
    #[error(transparent)]
    NameKey(#[from] NameKeyError),
    /// The ledger's state could not be read.
    #[error("cannot read the ledger state: {0}")]
    LedgerHead(oversight_store::StoreError),
    /// The OpenID Connect client could not be created.
    #[error("cannot set up OpenID Connect sign-on: {0}")]
    Oidc(#[from] crate::oidc::OidcError),
    /// A task panicked.
    #[error("a server task panicked: {0}")]
    Panicked(#[from] tokio::task::JoinError),
}

/// A started server.
#[derive(Debug)]
pub struct Server {
    http_addr: SocketAddr,
    hj212_addr: SocketAddr,
    cancel: CancellationToken,
    tasks: JoinSet<Result<(), ServeError>>,
}

impl Server {
    /// Binds the listeners and starts every task.
    pub async fn start(
        settings: &Settings,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ServeError> {
        let cancel = CancellationToken::new();
        let mut tasks = JoinSet::new();

        let rules_config = settings.rules.clone();
        let events = Arc::new(BroadcastEvents::new());
        let engine_config = EngineConfig {
            time_zone: settings.time_zone.clone(),
            ..EngineConfig::default()
        };
        let (rules, rules_handle) = RulesService::new(
            rules_config,
            Arc::clone(&store),
            Arc::clone(&clock),
            Arc::clone(&events) as Arc<dyn AlertEventSink>,
            engine_config,
        )?;
        // Subscribing before the rules start means no event is missed.
        let notifier = if settings.notify.enabled {
            let notifier = Notifier::new(
                &settings.notify,
                Arc::clone(&store),
                Arc::clone(&clock),
                settings.time_zone.clone(),
            )?;
            Some((notifier, events.sender().subscribe()))
        } else {
            None
        };
        let task_engine = Arc::clone(&settings.tasks.engine);
        let rules = rules.with_task_sink(Arc::new(StoreTaskSink::new(
            Arc::clone(&store),
            Arc::clone(&clock),
            Arc::clone(&task_engine),
        )));
        let task_service = TaskService::new(
            task_engine,
            Arc::clone(&store),
            Arc::clone(&clock),
            EvidenceFiles::new(&settings.data_dir, settings.tasks.evidence_max_bytes),
        );
        let sink: Arc<dyn ReadingSink> = Arc::new(RulesSink(rules_handle.clone()));
        let source_store = Arc::clone(&store);
        let source_clock = Arc::clone(&clock);
        let source =
            Hj212Source::bind(&settings.hj212, source_store, source_clock, Some(sink)).await?;
        let hj212_addr = source.local_addr();

        let name_key = NameKey::load_or_generate(&settings.data_dir)?;
        let key = ledger::load_or_generate_key(
            &settings.data_dir,
            &settings.ledger.origin,
            settings.ledger.signature,
        )?;
        // The store opened the ledger with its recorded hash function, which
        // the configuration may leave unset.
        let ledger_head = store.ledger_head().await.map_err(ServeError::LedgerHead)?;
        let ledger_public = Arc::new(LedgerPublic {
            origin: settings.ledger.origin.clone(),
            hash: ledger_head.hasher,
            verifier_key: key.verifier_key().clone(),
            witnesses: settings.ledger.witnesses.clone(),
        });
        let checkpointer = Checkpointer::new(Arc::clone(&store), key, &settings.ledger);

        let http_tls = match &settings.http_tls {
            Some(files) => Some(listener::load_tls(files).map_err(ServeError::Tls)?),
            None => None,
        };
        let reloadable: Vec<(&'static str, TlsAcceptor)> =
            [("http", http_tls.clone()), ("hj212", source.tls())]
                .into_iter()
                .filter_map(|(name, tls)| Some((name, tls?)))
                .collect();
        let http = bind(settings.http_listen, "the HTTP API", "http").await?;
        let http_addr = local_addr(&http, settings.http_listen);
        let oidc = match &settings.auth.oidc {
            Some(config) => Some(Arc::new(crate::oidc::Oidc::new(config.clone())?)),
            None => None,
        };
        let state = AppState {
            store,
            clock,
            time_zone: settings.time_zone.clone(),
            online_intervals: settings.rules.missing_after_intervals,
            metrics: telemetry::metrics_handle(),
            rules: Some(rules_handle),
            alert_events: Some(events.sender()),
            tasks: Some(task_service.clone()),
            ledger: Some(ledger_public),
            auth: settings.auth.clone(),
            oidc,
            notify: Arc::new(settings.notify.clone()),
            login_gate: Arc::default(),
            name_key,
        };
        let app = app(state, settings);

        // The rules get no cancellation of their own: they stop once the
        // source, which has the only handle, has stopped, so the readings
        // stored during shutdown are still evaluated.
        tasks.spawn(run_rules(rules, CancellationToken::new()));
        tasks.spawn(run_source(source, cancel.clone()));
        if let Some((notifier, receiver)) = notifier {
            tasks.spawn(run_notifier(notifier, receiver, cancel.clone()));
        }
        tasks.spawn(run_task_scheduler(
            task_service,
            settings.tasks.scheduler_interval,
            cancel.clone(),
        ));
        let checkpoint_cancel = cancel.clone();
        tasks.spawn(async move {
            checkpointer.run(checkpoint_cancel).await;
            Ok(())
        });
        let https = http_tls.is_some();
        tasks.spawn(serve_http(
            http,
            app,
            settings.http_listener,
            http_tls,
            cancel.clone(),
        ));
        if !reloadable.is_empty() {
            tasks.spawn(reload_tls_on_hangup(reloadable, cancel.clone()));
        }
        tracing::info!(addr = %http_addr, tls = https, "http listening");

        Ok(Self {
            http_addr,
            hj212_addr,
            cancel,
            tasks,
        })
    }

    /// Returns the address the HTTP API listens on.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Returns the address the HJ 212 listener is bound to.
    pub fn hj212_addr(&self) -> SocketAddr {
        self.hj212_addr
    }

    /// Returns a token that stops the server when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Asks every task to stop.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// Waits until every task has stopped. The first task that fails stops the others.
    pub async fn wait(mut self) -> Result<(), ServeError> {
        let mut first_error = None;
        while let Some(result) = self.tasks.join_next().await {
            let outcome = result.map_err(ServeError::from).and_then(|result| result);
            if let Err(error) = outcome {
                tracing::error!(error = %error, "server task failed, stopping");
                self.cancel.cancel();
                first_error.get_or_insert(error);
            }
        }
        tracing::info!("stopped");
        first_error.map_or(Ok(()), Err)
    }
}

/// Builds the HTTP application: the API, with the dashboard for every other
/// path, behind the host, CSRF and header checks.
fn app(state: AppState, settings: &Settings) -> Router {
    let routes = api::router(state, settings.http_limits).merge(assets::router());
    let routes = middleware::from_fn(api::json_errors).layer(routes);
    guard::protect(
        Router::new().fallback_service(routes),
        settings.http_allowed_hosts.clone(),
    )
}

async fn bind(
    addr: SocketAddr,
    what: &'static str,
    flag: &'static str,
) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            what,
            addr,
            flag,
            source,
        })
}

fn local_addr(listener: &TcpListener, configured: SocketAddr) -> SocketAddr {
    listener.local_addr().unwrap_or(configured)
}

async fn serve_http(
    listener: TcpListener,
    app: Router,
    limits: ListenerLimits,
    tls: Option<TlsAcceptor>,
    cancel: CancellationToken,
) -> Result<(), ServeError> {
    listener::serve(listener, app, limits, tls, cancel)
        .await
        .map_err(ServeError::Http)
}

/// Reads the TLS certificates and keys again on each SIGHUP, so a renewed
/// certificate is used without a restart. A file that cannot be used is
/// logged and the listener keeps its previous certificate.
async fn reload_tls_on_hangup(
    acceptors: Vec<(&'static str, TlsAcceptor)>,
    cancel: CancellationToken,
) -> Result<(), ServeError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(error) => {
                tracing::error!(error = %error, "cannot listen for SIGHUP, tls certificates will not be reloaded");
                return Ok(());
            }
        };
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                received = hangups.recv() => if received.is_none() { break },
            }
            for (listener, acceptor) in &acceptors {
                let cert_file = acceptor.files().cert_file.display();
                match acceptor.reload() {
                    Ok(()) => {
                        tracing::info!(listener, cert_file = %cert_file, "tls certificate reloaded");
                    }
                    Err(error) => tracing::error!(
                        listener,
                        error = %error,
                        "tls certificate reload failed, keeping the previous certificate"
                    ),
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = acceptors;
        cancel.cancelled().await;
    }
    Ok(())
}

async fn run_source(source: Hj212Source, cancel: CancellationToken) -> Result<(), ServeError> {
    source.run(cancel).await;
    Ok(())
}

/// The alert events of the running server, on a broadcast channel that
/// notification delivery subscribes to. A subscriber that falls more than
/// the channel's capacity behind loses the oldest events and is told so by
/// the channel.
#[derive(Debug)]
pub struct BroadcastEvents {
    sender: broadcast::Sender<AlertEvent>,
}

impl BroadcastEvents {
    /// Events buffered per subscriber.
    const CAPACITY: usize = 4096;

    fn new() -> Self {
        let (sender, _) = broadcast::channel(Self::CAPACITY);
        Self { sender }
    }

    /// Returns the sender, for subscribing.
    pub fn sender(&self) -> broadcast::Sender<AlertEvent> {
        self.sender.clone()
    }
}

#[async_trait]
impl AlertEventSink for BroadcastEvents {
    async fn alert_events(&self, events: &[AlertEvent]) {
        for event in events {
            // Without subscribers the event has been stored and logged already.
            let _ = self.sender.send(event.clone());
        }
        metrics::counter!("oversight_alert_events_queued_total").increment(events.len() as u64);
    }
}

/// Hands the readings the source stored to the rules service.
#[derive(Debug)]
struct RulesSink(RulesHandle);

#[async_trait]
impl ReadingSink for RulesSink {
    async fn readings_stored(&self, point: Arc<MonitoringPoint>, readings: Vec<Reading>) {
        if let Err(error) = self.0.submit(ReadingBatch { point, readings }).await {
            // Only a stopped rules service gets here, during shutdown.
            tracing::warn!(error = %error, "rules stopped, stored readings not evaluated");
        }
    }
}

async fn run_notifier(
    notifier: Notifier,
    events: broadcast::Receiver<AlertEvent>,
    cancel: CancellationToken,
) -> Result<(), ServeError> {
    notifier.run(events, cancel).await?;
    Ok(())
}

async fn run_task_scheduler(
    service: TaskService,
    interval: std::time::Duration,
    cancel: CancellationToken,
) -> Result<(), ServeError> {
    run_scheduler(service, interval, cancel).await;
    Ok(())
}

async fn run_rules(rules: RulesService, cancel: CancellationToken) -> Result<(), ServeError> {
    rules.run(cancel).await?;
    Ok(())
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "shutting down"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}
