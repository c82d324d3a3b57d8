//! TLS to PostgreSQL: asked for in the URL as libpq does (`sslmode=require`, `verify-ca`,
//! `verify-full`; `sslrootcert=FILE` for a CA outside the system's trust store), always with
//! the server's certificate and name verified.

use std::sync::Arc;

use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

use crate::StoreError;

/// What the URL asks for.
pub(super) struct TlsRequest {
    /// The URL without the parameters the PostgreSQL client does not know.
    pub url: String,
    /// TLS with these roots (`None`: no TLS).
    pub tls: Option<MakeRustlsConnect>,
}

/// Reads the TLS parameters of a `postgres://` URL and builds the connector they ask for. A
/// URL without `sslmode` is not encrypted (as before TLS was supported); `prefer` and `allow`,
/// which fall back to an unencrypted connection without saying so, are refused.
pub(super) fn request(url: &str) -> Result<TlsRequest, StoreError> {
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let Some((base, query)) = url.split_once('?').filter(|_| is_url) else {
        // Key=value strings go to the client as they are; no TLS unless they ask for it.
        let asks = url.contains("sslmode=require");
        return Ok(TlsRequest {
            url: url.to_owned(),
            tls: asks.then(|| connector(None)).transpose()?,
        });
    };
    let mut kept = Vec::new();
    let (mut mode, mut root) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", m)) => mode = Some(m.to_owned()),
            Some(("sslrootcert", f)) => root = Some(decode(f)),
            _ => kept.push(pair),
        }
    }
    let tls = match mode.as_deref() {
        None | Some("disable") => {
            if root.is_some() {
                return Err(StoreError::Config(
                    "the database URL gives sslrootcert without sslmode: add sslmode=verify-full to use TLS".into(),
                ));
            }
            kept.push("sslmode=disable");
            None
        }
        Some("require" | "verify-ca" | "verify-full") => {
            kept.push("sslmode=require");
            Some(connector(root.as_deref())?)
        }
        Some("prefer" | "allow") => {
            return Err(StoreError::Config(
                "the database URL's sslmode would fall back to an unencrypted connection unnoticed: give sslmode=verify-full (TLS, the server's certificate checked) or sslmode=disable".into(),
            ));
        }
        Some(other) => {
            return Err(StoreError::Config(format!(
                "the database URL's sslmode `{other}` is not one of disable, require, verify-ca, verify-full"
            )));
        }
    };
    Ok(TlsRequest {
        url: format!("{base}?{}", kept.join("&")),
        tls,
    })
}

/// `%XX` escapes of a URL parameter, decoded (a path may hold spaces).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A connector trusting the CA certificates in `root` (PEM), or the system's when none is given.
fn connector(root: Option<&str>) -> Result<MakeRustlsConnect, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    match root {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| {
                    StoreError::Config(format!(
                        "cannot read the database's CA certificates from sslrootcert `{path}`: {e}"
                    ))
                })?;
            if certs.is_empty() {
                return Err(StoreError::Config(format!(
                    "sslrootcert `{path}` holds no PEM certificate"
                )));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| StoreError::Config(format!("sslrootcert `{path}`: {e}")))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A system certificate rustls cannot use is skipped, as browsers do.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(StoreError::Config(
                    "TLS to the database needs CA certificates: none in the system's trust store; give sslrootcert=FILE in the URL".into(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Config(format!("TLS to the database: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_url_says_whether_and_how_to_encrypt() {
        let plain = request("postgres://u:p@h:5432/db").unwrap();
        assert!(plain.tls.is_none());
        assert_eq!(plain.url, "postgres://u:p@h:5432/db");
        let plain = request("postgres://u:p@h/db?connect_timeout=5").unwrap();
        assert_eq!(
            plain.url,
            "postgres://u:p@h/db?connect_timeout=5&sslmode=disable"
        );
        for refused in [
            "sslmode=prefer",
            "sslmode=allow",
            "sslmode=bogus",
            "sslrootcert=/x",
        ] {
            let err = request(&format!("postgres://u:secret@h/db?{refused}"))
                .err()
                .unwrap()
                .to_string();
            assert!(!err.contains("secret"), "{err}");
            assert!(err.contains("sslmode"), "{err}");
        }
        let err = request("postgres://u:p@h/db?sslmode=verify-full&sslrootcert=%2Fno%20such.pem")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("/no such.pem"), "{err}");
    }
}
