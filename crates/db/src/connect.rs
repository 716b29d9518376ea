//! A service's connection to its own schema.
//!
//! Each service touches only its schema (DESIGN: one schema per service, so
//! a service can move to a database of its own without code changes). The
//! pool's `search_path` is that schema, so SeaORM entities and migrations
//! need no schema name, and a test can run a service against a fresh schema
//! of its own just by configuring it.

use std::time::Duration;

use ecommerce_platform::run_mode::DevelopmentDefault;
use ecommerce_platform::settings::{EnvSource, ServiceInfo, SettingsError};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use secrecy::{ExposeSecret as _, SecretString};

use crate::ddl::schema_ddl;
use crate::table_name::validate_schema_name;

/// The shared fallback for every service's database URL.
pub const DATABASE_URL_VAR: &str = "DATABASE_URL";
/// The user name in `url`, and whether it carries a password (in its
/// user info or as a `password=` query parameter). Never returns the
/// password.
fn url_credentials(url: &str) -> (Option<String>, bool) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (authority, query) = match rest.split_once('/') {
        Some((authority, path)) => (authority, path.split_once('?').map(|(_, query)| query)),
        None => (rest, None),
    };
    let in_query = query.is_some_and(|query| {
        query.split('&').any(|pair| {
            pair.strip_prefix("password=")
                .is_some_and(|value| !value.is_empty())
        })
    });
    let Some((user_info, _host)) = authority.rsplit_once('@') else {
        return (None, in_query);
    };
    match user_info.split_once(':') {
        Some((user, password)) => (Some(user.to_owned()), !password.is_empty() || in_query),
        None => (Some(user_info.to_owned()), in_query),
    }
}

/// The host in `url` (empty for a Unix socket URL such as
/// `postgres:///db?host=/run/postgresql`) and its `sslmode`, if any.
fn url_host_and_sslmode(url: &str) -> (String, Option<String>) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (authority, query) = match rest.split_once('/') {
        Some((authority, path)) => (authority, path.split_once('?').map(|(_, query)| query)),
        None => match rest.split_once('?') {
            Some((authority, query)) => (authority, Some(query)),
            None => (rest, None),
        },
    };
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed
            .split_once(']')
            .map_or(bracketed, |(host, _)| host)
    } else {
        host_port
            .split_once(':')
            .map_or(host_port, |(host, _)| host)
    };
    let sslmode = query.and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("sslmode="))
            .map(str::to_owned)
    });
    (host.to_owned(), sslmode)
}

/// Whether `host` is this machine (or a Unix socket): no network to protect.
fn is_local_host(host: &str) -> bool {
    host.is_empty() || host == "localhost" || host.starts_with("127.") || host == "::1"
}

/// The local development database. TLS is off on purpose: on loopback it
/// only costs CPU (Postgres' default `prefer` would negotiate it on every
/// connection); a remote database takes `sslmode=verify-full`.
pub const DEFAULT_DATABASE_URL: &str =
    "postgres://postgres@127.0.0.1:5432/ecommerce?sslmode=disable";

/// Each service's pool size unless `<PREFIX>_DB_MAX_CONNECTIONS` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// Where and how a service connects.
#[derive(Clone, Debug)]
pub struct DatabaseSettings {
    /// `<PREFIX>_DATABASE_URL`, else `DATABASE_URL`, else the local default.
    /// A secret: it may carry a password.
    pub url: SecretString,
    /// `<PREFIX>_DB_SCHEMA`: the schema the service owns.
    pub schema: String,
    /// `<PREFIX>_DB_MAX_CONNECTIONS`, default 10.
    pub max_connections: u32,
    /// `<PREFIX>_DB_ACQUIRE_TIMEOUT_MS`, default 10 000: how long a request
    /// waits for a pooled connection before it fails (UNAVAILABLE).
    pub acquire_timeout: Duration,
}

impl DatabaseSettings {
    /// The development defaults in these settings: a connection without a
    /// password (the local trust authentication), as the `postgres`
    /// superuser (which may drop every service's schema), or to another
    /// host without verifying its certificate (`sslmode` other than
    /// `verify-full` / `verify-ca`). `service`'s own variable and the shared
    /// one are both named.
    pub fn development_defaults(&self, service: &ServiceInfo) -> Vec<DevelopmentDefault> {
        let variable = format!("{} or {DATABASE_URL_VAR}", service.variable("DATABASE_URL"));
        let (user, has_password) = url_credentials(self.url.expose_secret());
        let has_password = has_password || std::env::var_os("PGPASSWORD").is_some();
        let mut defaults = Vec::new();
        if !has_password {
            defaults.push(DevelopmentDefault::new(
                variable.clone(),
                "connects to Postgres without a password",
            ));
        }
        if user.as_deref().is_none_or(|user| user == "postgres") {
            defaults.push(DevelopmentDefault::new(
                variable.clone(),
                "connects as the postgres superuser; give the service a role of its own",
            ));
        }
        let (host, sslmode) = url_host_and_sslmode(self.url.expose_secret());
        let verified = matches!(sslmode.as_deref(), Some("verify-full" | "verify-ca"));
        if !is_local_host(&host) && !verified {
            defaults.push(DevelopmentDefault::new(
                variable,
                "connects to a remote Postgres without verifying its certificate; add sslmode=verify-full",
            ));
        }
        defaults
    }

