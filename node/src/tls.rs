//! The node's side of TLS on the REST API, as Walrus has it ([`walrus_node_client::tls`] is the
//! clients' side):
//!
//! - [`NetworkKeyPair`]: the node's P-256 network key, a PKCS#8 PEM file
//!   ([`NETWORK_KEY_FILE`] in a node directory, written by `walrus-node setup`); its public key
//!   is the node's on-chain `network_public_key`.
//! - [`server_config`]: rustls (ring) serving either a self-signed certificate generated at
//!   start from the network key (subject alternative names: the name generated from the key,
//!   [`NetworkPublicKey::server_name`], and the node's public host; common name: the generated
//!   name), or the PEM certificate of `[tls] certificate_path`, whose key must be the network
//!   key. ALPN offers HTTP/2 and HTTP/1.1.
//! - [`TlsListener`]: a listener for `axum::serve` that hands over connections once their TLS
//!   handshake is done (handshakes run concurrently, each within [`HANDSHAKE_TIMEOUT`], at
//!   most [`MAX_CONCURRENT_HANDSHAKES`] at once), so a slow client cannot hold the accept loop.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use rustls::{
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    ServerConfig,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{mpsc, Semaphore},
    task::JoinHandle,
};
use tokio_rustls::{server::TlsStream, TlsAcceptor};
use walrus_node_client::tls::{crypto_provider, NetworkPublicKey};

/// The network key's file in a node directory.
pub const NETWORK_KEY_FILE: &str = "network-key.pem";
/// Longest a TLS handshake may take before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// TLS handshakes running at once; further connections wait to be accepted.
pub const MAX_CONCURRENT_HANDSHAKES: usize = 1_024;

/// Why the node's TLS cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A file could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// The network key is not a PKCS#8 P-256 key pair.
    #[error("invalid network key: {0}")]
    InvalidKey(String),
    /// The certificate file holds no usable certificate.
    #[error("invalid certificate {}: {reason}", path.display())]
    InvalidCertificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The certificate file's certificate carries another key than the network key.
    #[error(
        "the certificate {} carries the key {found}, not the node's network key {expected}: \
         clients pin the network key registered on chain, so they would refuse it",
        path.display()
    )]
    CertificateKeyMismatch {
        /// The file.
        path: PathBuf,
        /// The network key.
        expected: NetworkPublicKey,
        /// The certificate's key.
        found: String,
    },
    /// The self-signed certificate could not be generated.
    #[error("cannot generate the self-signed certificate: {0}")]
    Generate(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The node's network key pair (P-256).
pub struct NetworkKeyPair {
    pair: rcgen::KeyPair,
    public: NetworkPublicKey,
}

impl std::fmt::Debug for NetworkKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("NetworkKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl NetworkKeyPair {
    /// A fresh key pair.
    pub fn generate() -> Result<Self, TlsSetupError> {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|error| TlsSetupError::InvalidKey(error.to_string()))?;
        Self::from_pair(pair)
    }

    /// The key pair of a PKCS#8 PEM text (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Self, TlsSetupError> {
        let pair = rcgen::KeyPair::from_pem(pem).map_err(|error| {
            TlsSetupError::InvalidKey(format!("not a PKCS#8 PEM private key: {error}"))
        })?;
        if !pair.is_compatible(&rcgen::PKCS_ECDSA_P256_SHA256) {
            return Err(TlsSetupError::InvalidKey(
                "not a P-256 (secp256r1) key".to_owned(),
            ));
        }
        Self::from_pair(pair)
    }

    fn from_pair(pair: rcgen::KeyPair) -> Result<Self, TlsSetupError> {
        let spki = rcgen::PublicKeyData::subject_public_key_info(&pair);
        let public = NetworkPublicKey::from_spki_der(&spki)
            .map_err(|error| TlsSetupError::InvalidKey(error.to_string()))?;
        Ok(Self { pair, public })
    }

    /// Reads the PKCS#8 PEM file at `path`.
    pub fn load(path: &Path) -> Result<Self, TlsSetupError> {
        let text = std::fs::read_to_string(path).map_err(|error| TlsSetupError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_pem(&text).map_err(|error| match error {
            TlsSetupError::InvalidKey(reason) => {
                TlsSetupError::InvalidKey(format!("{}: {reason}", path.display()))
            }
            other => other,
        })
    }

    /// The PKCS#8 PEM text of the key pair (holds the private key).
    pub fn to_pem(&self) -> String {
        self.pair.serialize_pem()
    }

    /// The public key (what the node registers on chain).
    pub fn public(&self) -> &NetworkPublicKey {
        &self.public
    }

    fn private_key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.pair.serialize_der()))
    }
}

/// The certificate the node serves.
#[derive(Debug, Clone, Copy)]
pub enum CertificateSource<'a> {
    /// Generated at start, self-signed with the network key, for the node's public host (an IP
    /// or a DNS name).
    SelfSigned {
        /// The host of the node's network address.
        public_host: &'a str,
    },
    /// A PEM file (the certificate, then its chain); its key must be the network key.
    File(&'a Path),
}

