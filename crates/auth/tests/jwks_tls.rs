#![allow(clippy::expect_used, clippy::unwrap_used)]

//! The JWKS client over TLS: an IAM stub served by the platform's server
//! with `GRPC_TLS_CERT` / `GRPC_TLS_KEY`, reached at an `https://`
//! `IAM_GRPC_URL` through the shared channel builder, trusting the
//! `GRPC_TLS_CA` made for the test (and refused without it).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use ecommerce_auth::{AuthError, AuthSettings, GrpcJwksSource, Jwk, KeySource};
use ecommerce_platform::grpc::GrpcServer;
use ecommerce_platform::settings::{EnvSource, GrpcSettings};
use ecommerce_platform::tls::ClientTlsSettings;
use ecommerce_proto::ecommerce::iam::v1::iam_service_server::IamServiceServer;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use uuid::Uuid;

use common::TestKey;
use common::iam_stub::Stub;

/// A CA and a server certificate for 127.0.0.1 it signed, as PEM files.
struct TestPki {
    _directory: TempDir,
    ca: PathBuf,
    server_certificate: PathBuf,
    server_key: PathBuf,
}

impl TestPki {
    fn generate() -> Self {
        let directory = tempfile::tempdir().unwrap();
        let write = |name: &str, contents: &str| {
            let path = directory.path().join(name);
            std::fs::write(&path, contents).unwrap();
            path
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "ecommerce test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let authority =
            CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let server_key = KeyPair::generate().unwrap();
        let mut server_params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        server_params
            .distinguished_name
            .push(DnType::CommonName, "iam-svc");
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_certificate = server_params.signed_by(&server_key, &authority).unwrap();
        Self {
            ca: write("ca.pem", &authority.pem()),
            server_certificate: write("iam.pem", &server_certificate.pem()),
            server_key: write("iam-key.pem", &server_key.serialize_pem()),
            _directory: directory,
        }
    }
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// IAM's JWKS served over TLS until the sender is dropped or fired.
async fn spawn_tls_iam(pki: &TestPki, keys: Vec<Jwk>) -> (SocketAddr, oneshot::Sender<()>) {
    let settings = GrpcSettings::from_source(
        &ecommerce_platform::services::IAM,
        &EnvSource::from_pairs([
            ("GRPC_TLS_CERT", text(&pki.server_certificate)),
            ("GRPC_TLS_KEY", text(&pki.server_key)),
        ]),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = GrpcServer::new(&ecommerce_platform::services::IAM, &settings).add_service(
        IamServiceServer::new(Stub {
            jwks: keys,
            ..Stub::default()
        }),
    );
    tokio::spawn(async move {
        server
            .serve_with_listener(listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (addr, stop)
}

#[tokio::test]
async fn jwks_over_https_trusting_grpc_tls_ca_verifies_tokens() {
    let pki = TestPki::generate();
    let key = TestKey::generate();
    let (addr, _stop) = spawn_tls_iam(&pki, vec![key.jwk()]).await;
    let url = format!("https://{addr}");

    // What a service does: AuthSettings from its environment.
    let settings = AuthSettings::from_source(&EnvSource::from_pairs([
        ("IAM_GRPC_URL", url.as_str()),
        ("GRPC_TLS_CA", text(&pki.ca)),
    ]))
    .unwrap();
    assert_eq!(settings.development_defaults(), []);
    let verifier = settings.verifier().unwrap();
    let user_id = Uuid::now_v7();
    let (token, _) = key
        .issuer()
        .issue(user_id, Uuid::now_v7(), &["admin"], Utc::now())
        .unwrap();
    let caller = tokio::time::timeout(Duration::from_secs(10), verifier.authenticate(&token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(caller.user_id, user_id);

    // The source on its own, over the shared builder.
    let source =
        GrpcJwksSource::with_tls(&url, &ClientTlsSettings::with_ca_file(&pki.ca).unwrap()).unwrap();
    assert_eq!(source.fetch_keys().await.unwrap(), vec![key.jwk()]);
}

#[tokio::test]
async fn jwks_over_https_without_the_ca_or_over_http_gets_no_keys() {
    let pki = TestPki::generate();
    let key = TestKey::generate();
    let (addr, _stop) = spawn_tls_iam(&pki, vec![key.jwk()]).await;

    // The webpki roots do not know the test CA.
    let untrusted = GrpcJwksSource::new(&format!("https://{addr}")).unwrap();
    let error = untrusted.fetch_keys().await.unwrap_err();
    assert!(error.to_string().contains("GetJwks"), "{error}");
    // Plaintext to a TLS server.
    let plaintext = GrpcJwksSource::with_tls(
        &format!("http://{addr}"),
        &ClientTlsSettings::with_ca_file(&pki.ca).unwrap(),
    )
    .unwrap();
    plaintext.fetch_keys().await.unwrap_err();

    // A verifier on such a source: keys unavailable, not a bad token.
    let settings = AuthSettings {
        iam_grpc_url: format!("https://{addr}"),
        ..AuthSettings::default()
    };
    let verifier = settings.verifier().unwrap();
    let token = common::token(&key, &[]);
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::KeysUnavailable)
    ));
}
