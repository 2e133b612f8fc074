//! TLS of the storage nodes' REST API, as Walrus has it: each node has a P-256 (secp256r1)
//! *network key*, registers its public key on chain (`network_public_key`) and serves HTTPS
//! with a certificate carrying that key (self-signed unless the operator gives one). Clients
//! do not trust certificate authorities for nodes: they pin the certificate to the key the
//! chain has for the node ([`PinnedKeyVerifier`]).
//!
//! - [`NetworkPublicKey`]: the on-chain form (33 bytes, compressed SEC1: fastcrypto's
//!   `Secp256r1PublicKey` bytes) and [`NetworkPublicKey::server_name`], the name in a node's
//!   generated certificate (`"<first 4 key bytes in hex>.network.walrus.alt"`).
//! - [`PinnedKeyVerifier`]: a rustls server-certificate verifier that accepts the server's
//!   end-entity certificate iff its key is the pinned key (self-signed or expired certificates
//!   are fine, as in Walrus: the key is what is trusted), and verifies the handshake
//!   signatures with the provider's algorithms.
//! - [`NodeConnector`]: makes the [`NodeClient`]s of committee members: `http://` members
//!   share one plain-HTTP reqwest client, `https://` members get a client pinned to their
//!   network key (rustls with the `ring` provider over a hyper connection pool; reqwest itself
//!   is built without TLS).

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    io,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    body::{Body as _, Incoming},
    header::CONTENT_TYPE,
    Method, Uri,
};
use hyper_util::{
    client::legacy::{
        connect::{Connected, Connection},
        Client,
    },
    rt::{TokioExecutor, TokioIo},
};
use p256::{elliptic_curve::sec1::ToEncodedPoint, pkcs8::DecodePublicKey};
use rustls::{
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms},
    pki_types::{CertificateDer, ServerName, UnixTime},
    server::ParsedCertificate,
    CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::{client::TlsStream, TlsConnector};

use crate::client::{NodeClient, NodeClientError};

/// The suffix of the name in a node's generated certificate.
pub const SERVER_NAME_SUFFIX: &str = "network.walrus.alt";

/// Why a network key or a TLS setting is unusable.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The bytes are not a valid P-256 public key in the expected form.
    #[error("invalid network public key: {0}")]
    InvalidKey(String),
    /// The server's certificate carries another key than the pinned one.
    #[error(
        "the node's TLS certificate carries the key {found}, not the network public key {pinned} \
         the chain has for it: refused"
    )]
    PinMismatch {
        /// The pinned key (from the chain).
        pinned: NetworkPublicKey,
        /// The key of the server's certificate.
        found: NetworkPublicKey,
    },
    /// The server's certificate does not carry a P-256 key at all.
    #[error(
        "the node's TLS certificate does not carry a P-256 key (pinned network public key \
         {pinned}): refused"
    )]
    NotP256 {
        /// The pinned key (from the chain).
        pinned: NetworkPublicKey,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A storage node's network public key: a P-256 point in compressed SEC1 form (33 bytes), the
/// `network_public_key` of its on-chain registration.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkPublicKey([u8; NetworkPublicKey::LENGTH]);

impl NetworkPublicKey {
    /// Length of the on-chain form.
    pub const LENGTH: usize = 33;

    /// The key of its on-chain form: exactly 33 bytes, a compressed point on P-256.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TlsError> {
        if bytes.len() != Self::LENGTH {
            return Err(TlsError::InvalidKey(format!(
                "{} bytes, expected {} (a compressed P-256 point)",
                bytes.len(),
                Self::LENGTH
            )));
        }
        let key = p256::PublicKey::from_sec1_bytes(bytes)
            .map_err(|_| TlsError::InvalidKey("not a point on P-256".to_owned()))?;
        Ok(Self::from_point(&key))
    }

    /// The key of a DER `SubjectPublicKeyInfo` (an EC key on P-256, as in a certificate).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, TlsError> {
        let key = p256::PublicKey::from_public_key_der(der)
            .map_err(|error| TlsError::InvalidKey(format!("not a P-256 key: {error}")))?;
        Ok(Self::from_point(&key))
    }

    fn from_point(key: &p256::PublicKey) -> Self {
        let mut bytes = [0u8; Self::LENGTH];
        bytes.copy_from_slice(key.to_encoded_point(true).as_bytes());
        Self(bytes)
    }

    /// The on-chain form (compressed SEC1).
    pub fn as_bytes(&self) -> &[u8; Self::LENGTH] {
        &self.0
    }

    /// The name a node's generated certificate has as common name and first subject
    /// alternative name: its first four key bytes in hex, each without zero padding (as
    /// Walrus writes it), then `.network.walrus.alt`.
    pub fn server_name(&self) -> String {
        let prefix: String = self.0[..4].iter().map(|byte| format!("{byte:x}")).collect();
        format!("{prefix}.{SERVER_NAME_SUFFIX}")
    }
}

