//! `broker-permissions [SERVICE...]`: the RabbitMQ permissions of each
//! service's own broker user, one tab-separated line per service:
//! `<service> <configure> <write> <read>`, ready for
//! `rabbitmqctl set_permissions -p <vhost> <user> <configure> <write> <read>`.
//! Names come from the same variables the services read (`AMQP_TOPOLOGY_PREFIX`,
//! the exchange and queue overrides). Every service when none is named.

use std::process::ExitCode;

use ecommerce_broker::BrokerSettings;
use ecommerce_broker::permissions::BrokerPermissions;
use ecommerce_platform::services;

fn main() -> ExitCode {
    let settings = match BrokerSettings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("broker-permissions: {error}");
            return ExitCode::from(2);
        }
    };
    let known: Vec<&str> = services::ALL.iter().map(|service| service.name).collect();
    let mut requested: Vec<String> = std::env::args().skip(1).collect();
    if requested.is_empty() {
        requested = known.iter().map(|name| (*name).to_owned()).collect();
    }
    if let Some(unknown) = requested
        .iter()
        .find(|name| !known.contains(&name.as_str()))
    {
        eprintln!(
            "broker-permissions: unknown service `{unknown}` (known: {})",
            known.join(", ")
        );
        return ExitCode::from(2);
    }
    let topology = settings.topology();
    for service in requested {
        let permissions = BrokerPermissions::for_service(&service, &settings.names, &topology);
        println!(
            "{service}\t{}\t{}\t{}",
            permissions.configure, permissions.write, permissions.read
        );
    }
    ExitCode::SUCCESS
}
