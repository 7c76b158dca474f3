//! TLS for the listeners, with rustls and the ring crypto provider.
//!
//! A listener with a `[…tls]` section set serves TLS only. [`TlsConfig`] is
//! that section; [`TlsAcceptor::load`] reads its PEM files and fails with an
//! error naming the file when one is missing, unreadable, not PEM, or when
//! the key does not belong to the certificate. [`TlsAcceptor::reload`] reads
//! the files again for new handshakes. A failed reload keeps the certificate
//! in use, so a half-written file never stops a running server.
//!
//! [`TlsAcceptor::accept`] looks at the first byte before the handshake. A
//! TLS client opens with a handshake record (content type 22). Anything else
//! is a plain-text client on the TLS port, which the listener can reject
//! with a clear error instead of a handshake failure.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// The TLS record content type of a handshake message (RFC 8446, section 5.1).
const HANDSHAKE_RECORD: u8 = 22;

/// The `tls` section of a listener: paths of the PEM files, both or neither.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the server certificate first, then any intermediate
    /// certificates. Default none: the listener serves plain TCP.
    pub cert_file: Option<PathBuf>,
    /// PEM file with the certificate's private key: PKCS#8, PKCS#1 (RSA) or
    /// SEC1 (EC). Default none.
    pub key_file: Option<PathBuf>,
}

impl TlsConfig {
    /// Returns the files to serve TLS with, or `None` for plain TCP. `section`
    /// is the dotted name of this section, such as `http.tls`, for the error
    /// when only one of the two paths is set.
    pub fn validate(&self, section: &'static str) -> Result<Option<TlsFiles>, TlsError> {
        match (&self.cert_file, &self.key_file) {
            (None, None) => Ok(None),
            (Some(cert_file), Some(key_file)) => Ok(Some(TlsFiles {
                cert_file: cert_file.clone(),
                key_file: key_file.clone(),
            })),
            (Some(_), None) => Err(TlsError::Incomplete {
                section,
                missing: "key_file",
            }),
            (None, Some(_)) => Err(TlsError::Incomplete {
                section,
                missing: "cert_file",
            }),
        }
    }
}

/// The certificate chain and key files of a listener that serves TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, server certificate first.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

/// The kind of file an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The certificate chain.
    Certificate,
    /// The private key.
    PrivateKey,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Certificate => "certificate",
            Self::PrivateKey => "private key",
        })
    }
}

/// A TLS setting or file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Only one of the two paths is set.
    #[error(
        "{section}.{missing} is missing; set both cert_file and key_file to serve TLS, or neither to serve plain TCP"
    )]
    Incomplete {
        /// The section, such as `http.tls`.
        section: &'static str,
        /// The key that is not set.
        missing: &'static str,
    },
    /// A file could not be read.
    #[error("cannot read the TLS {kind} file {path}: {error}; check the path and its permissions")]
    Read {
        /// Which file.
        kind: FileKind,
        /// The configured path.
        path: PathBuf,
        /// The operating system's error, kept in the message rather than
        /// as a source so that it is printed once.
        error: io::Error,
    },
    /// A file is not valid PEM.
    #[error("the TLS {kind} file {path} is not valid PEM: {message}")]
    Pem {
        /// Which file.
        kind: FileKind,
        /// The configured path.
        path: PathBuf,
        /// The PEM decoder's message.
        message: String,
    },
    /// The certificate file has no certificate.
    #[error(
        "no certificate found in {path}; expected PEM blocks starting with -----BEGIN CERTIFICATE-----, the server certificate first"
    )]
    NoCertificate {
        /// The configured path.
        path: PathBuf,
    },
    /// The key file has no private key.
    #[error(
        "no private key found in {path}; expected a PEM block starting with -----BEGIN PRIVATE KEY----- (PKCS#8), BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY"
    )]
    NoKey {
        /// The configured path.
        path: PathBuf,
    },
    /// The key is of a kind rustls cannot sign with, or the pair is inconsistent.
    #[error(
        "the private key in {key_path} cannot be used with the certificate in {cert_path}: {message}"
    )]
    Unusable {
        /// The certificate file.
        cert_path: PathBuf,
        /// The key file.
        key_path: PathBuf,
        /// The rustls error.
        message: String,
    },
}

/// The certificate and key that new handshakes use; replaced on reload.
#[derive(Debug)]
struct CurrentCertificate(RwLock<Arc<CertifiedKey>>);

