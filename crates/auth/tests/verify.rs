#![allow(clippy::expect_used, clippy::unwrap_used)]

//! Issuing and verifying access tokens, with keys from a `StaticKeySource`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{TimeDelta, Utc};
use ecommerce_auth::{AccessTokenVerifier, AuthError, Jwk, StaticKeySource, VerifierConfig};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use uuid::Uuid;

use common::{AUDIENCE, ISSUER, TestKey, claims, token, verifier};

fn source_with(keys: &[&TestKey]) -> Arc<StaticKeySource> {
    Arc::new(StaticKeySource::new(
        keys.iter().map(|key| key.jwk()).collect(),
    ))
}

#[tokio::test]
async fn an_issued_token_verifies_and_names_the_caller_and_roles() {
    let key = TestKey::generate();
    let verifier = verifier(&source_with(&[&key]));
    let user_id = Uuid::now_v7();
    let session_id = Uuid::now_v7();
    let now = Utc::now();
    let (token, expires_at) = key
        .issuer()
        .issue(user_id, session_id, &["admin", "support"], now)
        .unwrap();

    let claims = verifier.verify(&token).await.unwrap();
    assert_eq!(claims.sub, user_id);
    assert_eq!(claims.sid, session_id);
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.aud, AUDIENCE);
    assert_eq!(claims.roles, ["admin", "support"]);

    let caller = verifier.authenticate(&token).await.unwrap();
    assert_eq!(caller.user_id, user_id);
    assert_eq!(caller.session_id, session_id);
    assert_eq!(caller.roles, ["admin", "support"]);
    assert_eq!(caller.token_id, claims.jti);
    assert_eq!(caller.expires_at, expires_at);
    assert!(caller.is_admin());
}

#[tokio::test]
async fn expired_tokens_are_refused_after_the_leeway() {
    let key = TestKey::generate();
    let verifier = verifier(&source_with(&[&key]));
    let issued = Utc::now() - TimeDelta::minutes(20);
    let (token, expires_at) = key
        .issuer()
        .issue(Uuid::now_v7(), Uuid::now_v7(), &["admin"], issued)
        .unwrap();
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::Expired)
    ));
    // 30 s of leeway by default, to the second.
    verifier
        .verify_at(&token, expires_at + TimeDelta::seconds(30))
        .await
        .unwrap();
    assert!(matches!(
        verifier
            .verify_at(&token, expires_at + TimeDelta::seconds(31))
            .await,
        Err(AuthError::Expired)
    ));
}

#[tokio::test]
async fn the_leeway_is_configurable() {
    let key = TestKey::generate();
    let config = VerifierConfig {
        leeway: Duration::ZERO,
        ..VerifierConfig::new(ISSUER, AUDIENCE)
    };
    let verifier = AccessTokenVerifier::new(source_with(&[&key]), config);
    let (token, expires_at) = key
        .issuer()
        .issue(Uuid::now_v7(), Uuid::now_v7(), &["admin"], Utc::now())
        .unwrap();
    verifier.verify_at(&token, expires_at).await.unwrap();
    assert!(matches!(
        verifier
            .verify_at(&token, expires_at + TimeDelta::seconds(1))
            .await,
        Err(AuthError::Expired)
    ));
}

#[tokio::test]
async fn tokens_from_the_future_are_not_valid_yet() {
    let key = TestKey::generate();
    let verifier = verifier(&source_with(&[&key]));
    let issued = Utc::now() + TimeDelta::minutes(5);
    let (token, _) = key
        .issuer()
        .issue(Uuid::now_v7(), Uuid::now_v7(), &["admin"], issued)
        .unwrap();
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::NotYetValid)
    ));
    verifier
        .verify_at(&token, issued - TimeDelta::seconds(30))
        .await
        .unwrap();
    assert!(matches!(
        verifier
            .verify_at(&token, issued - TimeDelta::seconds(31))
            .await,
        Err(AuthError::NotYetValid)
    ));
}

#[tokio::test]
async fn another_issuer_or_audience_is_refused() {
    let key = TestKey::generate();
    let verifier = verifier(&source_with(&[&key]));
    let now = Utc::now();
    let (token, _) = key
        .issuer_for("someone-else", AUDIENCE)
        .issue(Uuid::now_v7(), Uuid::now_v7(), &["admin"], now)
        .unwrap();
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::WrongIssuer)
    ));
    let (token, _) = key
        .issuer_for(ISSUER, "another-system")
        .issue(Uuid::now_v7(), Uuid::now_v7(), &["admin"], now)
        .unwrap();
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::WrongAudience)
    ));
}

