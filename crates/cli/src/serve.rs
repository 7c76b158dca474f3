//! `oversight serve`: run the server until Ctrl-C or SIGTERM.

use std::sync::Arc;

use oversight_core::SystemClock;
use oversight_server::config::Settings;
use oversight_server::runtime::{Server, shutdown_signal};

use crate::import::open_store;

pub(crate) async fn run(settings: Settings) -> anyhow::Result<()> {
    oversight_server::telemetry::init_logging(&settings.log)?;
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