    /// Reads the settings of `service`, whose schema defaults to `default_schema`.
    pub fn from_env(service: &ServiceInfo, default_schema: &str) -> Result<Self, SettingsError> {
        Self::from_source(service, default_schema, &EnvSource::process())
    }

    pub fn from_source(
        service: &ServiceInfo,
        default_schema: &str,
        source: &EnvSource,
    ) -> Result<Self, SettingsError> {
        let url_var = service.variable("DATABASE_URL");
        let url = match source.string(&url_var)? {
            Some(url) => url,
            None => source
                .string(DATABASE_URL_VAR)?
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
        };
        let schema_var = service.variable("DB_SCHEMA");
        let schema = source
            .string(&schema_var)?
            .unwrap_or_else(|| default_schema.to_owned());
        validate_schema_name(&schema).map_err(|error| SettingsError::Invalid {
            variable: schema_var.clone(),
            value: schema.clone(),
            reason: error.to_string(),
        })?;
        let max_connections_var = service.variable("DB_MAX_CONNECTIONS");
        let max_connections: u32 = source.or(&max_connections_var, DEFAULT_MAX_CONNECTIONS)?;
        if max_connections == 0 {
            return Err(SettingsError::Invalid {
                variable: max_connections_var,
                value: "0".to_owned(),
                reason: "must be at least 1".to_owned(),
            });
        }
        let acquire_timeout =
            Duration::from_millis(source.or(&service.variable("DB_ACQUIRE_TIMEOUT_MS"), 10_000)?);
        Ok(Self {
            url: SecretString::from(url),
            schema,
            max_connections,
            acquire_timeout,
        })
    }
}

/// Creates the service's schema if missing, then opens a pool whose
/// connections use it as their `search_path`.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let bootstrap = Database::connect(options(settings, 1, None)).await?;
    let created = bootstrap
        .execute_unprepared(&schema_ddl(&settings.schema, ""))
        .await;
    bootstrap.close().await?;
    created?;
    Database::connect(options(
        settings,
        settings.max_connections,
        Some(&settings.schema),
    ))
    .await
}

/// Another pool of at most `max_connections` on the service's schema (which
/// [`connect`] created), for a part that must not wait behind the service's
/// handlers for a connection nor hold one of theirs: the outbox relay.
pub async fn connect_pool(
    settings: &DatabaseSettings,
    max_connections: u32,
) -> Result<DatabaseConnection, DbErr> {
    Database::connect(options(settings, max_connections, Some(&settings.schema))).await
}

/// Connects (see [`connect`]) and brings the schema up to date with `M`,
/// whose bookkeeping table lives in the service's schema too.
pub async fn connect_and_migrate<M: MigratorTrait>(
    settings: &DatabaseSettings,
) -> Result<DatabaseConnection, DbErr> {
    let db = connect(settings).await?;
    M::up(&db, None).await?;
    Ok(db)
}

