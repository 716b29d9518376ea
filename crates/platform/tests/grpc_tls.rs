//! TLS behind settings: a server given `GRPC_TLS_CERT` / `GRPC_TLS_KEY`
//! serves TLS, a client of the shared channel builder reaches it over
//! `https://` trusting `GRPC_TLS_CA` and nothing else, and a bad file stops
//! the start naming its variable and path. The certificates are made here,
//! for each test: a CA, a server certificate for 127.0.0.1 and localhost,
//! and a client certificate for mutual TLS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ecommerce_platform::grpc::{ChannelTimeouts, GrpcServer, lazy_channel};
use ecommerce_platform::settings::{EnvSource, GrpcSettings, ServiceInfo, SettingsError};
use ecommerce_platform::tls::{ClientTlsSettings, ServerTlsSettings};
use ecommerce_proto::ecommerce::orders::v1::order_service_server::OrderServiceServer;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::EmptyOrders;

const ORDERS: ServiceInfo = ServiceInfo {
    name: "orders-svc",
    env_prefix: "ORDERS",
    default_port: 50054,
};

const TIMEOUTS: ChannelTimeouts = ChannelTimeouts {
    connect: Duration::from_secs(3),
    request: Duration::from_secs(5),
};

/// PEM files written for one test: two unrelated CAs, a server certificate
/// and a client certificate signed by the first.
struct TestPki {
    _directory: TempDir,
    ca: PathBuf,
    other_ca: PathBuf,
    server_certificate: PathBuf,
    server_key: PathBuf,
    client_certificate: PathBuf,
    client_key: PathBuf,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(
        names
            .iter()
            .map(|name| (*name).to_owned())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.extended_key_usages = vec![usage];
    let certificate = params.signed_by(&key, issuer).unwrap();
    (certificate.pem(), key.serialize_pem())
}

impl TestPki {
    fn generate() -> Self {
        let directory = tempfile::tempdir().unwrap();
        let write = |name: &str, contents: &str| {
            let path = directory.path().join(name);
            std::fs::write(&path, contents).unwrap();
            path
        };
        let authority = ca("ecommerce test CA");
        let other_authority = ca("some other CA");
        let (server_pem, server_key_pem) = leaf(
            &authority,
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_pem, client_key_pem) = leaf(
            &authority,
            &["cart-svc"],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        Self {
            ca: write("ca.pem", &authority.pem()),
            other_ca: write("other-ca.pem", &other_authority.pem()),
            server_certificate: write("server.pem", &server_pem),
            server_key: write("server-key.pem", &server_key_pem),
            client_certificate: write("client.pem", &client_pem),
            client_key: write("client-key.pem", &client_key_pem),
            _directory: directory,
        }
    }
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The orders stub behind the platform's server, with `settings`' TLS.
struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningServer {
    async fn start(settings: GrpcSettings) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = GrpcServer::new(&ORDERS, &settings)
            .add_service(OrderServiceServer::new(EmptyOrders::default()));
        let task = tokio::spawn(async move {
            server
                .serve_with_listener(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

/// `grpc.health.v1.Health/Check` of the whole server at `url`.
async fn health_check(url: &str, tls: &ClientTlsSettings) -> Result<ServingStatus, tonic::Status> {
    let channel = lazy_channel(url, tls, TIMEOUTS).unwrap();
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?;
    Ok(response.into_inner().status())
}

fn tls_server_settings(pki: &TestPki, client_ca: Option<&Path>) -> GrpcSettings {
    let mut pairs = vec![
        ("GRPC_TLS_CERT", text(&pki.server_certificate)),
        ("GRPC_TLS_KEY", text(&pki.server_key)),
    ];
    if let Some(client_ca) = client_ca {
        pairs.push(("GRPC_TLS_CLIENT_CA", text(client_ca)));
    }
    let settings = GrpcSettings::from_source(&ORDERS, &EnvSource::from_pairs(pairs)).unwrap();
    assert!(settings.tls.is_some());
    settings
}

fn trusting(ca: &Path) -> ClientTlsSettings {
    ClientTlsSettings::from_source(&EnvSource::from_pairs([("GRPC_TLS_CA", text(ca))])).unwrap()
}

#[tokio::test]
async fn an_https_client_trusting_the_ca_reaches_a_tls_server() {
    let pki = TestPki::generate();
    let server = RunningServer::start(tls_server_settings(&pki, None)).await;
    let port = server.addr.port();

    for host in ["127.0.0.1", "localhost"] {
        let status = health_check(&format!("https://{host}:{port}"), &trusting(&pki.ca))
            .await
            .unwrap();
        assert_eq!(status, ServingStatus::Serving, "{host}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_client_not_trusting_the_servers_ca_is_refused() {
    let pki = TestPki::generate();
    let server = RunningServer::start(tls_server_settings(&pki, None)).await;
    let url = format!("https://127.0.0.1:{}", server.addr.port());

    // Without GRPC_TLS_CA: the webpki roots, which do not know the test CA.
    let error = health_check(&url, &ClientTlsSettings::default())
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unavailable, "{error:?}");
    // With another CA.
    let error = health_check(&url, &trusting(&pki.other_ca))
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unavailable, "{error:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_plaintext_client_cannot_call_a_tls_server() {
    let pki = TestPki::generate();
    let server = RunningServer::start(tls_server_settings(&pki, None)).await;
    let url = format!("http://127.0.0.1:{}", server.addr.port());

    let error = health_check(&url, &trusting(&pki.ca)).await.unwrap_err();
    assert_ne!(error.code(), tonic::Code::Ok, "{error:?}");
    server.stop().await;
}

#[tokio::test]
async fn without_tls_variables_the_server_stays_plaintext() {
    let settings = GrpcSettings::from_source(&ORDERS, &EnvSource::from_pairs([])).unwrap();
    assert_eq!(settings.tls, None);
    let server = RunningServer::start(settings).await;
    let port = server.addr.port();

    let plaintext = health_check(
        &format!("http://127.0.0.1:{port}"),
        &ClientTlsSettings::default(),
    )
    .await
    .unwrap();
    assert_eq!(plaintext, ServingStatus::Serving);
    // An https client does not fall back to plaintext.
    let pki = TestPki::generate();
    let error = health_check(&format!("https://127.0.0.1:{port}"), &trusting(&pki.ca))
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::Unavailable, "{error:?}");
    server.stop().await;
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_signed_by_the_client_ca() {
    let pki = TestPki::generate();
    let settings = tls_server_settings(&pki, Some(&pki.ca));
    assert!(settings.tls.as_ref().unwrap().is_mutual());
    let server = RunningServer::start(settings).await;
    let url = format!("https://127.0.0.1:{}", server.addr.port());

    let with_certificate = ClientTlsSettings::from_source(&EnvSource::from_pairs([
        ("GRPC_TLS_CA", text(&pki.ca)),
        ("GRPC_TLS_CLIENT_CERT", text(&pki.client_certificate)),
        ("GRPC_TLS_CLIENT_KEY", text(&pki.client_key)),
    ]))
    .unwrap();
    assert_eq!(
        health_check(&url, &with_certificate).await.unwrap(),
        ServingStatus::Serving
    );
    let error = health_check(&url, &trusting(&pki.ca)).await.unwrap_err();
    assert_ne!(error.code(), tonic::Code::Ok, "{error:?}");
    server.stop().await;
}

fn invalid_variable(error: &SettingsError) -> (&str, &str) {
    match error {
        SettingsError::Invalid {
            variable, value, ..
        } => (variable, value),
        SettingsError::NotUnicode { variable } => (variable, ""),
    }
}

#[test]
fn an_invalid_certificate_path_is_a_settings_error_naming_the_variable_and_the_path() {
    let pki = TestPki::generate();
    let missing = pki.ca.with_file_name("missing.pem");
    let source = EnvSource::from_pairs([
        ("GRPC_TLS_CERT", text(&missing)),
        ("GRPC_TLS_KEY", text(&pki.server_key)),
    ]);
    let error = GrpcSettings::from_source(&ORDERS, &source).unwrap_err();
    assert_eq!(invalid_variable(&error), ("GRPC_TLS_CERT", text(&missing)));
    let message = error.to_string();
    assert!(message.contains("GRPC_TLS_CERT"), "{message}");
    assert!(message.contains(text(&missing)), "{message}");
}

/// The variables set, then the variable and the value the error names.
type SettingsCase<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

#[test]
fn invalid_tls_files_are_settings_errors_naming_the_variable() {
    let pki = TestPki::generate();
    let cases: Vec<SettingsCase> = vec![
        // A key where the certificate belongs.
        (
            vec![
                ("GRPC_TLS_CERT", text(&pki.server_key)),
                ("GRPC_TLS_KEY", text(&pki.server_key)),
            ],
            "GRPC_TLS_CERT",
            text(&pki.server_key),
        ),
        // A certificate where the key belongs.
        (
            vec![
                ("GRPC_TLS_CERT", text(&pki.server_certificate)),
                ("GRPC_TLS_KEY", text(&pki.server_certificate)),
            ],
            "GRPC_TLS_KEY",
            text(&pki.server_certificate),
        ),
        // A key of another certificate.
        (
            vec![
                ("GRPC_TLS_CERT", text(&pki.server_certificate)),
                ("GRPC_TLS_KEY", text(&pki.client_key)),
            ],
            "GRPC_TLS_KEY",
            text(&pki.client_key),
        ),
        // A certificate without its key.
        (
            vec![("GRPC_TLS_CERT", text(&pki.server_certificate))],
            "GRPC_TLS_KEY",
            "",
        ),
        // A client CA for a plaintext server.
        (
            vec![("GRPC_TLS_CLIENT_CA", text(&pki.ca))],
            "GRPC_TLS_CLIENT_CA",
            text(&pki.ca),
        ),
        // A key where the client CA belongs.
        (
            vec![
                ("GRPC_TLS_CERT", text(&pki.server_certificate)),
                ("GRPC_TLS_KEY", text(&pki.server_key)),
                ("GRPC_TLS_CLIENT_CA", text(&pki.client_key)),
            ],
            "GRPC_TLS_CLIENT_CA",
            text(&pki.client_key),
        ),
    ];
    for (pairs, variable, path) in cases {
        let error =
            GrpcSettings::from_source(&ORDERS, &EnvSource::from_pairs(pairs.clone())).unwrap_err();
        assert_eq!(
            invalid_variable(&error),
            (variable, path),
            "{pairs:?}: {error}"
        );
        assert!(error.to_string().contains(variable), "{error}");
    }

    let client_cases: Vec<SettingsCase> = vec![
        (
            vec![("GRPC_TLS_CA", text(&pki.client_key))],
            "GRPC_TLS_CA",
            text(&pki.client_key),
        ),
        (
            vec![
                ("GRPC_TLS_CLIENT_CERT", text(&pki.client_certificate)),
                ("GRPC_TLS_CLIENT_KEY", text(&pki.server_key)),
            ],
            "GRPC_TLS_CLIENT_KEY",
            text(&pki.server_key),
        ),
        (
            vec![("GRPC_TLS_CLIENT_KEY", text(&pki.client_key))],
            "GRPC_TLS_CLIENT_CERT",
            "",
        ),
    ];
    for (pairs, variable, path) in client_cases {
        let error =
            ClientTlsSettings::from_source(&EnvSource::from_pairs(pairs.clone())).unwrap_err();
        assert_eq!(
            invalid_variable(&error),
            (variable, path),
            "{pairs:?}: {error}"
        );
    }
}

#[test]
fn settings_built_from_paths_match_those_read_from_the_variables() {
    let pki = TestPki::generate();
    let from_paths =
        ServerTlsSettings::from_paths(&pki.server_certificate, &pki.server_key, Some(&pki.ca))
            .unwrap();
    let from_variables = tls_server_settings(&pki, Some(&pki.ca)).tls.unwrap();
    assert_eq!(from_paths, from_variables);
    // Debug names the files, never the key inside.
    let printed = format!("{from_paths:?}");
    assert!(printed.contains("GRPC_TLS_KEY"), "{printed}");
    assert!(!printed.contains("PRIVATE KEY"), "{printed}");
    assert_eq!(
        ClientTlsSettings::with_ca_file(&pki.ca).unwrap(),
        trusting(&pki.ca)
    );
}