impl CurrentCertificate {
    fn get(&self) -> Arc<CertifiedKey> {
        // A poisoned lock still holds a complete Arc: replacing it is one step.
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn set(&self, key: Arc<CertifiedKey>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = key;
    }
}

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// The server side of TLS for one listener.
#[derive(Clone)]
pub struct TlsAcceptor {
    files: Arc<TlsFiles>,
    provider: Arc<CryptoProvider>,
    current: Arc<CurrentCertificate>,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// The outcome of accepting a connection on a TLS port.
#[derive(Debug)]
pub enum Accepted {
    /// A completed TLS handshake.
    Tls(Box<TlsStream<TcpStream>>),
    /// The first byte is not a TLS handshake record, so the client speaks
    /// plain text; nothing has been read from the stream.
    PlainText(TcpStream),
}

impl TlsAcceptor {
    /// Reads `files` and builds the acceptor. `alpn` lists the protocols the
    /// listener offers in ALPN, most preferred first (empty for none).
    pub fn load(files: &TlsFiles, alpn: &[&[u8]]) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = certified_key(files, &provider)?;
        let current = Arc::new(CurrentCertificate(RwLock::new(Arc::new(key))));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|error| unusable(files, &error))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&current) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        Ok(Self {
            files: Arc::new(files.clone()),
            provider,
            current,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Returns the files the acceptor reads.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Reads the files again; handshakes from now on use the new certificate
    /// and key. On error the previous ones stay in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = certified_key(&self.files, &self.provider)?;
        self.current.set(Arc::new(key));
        Ok(())
    }

    /// Waits for the client's first byte, then completes the handshake
    /// unless the client speaks plain text. The caller bounds the time this
    /// takes.
    pub async fn accept(&self, stream: TcpStream) -> io::Result<Accepted> {
        let mut first = [0_u8; 1];
        if stream.peek(&mut first).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if first[0] != HANDSHAKE_RECORD {
            return Ok(Accepted::PlainText(stream));
        }
        let stream = self.acceptor.accept(stream).await?;
        Ok(Accepted::Tls(Box::new(stream)))
    }
}

/// Reads the certificate chain and key of `files` and checks that they belong together.
fn certified_key(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let cert_pem = read(FileKind::Certificate, &files.cert_file)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error(FileKind::Certificate, &files.cert_file, &error))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert_file.clone(),
        });
    }
    let key_pem = read(FileKind::PrivateKey, &files.key_file)?;
    let key = match PrivateKeyDer::from_pem_slice(&key_pem) {
        Ok(key) => key,
        Err(rustls_pki_types::pem::Error::NoItemsFound) => {
            return Err(TlsError::NoKey {
                path: files.key_file.clone(),
            });
        }
        Err(error) => return Err(pem_error(FileKind::PrivateKey, &files.key_file, &error)),
    };
    CertifiedKey::from_der(chain, key, provider).map_err(|error| unusable(files, &error))
}

fn read(kind: FileKind, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        kind,
        path: path.to_owned(),
        error,
    })
}

fn pem_error(kind: FileKind, path: &Path, error: &rustls_pki_types::pem::Error) -> TlsError {
    TlsError::Pem {
        kind,
        path: path.to_owned(),
        message: error.to_string(),
    }
}

fn unusable(files: &TlsFiles, error: &rustls::Error) -> TlsError {
    TlsError::Unusable {
        cert_path: files.cert_file.clone(),
        key_path: files.key_file.clone(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a new self-signed certificate for 127.0.0.1 and its key into `dir`.
    fn write_pair(dir: &Path, name: &str) -> TlsFiles {
        let pair = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .expect("generate certificate");
        let files = TlsFiles {
            cert_file: dir.join(format!("{name}.crt")),
            key_file: dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert_file, pair.cert.pem()).expect("write certificate");
        std::fs::write(&files.key_file, pair.signing_key.serialize_pem()).expect("write key");
        files
    }

    fn load_error(files: &TlsFiles) -> String {
        TlsAcceptor::load(files, &[])
            .expect_err("load must fail")
            .to_string()
    }

    #[test]
    fn config_needs_both_paths() {
        let none = TlsConfig::default();
        assert_eq!(none.validate("http.tls").expect("valid"), None);
        let only_cert = TlsConfig {
            cert_file: Some("a.crt".into()),
            key_file: None,
        };
        let error = only_cert.validate("http.tls").expect_err("incomplete");
        assert!(error.to_string().contains("http.tls.key_file"), "{error}");
        let only_key = TlsConfig {
            cert_file: None,
            key_file: Some("a.key".into()),
        };
        let error = only_key.validate("hj212.tls").expect_err("incomplete");
        assert!(error.to_string().contains("hj212.tls.cert_file"), "{error}");
    }

    #[test]
    fn load_accepts_matching_pair() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let files = write_pair(dir.path(), "server");
        assert!(TlsAcceptor::load(&files, &[b"h2"]).is_ok());
    }

    #[test]
    fn missing_key_names_path() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut files = write_pair(dir.path(), "server");
        files.key_file = dir.path().join("absent.key");
        let message = load_error(&files);
        assert!(message.contains("absent.key"), "{message}");
        assert!(message.contains("private key"), "{message}");
    }

    #[test]
    fn certificate_as_key_is_rejected() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut files = write_pair(dir.path(), "server");
        files.key_file = files.cert_file.clone();
        let message = load_error(&files);
        assert!(message.contains("no private key found"), "{message}");
        assert!(message.contains("server.crt"), "{message}");
    }

    #[test]
    fn garbage_certificate_is_rejected() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut files = write_pair(dir.path(), "server");
        files.cert_file = dir.path().join("empty.crt");
        std::fs::write(&files.cert_file, "not a certificate\n").expect("write file");
        let message = load_error(&files);
        assert!(message.contains("no certificate found"), "{message}");
        assert!(message.contains("empty.crt"), "{message}");
    }

    #[test]
    fn key_of_other_certificate_is_rejected() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let first = write_pair(dir.path(), "first");
        let second = write_pair(dir.path(), "second");
        let files = TlsFiles {
            cert_file: first.cert_file,
            key_file: second.key_file,
        };
        let message = load_error(&files);
        assert!(message.contains("second.key"), "{message}");
        assert!(message.contains("first.crt"), "{message}");
    }

    #[test]
    fn failed_reload_keeps_certificate() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let files = write_pair(dir.path(), "server");
        let acceptor = TlsAcceptor::load(&files, &[]).expect("load");
        let before = acceptor.current.get().cert.clone();
        std::fs::write(&files.key_file, "").expect("truncate key");
        assert!(acceptor.reload().is_err());
        assert_eq!(acceptor.current.get().cert, before);

        let replacement = write_pair(dir.path(), "replacement");
        std::fs::rename(&replacement.cert_file, &files.cert_file).expect("replace certificate");
        std::fs::rename(&replacement.key_file, &files.key_file).expect("replace key");
        acceptor.reload().expect("reload");
        assert_ne!(acceptor.current.get().cert, before);
    }
}