fn options(
    settings: &DatabaseSettings,
    max_connections: u32,
    schema: Option<&str>,
) -> ConnectOptions {
    let mut options = ConnectOptions::new(settings.url.expose_secret().to_owned());
    options
        .max_connections(max_connections)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(settings.acquire_timeout)
        // Ping only connections idle for a while (a restart or a network
        // timeout may have killed those), not every checkout: on the saga's
        // short transactions the ping was one round trip in five.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        // Statements are traced by the services' own spans; sqlx's per-query
        // INFO lines would drown them.
        .sqlx_logging(false);
    if let Some(schema) = schema {
        options.set_schema_search_path(schema.to_owned());
    }
    options
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn urls_name_their_host_and_sslmode() {
        for (url, host, sslmode) in [
            (DEFAULT_DATABASE_URL, "127.0.0.1", Some("disable")),
            (
                "postgres://o:p@db.internal:5432/e?sslmode=verify-full",
                "db.internal",
                Some("verify-full"),
            ),
            ("postgres://o@[::1]:5432/e", "::1", None),
            ("postgres:///e?host=/run/postgresql", "", None),
            (
                "postgres://db?application_name=x&sslmode=require",
                "db",
                Some("require"),
            ),
        ] {
            let (found_host, found_sslmode) = url_host_and_sslmode(url);
            assert_eq!(
                (found_host.as_str(), found_sslmode.as_deref()),
                (host, sslmode),
                "{url}"
            );
        }
    }

    #[test]
    fn a_remote_database_must_be_verified() {
        let service = ServiceInfo {
            name: "orders-svc",
            env_prefix: "ORDERS",
            default_port: 50054,
        };
        let reasons = |url: &str| -> Vec<&'static str> {
            let settings = DatabaseSettings {
                url: SecretString::from(url.to_owned()),
                schema: "orders".to_owned(),
                max_connections: 1,
                acquire_timeout: Duration::from_secs(1),
            };
            settings
                .development_defaults(&service)
                .iter()
                .map(|default| default.reason)
                .collect()
        };
        let unverified = "remote Postgres without verifying";
        for url in [
            "postgres://orders:p@db.internal/e",
            "postgres://orders:p@db.internal/e?sslmode=require",
            "postgres://orders:p@10.0.0.5/e?sslmode=prefer",
        ] {
            assert!(
                reasons(url)
                    .iter()
                    .any(|reason| reason.contains(unverified)),
                "{url}"
            );
        }
        for url in [
            "postgres://orders:p@db.internal/e?sslmode=verify-full",
            "postgres://orders:p@db.internal/e?sslmode=verify-ca",
            "postgres://orders:p@127.0.0.1/e?sslmode=disable",
            "postgres://orders:p@localhost/e",
        ] {
            assert!(reasons(url).is_empty(), "{url}: {:?}", reasons(url));
        }
    }

    #[test]
    fn urls_name_their_user_and_whether_a_password_is_given() {
        assert_eq!(
            url_credentials("postgres://postgres@127.0.0.1:5432/ecommerce"),
            (Some("postgres".to_owned()), false)
        );
        assert_eq!(
            url_credentials("postgres://orders:s3cret@db:5432/ecommerce"),
            (Some("orders".to_owned()), true)
        );
        assert_eq!(
            url_credentials("postgres://orders:@db/ecommerce"),
            (Some("orders".to_owned()), false)
        );
        assert_eq!(
            url_credentials("postgres://orders@db/ecommerce?sslmode=require&password=x"),
            (Some("orders".to_owned()), true)
        );
        assert_eq!(url_credentials("postgres://db/ecommerce"), (None, false));
        // A password containing '@' is split at the last one.
        assert_eq!(
            url_credentials("postgres://orders:p@ss@db/ecommerce"),
            (Some("orders".to_owned()), true)
        );
    }

    const SERVICE: ServiceInfo = ServiceInfo {
        name: "catalog-svc",
        env_prefix: "CATALOG",
        default_port: 50051,
    };

    #[test]
    fn the_service_url_wins_over_the_shared_one_and_the_schema_has_a_default() {
        let source = EnvSource::from_pairs([
            ("DATABASE_URL", "postgres://shared/ecommerce"),
            ("CATALOG_DATABASE_URL", "postgres://own/catalog"),
        ]);
        let settings = DatabaseSettings::from_source(&SERVICE, "catalog", &source).unwrap();
        assert_eq!(settings.url.expose_secret(), "postgres://own/catalog");
        assert_eq!(settings.schema, "catalog");
        assert_eq!(settings.max_connections, 10);

        let shared = EnvSource::from_pairs([("DATABASE_URL", "postgres://shared/ecommerce")]);
        let settings = DatabaseSettings::from_source(&SERVICE, "catalog", &shared).unwrap();
        assert_eq!(settings.url.expose_secret(), "postgres://shared/ecommerce");

        let none = EnvSource::from_pairs([]);
        let settings = DatabaseSettings::from_source(&SERVICE, "catalog", &none).unwrap();
        assert_eq!(settings.url.expose_secret(), DEFAULT_DATABASE_URL);
    }

    #[test]
    fn a_schema_that_could_break_the_sql_is_refused_naming_the_variable() {
        let source = EnvSource::from_pairs([("CATALOG_DB_SCHEMA", "catalog; drop")]);
        let error = DatabaseSettings::from_source(&SERVICE, "catalog", &source).unwrap_err();
        assert!(error.to_string().contains("CATALOG_DB_SCHEMA"), "{error}");
        let zero = EnvSource::from_pairs([("CATALOG_DB_MAX_CONNECTIONS", "0")]);
        let error = DatabaseSettings::from_source(&SERVICE, "catalog", &zero).unwrap_err();
        assert!(
            error.to_string().contains("CATALOG_DB_MAX_CONNECTIONS"),
            "{error}"
        );
    }

    #[test]
    fn the_url_is_never_printed() {
        let source =
            EnvSource::from_pairs([("DATABASE_URL", "postgres://user:hunter2@db/ecommerce")]);
        let settings = DatabaseSettings::from_source(&SERVICE, "catalog", &source).unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
