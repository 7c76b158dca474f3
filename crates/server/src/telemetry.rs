//! Process-wide logging and metrics set-up.

use std::io::IsTerminal;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the Prometheus recorder as the process's metrics recorder, once,
/// and returns a handle that renders it.
///
/// Later calls return the handle of the first call, so tests that build
/// several routers in one process share one registry.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
            }
            handle
        })
        .clone()
}

/// Installs the log subscriber: lines on standard error, filtered by
/// `config.level`, as text or JSON.
///
/// Fails when the filter is invalid or a subscriber is installed already.
pub fn init_logging(config: &LogConfig) -> Result<(), LoggingError> {
    let filter = EnvFilter::try_new(&config.level).map_err(|error| LoggingError::Filter {
        filter: config.level.clone(),
        error,
    })?;
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let installed = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|error| LoggingError::Install(error.to_string()))
}

/// Logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The log filter does not parse.
    #[error("invalid log level {filter:?}: {error}; use a level such as info or debug")]
    Filter {
        /// The filter as configured.
        filter: String,
        /// The parser's error.
        error: tracing_subscriber::filter::ParseError,
    },
    /// Another subscriber is installed.
    #[error("cannot install the log subscriber: {0}")]
    Install(String),
}
