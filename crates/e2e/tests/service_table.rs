//! `scripts/lib.sh` and `docker-compose.yml` cannot import the one service
//! table (`ecommerce_platform::services`), so this reads them and checks
//! every name, env prefix and port against it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use ecommerce_platform::services;

fn repo_file(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).expect(path)
}

/// The `name) echo value ;;` arms of the shell function `function`.
fn case_arms(script: &str, function: &str) -> BTreeMap<String, String> {
    let body = script
        .split(&format!("\n{function}() {{\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("scripts/lib.sh has no {function}()"));
    let body = &body[..body.find("\n}\n").expect("the function ends")];
    body.lines()
        .filter_map(|line| {
            let (name, rest) = line.trim().split_once(") echo ")?;
            Some((name.to_owned(), rest.trim_end_matches(" ;;").to_owned()))
        })
        .collect()
}

#[test]
fn scripts_lib_sh_agrees_with_the_table() {
    let script = repo_file("scripts/lib.sh");
    let expected = |value: fn(&ecommerce_platform::ServiceInfo) -> String| {
        services::ALL
            .iter()
            .map(|service| (service.name.to_owned(), value(service)))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        case_arms(&script, "svc_prefix"),
        expected(|service| service.env_prefix.to_owned())
    );
    assert_eq!(
        case_arms(&script, "svc_port"),
        expected(|service| service.default_port.to_string())
    );
    let names: Vec<&str> = services::ALL.iter().map(|service| service.name).collect();
    assert!(
        script.contains(&format!("ALL_SERVICES=({})", names.join(" "))),
        "ALL_SERVICES lists the table's services in its start order: {names:?}"
    );
}

/// The default metrics port of a service on `port`.
fn metrics_port(port: u16) -> u16 {
    port - ecommerce_platform::metrics::METRICS_PORT_OFFSET
}

#[test]
fn prometheus_scrapes_every_service_of_the_table_and_nothing_else() {
    let config = repo_file("deploy/prometheus.yml");
    let targets: Vec<&str> = config
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- "))
        .filter(|target| {
            target
                .rsplit_once(':')
                .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
        })
        .collect();
    let expected: Vec<String> = services::ALL
        .iter()
        .map(|service| format!("{}:{}", service.name, metrics_port(service.default_port)))
        .collect();
    let mut sorted_targets: Vec<String> =
        targets.iter().map(|target| (*target).to_owned()).collect();
    sorted_targets.sort();
    let mut sorted_expected = expected.clone();
    sorted_expected.sort();
    assert_eq!(sorted_targets, sorted_expected);
}

#[test]
fn docker_compose_agrees_with_the_table() {
    let compose = repo_file("docker-compose.yml");
    for service in services::ALL {
        let (name, prefix, port) = (service.name, service.env_prefix, service.default_port);
        for line in [
            format!("args: {{ SERVICE: {name}, PORT: \"{port}\" }}"),
            format!("{prefix}_GRPC_ADDR: 0.0.0.0:{port}"),
            format!("{prefix}_METRICS_ADDR: 0.0.0.0:{}", metrics_port(port)),
            format!("ports: [\"${{{prefix}_PORT:-{port}}}:{port}\"]"),
        ] {
            assert!(compose.contains(&line), "docker-compose.yml lacks `{line}`");
        }
        // Every URL another service dials it by names the same port.
        let url = format!("http://{name}:");
        for (at, _) in compose.match_indices(&url) {
            let dialed: String = compose[at + url.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            assert_eq!(
                dialed,
                port.to_string(),
                "{url}{dialed} in docker-compose.yml"
            );
        }
    }
    let built = compose.matches("args: { SERVICE: ").count();
    assert_eq!(
        built,
        services::ALL.len(),
        "compose builds exactly the table's services"
    );
}