#[tokio::test]
async fn an_audience_array_is_not_accepted() {
    let key = TestKey::generate();
    let verifier = verifier(&source_with(&[&key]));
    let mut payload = claims(Utc::now());
    payload["aud"] = json!([AUDIENCE, "another-system"]);
    let token = key.sign_raw(&key.header(), &payload);
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::Malformed(_))
    ));
}

#[tokio::test]
async fn every_required_claim_must_be_present() {
    let key = TestKey::generate();
    let verifier = verifier(&source_with(&[&key]));
    // A signed, otherwise valid token lacking one claim at a time.
    for claim in ["exp", "nbf", "iss", "aud"] {
        let mut payload = claims(Utc::now());
        payload.as_object_mut().unwrap().remove(claim);
        let token = key.sign_raw(&key.header(), &payload);
        let error = verifier.verify(&token).await.unwrap_err();
        assert!(
            matches!(&error, AuthError::MissingClaim(missing) if missing == claim),
            "{claim}: {error:?}"
        );
    }
    for claim in ["sub", "sid", "jti", "iat", "roles"] {
        let mut payload = claims(Utc::now());
        payload.as_object_mut().unwrap().remove(claim);
        let token = key.sign_raw(&key.header(), &payload);
        assert!(
            matches!(verifier.verify(&token).await, Err(AuthError::Malformed(_))),
            "{claim}"
        );
    }
    // A signed token that is exactly our issuer's is accepted.
    let token = key.sign_raw(&key.header(), &claims(Utc::now()));
    verifier.verify(&token).await.unwrap();
}

#[tokio::test]
async fn a_tampered_payload_fails_the_signature() {
    let key = TestKey::generate();
    let verifier = verifier(&source_with(&[&key]));
    let token = token(&key, &[]);
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["roles"] = json!(["admin"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    assert!(matches!(
        verifier.verify(&forged).await,
        Err(AuthError::BadSignature)
    ));
}

#[tokio::test]
async fn a_tampered_signature_fails() {
    let key = TestKey::generate();
    let verifier = verifier(&source_with(&[&key]));
    let token = token(&key, &["admin"]);
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let mut signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    signature[10] ^= 0x01;
    let forged = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&signature));
    assert!(matches!(
        verifier.verify(&forged).await,
        Err(AuthError::BadSignature)
    ));
    // A truncated signature is refused too, not a panic.
    let truncated = format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(&signature[..32])
    );
    assert!(matches!(
        verifier.verify(&truncated).await,
        Err(AuthError::BadSignature)
    ));
    // A signature by another key under our kid.
    let other = TestKey::generate();
    let forged = other.sign_raw(&key.header(), &claims(Utc::now()));
    assert!(matches!(
        verifier.verify(&forged).await,
        Err(AuthError::BadSignature)
    ));
}

#[tokio::test]
async fn unsigned_alg_none_tokens_are_refused() {
    let key = TestKey::generate();
    let source = source_with(&[&key]);
    let verifier = verifier(&source);
    let header = json!({"alg": "none", "typ": "JWT", "kid": key.kid()});
    let payload = claims(Utc::now());
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    assert!(matches!(
        verifier.verify(&unsigned).await,
        Err(AuthError::AlgorithmNotAllowed)
    ));
    // Also with a (real) signature appended, and spelled differently.
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "JWT", "kid": key.kid()});
        let token = key.sign_raw(&header, &payload);
        assert!(matches!(
            verifier.verify(&token).await,
            Err(AuthError::AlgorithmNotAllowed)
        ));
    }
    // Refused before any key is fetched.
    assert_eq!(source.fetch_count(), 0);
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    // Algorithm confusion: an attacker signs with HMAC using the published
    // public key as the secret, hoping the verifier uses the key as given.
    let key = TestKey::generate();
    let source = source_with(&[&key]);
    let verifier = verifier(&source);
    let jwk = key.jwk();
    let public_key_bytes = URL_SAFE_NO_PAD.decode(&jwk.x).unwrap();
    let payload = claims(Utc::now());
    for secret in [public_key_bytes.as_slice(), jwk.x.as_bytes()] {
        for algorithm in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(algorithm);
            header.typ = Some("JWT".to_owned());
            header.kid = Some(key.kid());
            let token =
                jsonwebtoken::encode(&header, &payload, &EncodingKey::from_secret(secret)).unwrap();
            assert!(
                matches!(
                    verifier.verify(&token).await,
                    Err(AuthError::AlgorithmNotAllowed)
                ),
                "{algorithm:?}"
            );
        }
    }
    for alg in ["RS256", "ES256", "PS256", "Ed25519"] {
        let header = json!({"alg": alg, "typ": "JWT", "kid": key.kid()});
        assert!(matches!(
            verifier.verify(&key.sign_raw(&header, &payload)).await,
            Err(AuthError::AlgorithmNotAllowed)
        ));
    }
    assert_eq!(source.fetch_count(), 0);
}

