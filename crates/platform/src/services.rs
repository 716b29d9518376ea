//! The one table of the services: name, env prefix and default port.
//!
//! Each service's `SERVICE` constant is its row here; the e2e stack reads
//! the table; `scripts/lib.sh` and `docker-compose.yml` cannot import Rust,
//! so `crates/e2e/tests/service_table.rs` checks them against it.

use crate::settings::ServiceInfo;

pub const SCHEMA_REGISTRY: ServiceInfo = ServiceInfo {
    name: "schema-registry",
    env_prefix: "SCHEMA_REGISTRY",
    default_port: 50058,
};

pub const CATALOG: ServiceInfo = ServiceInfo {
    name: "catalog-svc",
    env_prefix: "CATALOG",
    default_port: 50051,
};

pub const IAM: ServiceInfo = ServiceInfo {
    name: "iam-svc",
    env_prefix: "IAM",
    default_port: 50052,
};

pub const INVENTORY: ServiceInfo = ServiceInfo {
    name: "inventory-svc",
    env_prefix: "INVENTORY",
    default_port: 50053,
};

pub const ORDERS: ServiceInfo = ServiceInfo {
    name: "orders-svc",
    env_prefix: "ORDERS",
    default_port: 50054,
};

pub const PAYMENTS: ServiceInfo = ServiceInfo {
    name: "payments-svc",
    env_prefix: "PAYMENTS",
    default_port: 50055,
};

pub const CART: ServiceInfo = ServiceInfo {
    name: "cart-svc",
    env_prefix: "CART",
    default_port: 50056,
};

pub const FULFILLMENT: ServiceInfo = ServiceInfo {
    name: "fulfillment-svc",
    env_prefix: "FULFILLMENT",
    default_port: 50057,
};

pub const NOTIFICATIONS: ServiceInfo = ServiceInfo {
    name: "notifications-svc",
    env_prefix: "NOTIFICATIONS",
    default_port: 50059,
};

pub const REPORTING: ServiceInfo = ServiceInfo {
    name: "reporting-svc",
    env_prefix: "REPORTING",
    default_port: 50060,
};

/// Every service, in start order: the schema registry first (the others
/// register their event schemas with it at start-up).
pub const ALL: [ServiceInfo; 10] = [
    SCHEMA_REGISTRY,
    CATALOG,
    IAM,
    INVENTORY,
    ORDERS,
    PAYMENTS,
    CART,
    FULFILLMENT,
    NOTIFICATIONS,
    REPORTING,
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_prefixes_and_ports_are_unique() {
        let names: HashSet<_> = ALL.iter().map(|service| service.name).collect();
        let prefixes: HashSet<_> = ALL.iter().map(|service| service.env_prefix).collect();
        let ports: HashSet<_> = ALL.iter().map(|service| service.default_port).collect();
        assert_eq!((names.len(), prefixes.len(), ports.len()), (10, 10, 10));
    }
}
