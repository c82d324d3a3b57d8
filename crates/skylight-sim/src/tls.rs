//! HTTPS for unmodified clients: a throwaway certificate authority, a server certificate for all
//! of Microsoft's host names, and a listener that finishes TLS handshakes off the accept loop so
//! that a client dropping mid-handshake never stops or stalls the others.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::server::TlsStream;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Certificate generation failed.
    #[error("cannot generate the tls certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("cannot configure tls: {0}")]
    Config(#[from] rustls::Error),
}

/// The throwaway CA and the server certificate it signed.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// The CA certificate, PEM: what clients must trust.
    pub ca_pem: String,
    /// The server certificate, DER.
    pub cert_der: Vec<u8>,
    /// The server key, PKCS#8 DER.
    pub key_der: Vec<u8>,
    /// The names the server certificate is valid for.
    pub names: Vec<String>,
}

impl TlsMaterial {
    /// A new CA and a server certificate for `names` (plus `localhost` and `127.0.0.1`, so
    /// `/_sim` stays reachable without a hosts file).
    pub fn generate(names: &[&str]) -> Result<TlsMaterial, TlsError> {
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "Skylight simulator throwaway CA");
        ca.distinguished_name
            .push(DnType::OrganizationName, "Skylight simulator");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);

        let mut names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        names.extend(["localhost".to_string(), "127.0.0.1".to_string()]);
        let key = KeyPair::generate()?;
        let mut leaf = CertificateParams::new(names.clone())?;
        leaf.distinguished_name
            .push(DnType::CommonName, names[0].as_str());
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        // Strict verifiers (OpenSSL's X509_STRICT, Go) want the issuer's key identifier.
        leaf.use_authority_key_identifier_extension = true;
        let cert = leaf.signed_by(&key, &issuer)?;
        Ok(TlsMaterial {
            ca_pem: ca_cert.pem(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
            names,
        })
    }

    /// A rustls server configuration offering HTTP/2 and HTTP/1.1 by ALPN, on aws-lc-rs (the
    /// provider the rest of the tree uses, so no second crypto library is linked).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(self.cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
            )?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

/// How long a client may take to finish its handshake before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS listener for `axum::serve`: handshakes run in their own tasks and only finished
/// connections are handed over, so a failed handshake is logged and forgotten.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Wraps a bound TCP listener; must be called inside a Tokio runtime.
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    r = tcp.accept() => r,
                    // The server went away (task aborted): stop accepting.
                    () = tx.closed() => break,
                };
                let (stream, addr) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of descriptors and the like: back off instead of spinning.
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let (tx, acceptor) = (tx.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "tls handshake failed"),
                        Err(_) => tracing::debug!(%addr, "tls handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(x) => x,
            // The accept loop only ends once this listener is gone; never resolve meanwhile.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The peer address of a connection, plain or TLS, as handlers and the drain report see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, TcpListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_makes_a_working_server_config() {
        let m = TlsMaterial::generate(&["manage.office.com", "graph.microsoft.com"])
            .expect("certificates");
        assert!(m.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(m.names.iter().any(|n| n == "localhost"));
        let cfg = m.server_config().expect("config");
        assert_eq!(cfg.alpn_protocols[0], b"h2".to_vec());
    }
}