#[tokio::test]
async fn a_token_without_kid_is_refused() {
    let key = TestKey::generate();
    let verifier = verifier(&source_with(&[&key]));
    let header = json!({"alg": "EdDSA", "typ": "JWT"});
    let token = key.sign_raw(&header, &claims(Utc::now()));
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::MissingKeyId)
    ));
}

#[tokio::test]
async fn garbage_is_malformed_and_the_message_never_echoes_the_token() {
    let key = TestKey::generate();
    let verifier = verifier(&source_with(&[&key]));
    let valid = token(&key, &["admin"]);
    for garbage in [
        "",
        "not-a-token",
        "a.b.c",
        "....",
        &valid.replacen('.', "", 1),
        &format!("{valid}.extra"),
    ] {
        let error = verifier.verify(garbage).await.unwrap_err();
        assert!(
            matches!(error, AuthError::Malformed(_)),
            "{garbage}: {error:?}"
        );
        let status = tonic::Status::from(error);
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        if garbage.len() > 4 {
            assert!(!status.message().contains(garbage), "{}", status.message());
        }
    }
    let status = tonic::Status::from(verifier.verify(&format!("{valid}x")).await.unwrap_err());
    for part in valid.split('.') {
        assert!(!status.message().contains(part), "{}", status.message());
    }
}