/// The self-signed certificate Walrus nodes generate: subject alternative names the name
/// generated from the key and `public_host`, common name the generated name.
pub fn self_signed_certificate(
    key: &NetworkKeyPair,
    public_host: &str,
) -> Result<CertificateDer<'static>, TlsSetupError> {
    let generated = key.public().server_name();
    let host = public_host.trim_start_matches('[').trim_end_matches(']');
    let mut names = vec![generated.clone()];
    if host != generated {
        names.push(host.to_owned());
    }
    let mut params = rcgen::CertificateParams::new(names)
        .map_err(|error| TlsSetupError::Generate(format!("{public_host:?}: {error}")))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, generated);
    let certificate = params
        .self_signed(&key.pair)
        .map_err(|error| TlsSetupError::Generate(error.to_string()))?;
    Ok(certificate.der().clone())
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let invalid = |reason: String| TlsSetupError::InvalidCertificate {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read(path).map_err(|error| TlsSetupError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let chain = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid(error.to_string()))?;
    if chain.is_empty() {
        return Err(invalid("no PEM certificate in it".to_owned()));
    }
    Ok(chain)
}

/// The rustls configuration of the REST API: the network key with `certificate`, ALPN `h2`
/// and `http/1.1`.
pub fn server_config(
    key: &NetworkKeyPair,
    certificate: CertificateSource<'_>,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let chain = match certificate {
        CertificateSource::SelfSigned { public_host } => {
            vec![self_signed_certificate(key, public_host)?]
        }
        CertificateSource::File(path) => {
            let chain = read_certificates(path)?;
            let parsed =
                rustls::server::ParsedCertificate::try_from(&chain[0]).map_err(|error| {
                    TlsSetupError::InvalidCertificate {
                        path: path.to_path_buf(),
                        reason: error.to_string(),
                    }
                })?;
            let spki = parsed.subject_public_key_info();
            match NetworkPublicKey::from_spki_der(spki.as_ref()) {
                Ok(found) if found == *key.public() => {}
                Ok(found) => {
                    return Err(TlsSetupError::CertificateKeyMismatch {
                        path: path.to_path_buf(),
                        expected: *key.public(),
                        found: found.to_string(),
                    })
                }
                Err(error) => {
                    return Err(TlsSetupError::CertificateKeyMismatch {
                        path: path.to_path_buf(),
                        expected: *key.public(),
                        found: error.to_string(),
                    })
                }
            }
            chain
        }
    };
    let mut config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key.private_key_der())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TLS listener for `axum::serve`: accepts TCP connections (`TCP_NODELAY` set), runs their
/// handshakes concurrently and hands over the connections that completed one. Dropping it
/// stops accepting.
#[derive(Debug)]
pub struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: JoinHandle<()>,
}

impl TlsListener {
    /// Serves TLS with `config` on the connections of `listener`.
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (sender, incoming) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let handshakes = Arc::new(Semaphore::new(MAX_CONCURRENT_HANDSHAKES));
        let accepting = tokio::spawn(async move {
            loop {
                let Ok(permit) = handshakes.clone().acquire_owned().await else {
                    return;
                };
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(%error, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if sender.is_closed() {
                    return;
                }
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            drop(permit);
                            let _ = sender.send((stream, peer)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            incoming,
            local,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(connection) => connection,
            // The accept task is gone (it only ends when this listener is dropped).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_pem() {
        let key = NetworkKeyPair::generate().unwrap();
        let pem = key.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        let loaded = NetworkKeyPair::from_pem(&pem).unwrap();
        assert_eq!(loaded.public(), key.public());
        assert!(!format!("{loaded:?}").contains(&pem));
        assert!(NetworkKeyPair::from_pem("not a key").is_err());
        let ed25519 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let error = NetworkKeyPair::from_pem(&ed25519.serialize_pem()).unwrap_err();
        assert!(error.to_string().contains("P-256"), "{error}");
    }

    #[test]
    fn the_generated_certificate_is_walrus_s() {
        let key = NetworkKeyPair::generate().unwrap();
        for host in ["127.0.0.1", "node.example.com", "[::1]"] {
            let der = self_signed_certificate(&key, host).unwrap();
            let parsed = rustls::server::ParsedCertificate::try_from(&der).unwrap();
            let spki = parsed.subject_public_key_info();
            assert_eq!(
                NetworkPublicKey::from_spki_der(spki.as_ref()).unwrap(),
                *key.public()
            );
            let text = String::from_utf8_lossy(der.as_ref()).into_owned();
            assert!(text.contains(&key.public().server_name()), "{host}");
        }
        server_config(
            &key,
            CertificateSource::SelfSigned {
                public_host: "127.0.0.1",
            },
        )
        .unwrap();
    }

    #[test]
    fn a_certificate_file_must_carry_the_network_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = NetworkKeyPair::generate().unwrap();
        let other = NetworkKeyPair::generate().unwrap();
        let pem = |der: &CertificateDer<'_>| {
            use base64::Engine;
            let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
            format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
        };
        let own = dir.path().join("own.pem");
        std::fs::write(
            &own,
            pem(&self_signed_certificate(&key, "a.example").unwrap()),
        )
        .unwrap();
        server_config(&key, CertificateSource::File(&own)).unwrap();
        let foreign = dir.path().join("foreign.pem");
        std::fs::write(
            &foreign,
            pem(&self_signed_certificate(&other, "a.example").unwrap()),
        )
        .unwrap();
        let error = server_config(&key, CertificateSource::File(&foreign)).unwrap_err();
        assert!(
            matches!(error, TlsSetupError::CertificateKeyMismatch { .. }),
            "{error}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        assert!(server_config(&key, CertificateSource::File(&empty)).is_err());
    }
}
