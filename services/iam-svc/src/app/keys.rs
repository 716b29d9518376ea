//! The keys that sign access tokens: stored in the service's schema, created
//! on first start, shared by every replica.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use ecommerce_auth::{AccessTokenIssuer, AuthSettings, Jwk, SigningKey, StaticKeySource};
use ecommerce_db::{StoreError, transaction};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use secrecy::ExposeSecret as _;

use super::IamError;
use crate::storage::keys;

/// The signing key in use and every key published for verification.
#[derive(Debug)]
pub struct KeyRing {
    issuer: AccessTokenIssuer,
    published: Vec<Jwk>,
}

impl KeyRing {
    /// Loads the active keys, creating the first one if there is none. Runs
    /// under a transaction-scoped advisory lock so replicas starting together
    /// create one key, not one each.
    ///
    /// The private key is stored as PKCS#8 PEM in the service's own schema,
    /// readable by whoever can read that schema: acceptable for this
    /// reference deployment, where the database is the trust boundary; a
    /// hardened deployment would keep it in a KMS and store a key reference.
    pub async fn load_or_create(
        db: &DatabaseConnection,
        settings: &AuthSettings,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Self> {
        let rows = transaction!(IamError, "load_signing_keys", db.begin(), |tx| {
            tx.execute_raw(Statement::from_string(
                tx.get_database_backend(),
                "SELECT pg_advisory_xact_lock(hashtext('iam-svc.signing_keys'))",
            ))
            .await
            .map_err(StoreError::from)?;
            let rows = keys::active(tx).await?;
            if !rows.is_empty() {
                return Ok(rows);
            }
            let key = SigningKey::generate()
                .context("could not generate a signing key")
                .map_err(IamError::Internal)?;
            let pem = key
                .to_pkcs8_pem()
                .context("could not encode the signing key")
                .map_err(IamError::Internal)?;
            keys::insert_if_absent(tx, key.kid(), pem.expose_secret(), now).await?;
            tracing::info!(kid = key.kid(), "created the access token signing key");
            Ok(keys::active(tx).await?)
        })
        .context("could not load the signing keys")?;
        let mut signing_keys = rows
            .iter()
            .map(|row| {
                SigningKey::from_pkcs8_pem(&row.private_key_pem)
                    .with_context(|| format!("stored signing key {} is unreadable", row.kid))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let published = signing_keys.iter().map(SigningKey::public_jwk).collect();
        // Newest first: the first one signs.
        let newest = signing_keys.remove(0);
        let issuer = AccessTokenIssuer::new(newest, &settings.issuer, &settings.audience)?
            .with_ttl(settings.access_token_ttl)?;
        Ok(Self { issuer, published })
    }

    pub fn issuer(&self) -> &AccessTokenIssuer {
        &self.issuer
    }

    /// What GetJwks answers.
    pub fn published(&self) -> &[Jwk] {
        &self.published
    }

    /// A key source for iam-svc's own auth layer: it verifies with the keys
    /// it holds instead of calling itself.
    pub fn key_source(&self) -> Arc<StaticKeySource> {
        Arc::new(StaticKeySource::new(self.published.clone()))
    }
}