#[tokio::test(start_paused = true)]
async fn an_unknown_kid_triggers_one_refresh_then_verifies() {
    let old = TestKey::generate();
    let new = TestKey::generate();
    let source = source_with(&[&old]);
    let verifier = verifier(&source);

    verifier.verify(&token(&old, &[])).await.unwrap();
    assert_eq!(source.fetch_count(), 1, "keys load on first use");
    verifier.verify(&token(&old, &[])).await.unwrap();
    assert_eq!(source.fetch_count(), 1, "then come from the cache");

    // IAM rotates to a new key.
    source.set_keys(vec![old.jwk(), new.jwk()]);
    tokio::time::advance(Duration::from_secs(31)).await;
    let caller = verifier
        .authenticate(&token(&new, &["admin"]))
        .await
        .unwrap();
    assert!(caller.is_admin());
    assert_eq!(
        source.fetch_count(),
        2,
        "exactly one refresh for the new kid"
    );
    verifier.verify(&token(&new, &[])).await.unwrap();
    verifier.verify(&token(&old, &[])).await.unwrap();
    assert_eq!(source.fetch_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_kid_refreshes_at_most_once_per_interval() {
    let known = TestKey::generate();
    let later = TestKey::generate();
    let source = source_with(&[&known]);
    let verifier = verifier(&source);

    // First use, for a kid the source does not have: one fetch.
    assert!(matches!(
        verifier.verify(&token(&later, &[])).await,
        Err(AuthError::UnknownKey)
    ));
    assert_eq!(source.fetch_count(), 1);

    // The key appears, but keys fetched less than 30 s ago are not refetched.
    source.set_keys(vec![known.jwk(), later.jwk()]);
    assert!(matches!(
        verifier.verify(&token(&later, &[])).await,
        Err(AuthError::UnknownKey)
    ));
    assert_eq!(source.fetch_count(), 1);

    tokio::time::advance(Duration::from_secs(30)).await;
    verifier.verify(&token(&later, &[])).await.unwrap();
    assert_eq!(source.fetch_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_unknown_kids_costs_one_fetch_per_interval() {
    let known = TestKey::generate();
    let source = source_with(&[&known]);
    let verifier = Arc::new(verifier(&source));
    verifier.verify(&token(&known, &[])).await.unwrap();
    assert_eq!(source.fetch_count(), 1);

    let flood = |round: usize| {
        let verifier = Arc::clone(&verifier);
        let signer = TestKey::generate();
        async move {
            let tasks: Vec<_> = (0..200)
                .map(|index| {
                    let header =
                        json!({"alg": "EdDSA", "typ": "JWT", "kid": format!("garbage-{round}-{index}")});
                    let token = signer.sign_raw(&header, &claims(Utc::now()));
                    let verifier = Arc::clone(&verifier);
                    tokio::spawn(async move { verifier.verify(&token).await })
                })
                .collect();
            for task in futures::future::join_all(tasks).await {
                assert!(matches!(task.unwrap(), Err(AuthError::UnknownKey)));
            }
        }
    };

    tokio::time::advance(Duration::from_secs(30)).await;
    flood(1).await;
    assert_eq!(source.fetch_count(), 2, "one refresh for the whole flood");
    flood(2).await;
    assert_eq!(source.fetch_count(), 2, "none within the interval");
    tokio::time::advance(Duration::from_secs(30)).await;
    flood(3).await;
    assert_eq!(source.fetch_count(), 3);
    // Known keys are still served from the cache throughout.
    verifier.verify(&token(&known, &[])).await.unwrap();
    assert_eq!(source.fetch_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn keys_are_refreshed_periodically_and_rotated_out_keys_stop_verifying() {
    let old = TestKey::generate();
    let new = TestKey::generate();
    let source = source_with(&[&old]);
    let verifier = verifier(&source);
    let old_token = token(&old, &[]);
    verifier.verify(&old_token).await.unwrap();

    source.set_keys(vec![new.jwk()]);
    tokio::time::advance(Duration::from_secs(299)).await;
    verifier.verify(&old_token).await.unwrap();
    assert_eq!(source.fetch_count(), 1, "fresh for 5 minutes");

    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(matches!(
        verifier.verify(&old_token).await,
        Err(AuthError::UnknownKey)
    ));
    assert_eq!(source.fetch_count(), 2, "refreshed once stale");
    verifier.verify(&token(&new, &[])).await.unwrap();
    assert_eq!(source.fetch_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_the_keys_already_held() {
    let key = TestKey::generate();
    let source = source_with(&[&key]);
    let verifier = verifier(&source);
    verifier.verify(&token(&key, &[])).await.unwrap();

    source.fail_with("iam is down");
    tokio::time::advance(Duration::from_secs(301)).await;
    verifier.verify(&token(&key, &[])).await.unwrap();
    assert_eq!(source.fetch_count(), 2, "the refresh was tried");
    verifier.verify(&token(&key, &[])).await.unwrap();
    assert_eq!(source.fetch_count(), 2, "and not retried within a second");
    // An unknown kid while IAM is down cannot be decided: unavailable.
    assert!(matches!(
        verifier.verify(&token(&TestKey::generate(), &[])).await,
        Err(AuthError::KeysUnavailable)
    ));
}

#[tokio::test(start_paused = true)]
async fn without_keys_tokens_cannot_be_verified_and_fetches_retry_after_a_second() {
    let key = TestKey::generate();
    let source = Arc::new(StaticKeySource::new(Vec::new()));
    source.fail_with("connection refused");
    let verifier = verifier(&source);

    let error = verifier.verify(&token(&key, &[])).await.unwrap_err();
    assert!(matches!(error, AuthError::KeysUnavailable));
    let status = tonic::Status::from(error);
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(!status.message().contains("connection refused"));
    assert_eq!(source.fetch_count(), 1);

    assert!(matches!(
        verifier.verify(&token(&key, &[])).await,
        Err(AuthError::KeysUnavailable)
    ));
    assert_eq!(source.fetch_count(), 1, "no retry within a second");

    source.set_keys(vec![key.jwk()]);
    tokio::time::advance(Duration::from_secs(1)).await;
    verifier.verify(&token(&key, &[])).await.unwrap();
    assert_eq!(source.fetch_count(), 2);
}

#[tokio::test]
async fn an_empty_key_set_counts_as_unavailable() {
    let key = TestKey::generate();
    let verifier = verifier(&Arc::new(StaticKeySource::new(Vec::new())));
    assert!(matches!(
        verifier.verify(&token(&key, &[])).await,
        Err(AuthError::KeysUnavailable)
    ));
}

#[tokio::test]
async fn unusable_keys_in_the_set_are_skipped() {
    let key = TestKey::generate();
    let rsa_looking = Jwk {
        kty: "RSA".to_owned(),
        ..TestKey::generate().jwk()
    };
    let short = Jwk {
        x: URL_SAFE_NO_PAD.encode([1_u8; 8]),
        ..TestKey::generate().jwk()
    };
    let source = Arc::new(StaticKeySource::new(vec![
        rsa_looking.clone(),
        short.clone(),
        key.jwk(),
    ]));
    let verifier = verifier(&source);
    verifier.verify(&token(&key, &[])).await.unwrap();

    // A token whose kid names the unusable key is unknown, not a panic.
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": short.kid});
    let token = key.sign_raw(&header, &claims(Utc::now()));
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::UnknownKey)
    ));
}
