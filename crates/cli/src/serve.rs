//! `oversight serve`: run the server until Ctrl-C or SIGTERM.

use std::sync::Arc;

use oversight_core::SystemClock;
use oversight_server::config::Settings;
use oversight_server::runtime::{Server, shutdown_signal};

use crate::import::open_store;

pub(crate) async fn run(settings: Settings) -> anyhow::Result<()> {
    oversight_server::telemetry::init_logging(&settings.log)?;
    warn_on_low_open_files(&settings);
    let store = open_store(&settings).await?;
    let server = Server::start(&settings, store, Arc::new(SystemClock)).await?;
    let token = server.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        token.cancel();
    });
    server.wait().await?;
    Ok(())
}

/// Raises the open files limit and warns when it is still below what the
/// connection cap needs, since every connection holds a file descriptor.
fn warn_on_low_open_files(settings: &Settings) {
    /// Descriptors kept for the database, the HJ 212 listener and logs.
    const RESERVED: u64 = 64;
    let Some(limit) = oversight_server::listener::raise_open_files_limit() else {
        return;
    };
    let needed = settings.http_listener.max_connections as u64 + RESERVED;
    if limit < needed {
        tracing::warn!(
            open_files_limit = limit,
            http_max_connections = settings.http_listener.max_connections,
            "the open files limit is below http.max_connections plus {RESERVED}; raise ulimit -n \
             or lower http.max_connections"
        );
    } else {
        tracing::debug!(open_files_limit = limit, "open files limit");
    }
}
