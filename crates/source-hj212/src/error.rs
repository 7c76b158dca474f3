//! Errors of the HJ 212 source.

/// An error that stops the HJ 212 listener from starting.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A setting is out of range.
    #[error("invalid hj212 setting {field} = {value}: {rule}")]
    InvalidConfig {
        /// The setting's name.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// The rule the value broke, phrased as the fix.
        rule: &'static str,
    },
    /// The listen address could not be bound.
    #[error("cannot listen for HJ 212 on {addr}: {source}; pick a free address in hj212.listen")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The TLS settings or files cannot be used.
    #[error("cannot serve TLS on the HJ 212 listener: {0}")]
    Tls(oversight_tls::TlsError),
}

impl From<oversight_tls::TlsError> for SourceError {
    fn from(error: oversight_tls::TlsError) -> Self {
        Self::Tls(error)
    }
}