impl fmt::Display for NetworkPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for NetworkPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetworkPublicKey({self})")
    }
}

/// The rustls crypto provider of this workspace (ring; no aws-lc-sys).
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts a server's certificate iff its key is the pinned network key; verifies the
/// handshake signatures against that certificate with the provider's algorithms. The server
/// name, the issuer and the validity period are not checked: the chain vouches for the key,
/// not a certificate authority (Walrus accepts expired certificates with the pinned key too).
#[derive(Debug)]
pub struct PinnedKeyVerifier {
    key: NetworkPublicKey,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedKeyVerifier {
    /// A verifier pinned to `key`, verifying signatures with `provider`'s algorithms.
    pub fn new(key: NetworkPublicKey, provider: &rustls::crypto::CryptoProvider) -> Self {
        Self {
            key,
            algorithms: provider.signature_verification_algorithms,
        }
    }

    /// The pinned key.
    pub fn key(&self) -> &NetworkPublicKey {
        &self.key
    }

    fn refuse(error: TlsError) -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
            Refusal(error),
        ))))
    }
}

/// A refusal of [`PinnedKeyVerifier`]; rustls prints it with `Debug`, so that is its message.
struct Refusal(TlsError);

impl fmt::Debug for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Refusal {}

impl ServerCertVerifier for PinnedKeyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let certificate = ParsedCertificate::try_from(end_entity)?;
        match NetworkPublicKey::from_spki_der(certificate.subject_public_key_info().as_ref()) {
            Ok(found) if found == self.key => Ok(ServerCertVerified::assertion()),
            Ok(found) => Err(Self::refuse(TlsError::PinMismatch {
                pinned: self.key,
                found,
            })),
            Err(_) => Err(Self::refuse(TlsError::NotP256 { pinned: self.key })),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A rustls client configuration that trusts exactly the server certificates carrying `key`
/// ([`PinnedKeyVerifier`]), HTTP/1.1 by ALPN, no client certificate.
pub fn pinned_client_config(key: NetworkPublicKey) -> Result<ClientConfig, TlsError> {
    let provider = crypto_provider();
    let verifier = Arc::new(PinnedKeyVerifier::new(key, &provider));
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The error text of `error` with its sources (hyper's own text says only "client error").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The HTTPS transport of a [`NodeClient`] pinned to a node's network key: a hyper client
/// (its own connection pool) over rustls with [`PinnedKeyVerifier`].
#[derive(Clone)]
pub(crate) struct PinnedHttps {
    client: Client<PinnedConnector, Full<Bytes>>,
    key: NetworkPublicKey,
    request_timeout: Duration,
}

impl fmt::Debug for PinnedHttps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedHttps")
            .field("key", &self.key)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl PinnedHttps {
    /// A transport pinned to `key`, with a TCP + TLS connect timeout and a whole-request
    /// timeout (until the body is read).
    pub(crate) fn new(
        key: NetworkPublicKey,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Self, TlsError> {
        let connector = PinnedConnector {
            tls: TlsConnector::from(Arc::new(pinned_client_config(key)?)),
            connect_timeout,
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(Self {
            client,
            key,
            request_timeout,
        })
    }

    /// The pinned key.
    pub(crate) fn key(&self) -> NetworkPublicKey {
        self.key
    }

    /// Sends a request (with a body of the given content type, if any).
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<PinnedResponse, NodeClientError> {
        let deadline = tokio::time::Instant::now() + self.request_timeout;
        let mut request = hyper::Request::builder().method(method).uri(url);
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(CONTENT_TYPE, content_type);
                Full::new(Bytes::from(bytes))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request
            .body(body)
            .map_err(|error| NodeClientError::Encode(error.to_string()))?;
        let response = tokio::time::timeout_at(deadline, self.client.request(request))
            .await
            .map_err(|_| self.timed_out())?
            .map_err(|error| NodeClientError::Https(error_chain(&error)))?;
        let status = response.status().as_u16();
        let body = response.into_body();
        Ok(PinnedResponse {
            status,
            content_length: body.size_hint().exact(),
            body,
            deadline,
            request_timeout: self.request_timeout,
        })
    }

    fn timed_out(&self) -> NodeClientError {
        NodeClientError::Https(format!(
            "no complete answer within {:?}",
            self.request_timeout
        ))
    }
}

/// An answer on a [`PinnedHttps`] transport; its body is read within the request's deadline.
#[derive(Debug)]
pub(crate) struct PinnedResponse {
    status: u16,
    content_length: Option<u64>,
    body: Incoming,
    deadline: tokio::time::Instant,
    request_timeout: Duration,
}

impl PinnedResponse {
    /// The HTTP status.
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    /// The body length the answer declares, if it does.
    pub(crate) fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The next chunk of the body (`None` at its end).
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, NodeClientError> {
        loop {
            let frame = tokio::time::timeout_at(self.deadline, self.body.frame())
                .await
                .map_err(|_| {
                    NodeClientError::Https(format!(
                        "the body did not arrive within {:?}",
                        self.request_timeout
                    ))
                })?;
            match frame {
                None => return Ok(None),
                Some(Err(error)) => return Err(NodeClientError::Https(error_chain(&error))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}

/// Opens TCP + TLS connections for [`PinnedHttps`] (within the connect timeout).
#[derive(Clone)]
struct PinnedConnector {
    tls: TlsConnector,
    connect_timeout: Duration,
}

impl tower_service::Service<Uri> for PinnedConnector {
    type Response = PinnedStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<PinnedStream>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let tls = self.tls.clone();
        let timeout = self.connect_timeout;
        Box::pin(async move {
            let host = uri
                .host()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no host in the URL"))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let port = uri.port_u16().unwrap_or(443);
            let server_name = ServerName::try_from(host.clone())
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
            let connect = async {
                let tcp = TcpStream::connect((host.as_str(), port)).await?;
                tcp.set_nodelay(true)?;
                tls.connect(server_name, tcp).await
            };
            let stream = tokio::time::timeout(timeout, connect).await.map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {host}:{port} took more than {timeout:?}"),
                )
            })??;
            Ok(PinnedStream(TokioIo::new(stream)))
        })
    }
}

/// A TLS connection of [`PinnedConnector`], as hyper reads and writes it.
struct PinnedStream(TokioIo<TlsStream<TcpStream>>);

impl Connection for PinnedStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for PinnedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for PinnedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// Pinned transports kept by a [`NodeConnector`] before it starts afresh (members come and
/// go over epochs; a committee has far fewer).
const MAX_PINNED_TRANSPORTS: usize = 4_096;

/// Makes the [`NodeClient`]s of storage nodes from their URL and on-chain network key:
/// `http://` nodes share one plain-HTTP reqwest client (one connection pool), `https://` nodes
/// get a client pinned to their network key, kept per URL and key so that its connections are
/// reused. Cheap to clone (the clones share the clients).
#[derive(Clone)]
pub struct NodeConnector {
    http: reqwest::Client,
    connect_timeout: Duration,
    request_timeout: Duration,
    pinned: Arc<Mutex<HashMap<(String, NetworkPublicKey), PinnedHttps>>>,
}

impl fmt::Debug for NodeConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeConnector")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl NodeConnector {
    /// A connector whose clients have these TCP (+ TLS) connect and whole-request timeouts.
    pub fn new(connect_timeout: Duration, request_timeout: Duration) -> Self {
        Self {
            http: crate::client::default_http_client(connect_timeout, request_timeout),
            connect_timeout,
            request_timeout,
            pinned: Arc::default(),
        }
    }

    /// The shared plain-HTTP client (of the `http://` nodes).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The client of the node at `base_url` whose on-chain network public key is
    /// `network_public_key`: pinned to that key if the URL is `https://` (an invalid key is then
    /// an error), plain HTTP otherwise (the key is not used).
    pub fn client(
        &self,
        base_url: &str,
        network_public_key: &[u8],
    ) -> Result<NodeClient, NodeClientError> {
        let plain = NodeClient::with_http(base_url, self.http.clone())?;
        if !plain.is_https() {
            return Ok(plain);
        }
        let key = NetworkPublicKey::from_bytes(network_public_key)
            .map_err(|error| NodeClientError::InvalidNetworkKey(error.to_string()))?;
        let pinned = {
            let mut cache = self
                .pinned
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            let cache_key = (plain.base_url().to_owned(), key);
            match cache.get(&cache_key) {
                Some(pinned) => pinned.clone(),
                None => {
                    let pinned = PinnedHttps::new(key, self.connect_timeout, self.request_timeout)
                        .map_err(|error| NodeClientError::InvalidNetworkKey(error.to_string()))?;
                    if cache.len() >= MAX_PINNED_TRANSPORTS {
                        cache.clear();
                    }
                    cache.insert(cache_key, pinned.clone());
                    pinned
                }
            }
        };
        Ok(plain.with_pinned(pinned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_pair() -> (rcgen::KeyPair, NetworkPublicKey) {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let key =
            NetworkPublicKey::from_spki_der(&rcgen::PublicKeyData::subject_public_key_info(&pair))
                .unwrap();
        (pair, key)
    }

    fn certificate(pair: &rcgen::KeyPair, name: &str) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.self_signed(pair).unwrap().der().clone()
    }

    fn verify(verifier: &PinnedKeyVerifier, cert: &CertificateDer<'_>) -> Result<(), String> {
        verifier
            .verify_server_cert(
                cert,
                &[],
                &ServerName::try_from("127.0.0.1").unwrap(),
                &[],
                UnixTime::now(),
            )
            .map(drop)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn keys_round_trip_and_bad_keys_are_refused() {
        let (_, key) = key_pair();
        assert_eq!(key.as_bytes().len(), 33);
        assert!(matches!(key.as_bytes()[0], 2 | 3));
        assert_eq!(NetworkPublicKey::from_bytes(key.as_bytes()).unwrap(), key);
        // The localnet's old dummy key, a wrong length, a point off the curve.
        assert!(NetworkPublicKey::from_bytes(&[0; 32]).is_err());
        assert!(NetworkPublicKey::from_bytes(&[0; 33]).is_err());
        let mut off_curve = *key.as_bytes();
        off_curve[1..].fill(0xff);
        assert!(NetworkPublicKey::from_bytes(&off_curve).is_err());
    }

    #[test]
    fn server_name_is_walrus_s() {
        let mut bytes = [0u8; 33];
        bytes[..4].copy_from_slice(&[0x02, 0x0a, 0xff, 0x10]);
        // Not a valid point, but the name depends only on the bytes.
        assert_eq!(
            NetworkPublicKey(bytes).server_name(),
            "2aff10.network.walrus.alt"
        );
    }

    #[test]
    fn the_pinned_key_is_accepted_and_any_other_refused() {
        let (pair, key) = key_pair();
        let (other_pair, other_key) = key_pair();
        let provider = crypto_provider();
        let verifier = PinnedKeyVerifier::new(key, &provider);
        // The node's own certificate, whatever its names.
        verify(&verifier, &certificate(&pair, &key.server_name())).unwrap();
        verify(&verifier, &certificate(&pair, "elsewhere.example")).unwrap();
        // A certificate of another key, even one claiming the node's generated name.
        let error = verify(&verifier, &certificate(&other_pair, &key.server_name())).unwrap_err();
        assert!(
            error.contains(&other_key.to_string()) && error.contains(&key.to_string()),
            "{error}"
        );
        // A verifier pinned to the other key refuses the node's certificate.
        let other_verifier = PinnedKeyVerifier::new(other_key, &provider);
        assert!(verify(&other_verifier, &certificate(&pair, &key.server_name())).is_err());
        // Not a P-256 key at all.
        let ed25519 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let error = verify(&verifier, &certificate(&ed25519, "x.example")).unwrap_err();
        assert!(error.contains("does not carry a P-256 key"), "{error}");
        // Not a certificate.
        assert!(verify(&verifier, &CertificateDer::from(vec![0x30, 0x00])).is_err());
    }
}
