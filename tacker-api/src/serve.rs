//! Serving a router over TCP, with TLS (rustls, ring) or without, until a shutdown
//! signal; connections in flight are given time to finish.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tacker_core::{Error, Result};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

/// How a TLS server treats client certificates (mutual TLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Every client must present a certificate issued by one of the client CAs; a
    /// client without one, or with another CA's, fails the handshake.
    Required,
    /// A client may present such a certificate (checked like `Required`) or none, and
    /// then authenticates by other means.
    Optional,
}

/// The verified certificate a client presented in the TLS handshake, in the extensions
/// of each of its requests.
#[derive(Debug, Clone)]
pub struct ClientCertificate {
    /// The subject as an RFC 4514 string, e.g. `CN=nfvo.example,O=Example`.
    pub subject: String,
    /// The subject's common name, when it has one.
    pub common_name: Option<String>,
    /// The certificate (DER).
    pub der: Arc<[u8]>,
}

impl ClientCertificate {
    /// Reads the subject of a certificate; `None` when it cannot be parsed.
    pub fn from_der(der: &[u8]) -> Option<Self> {
        use x509_cert::der::Decode;
        let cert = x509_cert::Certificate::from_der(der).ok()?;
        let subject = cert.tbs_certificate().subject();
        let common_name = subject.common_name().ok().flatten().map(String::from);
        Some(Self {
            subject: subject.to_string(),
            common_name,
            der: Arc::from(der),
        })
    }
}

/// A TLS server configuration from a PEM certificate chain and a PEM private key
/// (PKCS#8, PKCS#1 or SEC1), on the ring provider. Errors name the file.
pub fn tls_config(cert_chain: &Path, private_key: &Path) -> Result<Arc<rustls::ServerConfig>> {
    tls_config_with_clients(cert_chain, private_key, None)
}

/// The same, verifying client certificates against the CAs of the PEM bundle
/// `client_ca` as `client_auth` says (mutual TLS).
pub fn tls_config_with_clients(
    cert_chain: &Path,
    private_key: &Path,
    clients: Option<(&Path, ClientAuth)>,
) -> Result<Arc<rustls::ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(cert_chain)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| {
            Error::InvalidRequest(format!(
                "TLS certificate chain {}: {e}",
                cert_chain.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "TLS certificate chain {}: no certificate in the file",
            cert_chain.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(private_key).map_err(|e| {
        Error::InvalidRequest(format!("TLS private key {}: {e}", private_key.display()))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS protocol versions: {e}")))?;
    let builder = match clients {
        None => builder.with_no_client_auth(),
        Some((bundle, auth)) => {
            let mut roots = rustls::RootCertStore::empty();
            let cas = CertificateDer::pem_file_iter(bundle)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| {
                    Error::InvalidRequest(format!("client CA bundle {}: {e}", bundle.display()))
                })?;
            for ca in cas {
                roots.add(ca).map_err(|e| {
                    Error::InvalidRequest(format!(
                        "client CA bundle {}: a certificate is unusable: {e}",
                        bundle.display()
                    ))
                })?;
            }
            if roots.is_empty() {
                return Err(Error::InvalidRequest(format!(
                    "client CA bundle {}: no certificate in the file",
                    bundle.display()
                )));
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let verifier = match auth {
                ClientAuth::Required => verifier,
                ClientAuth::Optional => verifier.allow_unauthenticated(),
            }
            .build()
            .map_err(|e| {
                Error::InvalidRequest(format!("client CA bundle {}: {e}", bundle.display()))
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        Error::InvalidRequest(format!(
            "TLS certificate {} and key {} do not form a usable identity: {e}",
            cert_chain.display(),
            private_key.display()
        ))
    })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown`
/// completes; then stops accepting and waits up to `grace` for open connections.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) -> Result<()> {
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // HTTP/1 header names go out as `Content-Type`, `Location`, `Version`: header names
    // are case-insensitive, but some older clients index them case-sensitively.
    builder.http1().title_case_headers(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(error) => {
                    // Out of descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let builder = builder.clone();
        match &acceptor {
            None => {
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let watched = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = watched.await {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let router = router.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let stream = match tokio::time::timeout(
                        Duration::from_secs(10),
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let client = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|certs| certs.first())
                        .and_then(|cert| ClientCertificate::from_der(cert));
                    let service = match client {
                        None => service,
                        Some(client) => {
                            let router =
                                router.map_request(move |mut request: axum::extract::Request| {
                                    request.extensions_mut().insert(client.clone());
                                    request
                                });
                            TowerToHyperService::new(Router::new().fallback_service(router))
                        }
                    };
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    if let Err(error) = watcher.watch(connection).await {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "connections still open after the grace period were closed"
        );
    }
    Ok(())
}
