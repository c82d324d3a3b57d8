//! TLS to PostgreSQL: the test cluster is given a certificate from a throwaway CA, and the
//! store connects with `sslmode=verify-full&sslrootcert=CA`, encrypted and verified; a CA that
//! did not sign the server's certificate is refused. The cluster is put back as it was.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use postgres::{Client, NoTls};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use skylight_store::PostgresStore;
use skylight_store::testkit::TestDatabase;

/// A CA: its PEM and its issuer.
fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let pem = params.self_signed(&key).unwrap().pem();
    (pem, Issuer::new(params, key))
}

/// The server's TLS files in the cluster's data directory, owned like it; SSL on, reloaded.
struct ServerTls {
    admin: Client,
}

impl ServerTls {
    fn enable(admin_url: &str, issuer: &Issuer<'static, KeyPair>) -> ServerTls {
        let mut admin = Client::connect(admin_url, NoTls).unwrap();
        let dir: String = admin.query_one("SHOW data_directory", &[]).unwrap().get(0);
        let key = KeyPair::generate().unwrap();
        let mut leaf =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        let cert = leaf.signed_by(&key, issuer).unwrap();
        let owner = std::fs::metadata(&dir).unwrap();
        let put = |name: &str, body: &str| {
            let path = format!("{dir}/{name}");
            std::fs::write(&path, body).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).unwrap();
            path
        };
        let crt = put("skylight-test-server.crt", &cert.pem());
        let key = put("skylight-test-server.key", &key.serialize_pem());
        // One statement at a time: ALTER SYSTEM refuses to run in a batch's transaction.
        for sql in [
            format!("ALTER SYSTEM SET ssl_cert_file = '{crt}'"),
            format!("ALTER SYSTEM SET ssl_key_file = '{key}'"),
            "ALTER SYSTEM SET ssl = on".to_owned(),
            "SELECT pg_reload_conf()".to_owned(),
        ] {
            admin.simple_query(&sql).unwrap();
        }
        ServerTls { admin }
    }
}

impl Drop for ServerTls {
    fn drop(&mut self) {
        for sql in [
            "ALTER SYSTEM RESET ssl",
            "ALTER SYSTEM RESET ssl_cert_file",
            "ALTER SYSTEM RESET ssl_key_file",
            "SELECT pg_reload_conf()",
        ] {
            let _ = self.admin.simple_query(sql);
        }
    }
}

#[test]
fn the_store_connects_encrypted_and_verified_and_refuses_a_wrong_ca() {
    let db = TestDatabase::create();
    let admin_url = std::env::var("SKYLIGHT_TEST_DATABASE_URL").unwrap_or_default();
    if admin_url.is_empty() {
        // TestDatabase::create already says how to get a server; nothing more to prove here.
        return;
    }
    let (ca_pem, issuer) = ca("Skylight test CA");
    let (other_pem, _) = ca("Someone else's CA");
    let _server = ServerTls::enable(&admin_url, &issuer);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let other_file = dir.path().join("other.pem");
    std::fs::write(&other_file, &other_pem).unwrap();
    let with = |file: &std::path::Path| {
        format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            db.url,
            file.display()
        )
    };
    // The reload takes effect shortly after it is asked for.
    let mut store = None;
    for _ in 0..50 {
        match PostgresStore::open(&with(&ca_file)) {
            Ok(s) => {
                store = Some(s);
                break;
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
    let store = store.expect("a TLS connection with the right CA");
    assert_eq!(
        store.schema_version().unwrap(),
        PostgresStore::SCHEMA_VERSION
    );
    // The store's idle connection, seen from the server: encrypted.
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let mut admin = Client::connect(&admin_url, NoTls).unwrap();
    let (all, encrypted): (i64, i64) = {
        let r = admin
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
                 JOIN pg_stat_ssl s USING (pid) WHERE a.datname = $1",
                &[&name],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(
        all >= 1 && encrypted == all,
        "{encrypted} of {all} encrypted"
    );
    drop(store);

    // A CA that did not sign the server's certificate: refused, and the message says why.
    let err = PostgresStore::open(&with(&other_file))
        .unwrap_err()
        .to_string();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // Without sslmode the connection is not encrypted, as before TLS was supported.
    assert!(PostgresStore::open(&db.url).is_ok());
}
