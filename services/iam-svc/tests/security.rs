//! Failures, throttling and lockout, refused tokens, roles: each with its
//! status code and, where one is due, its security event.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use ecommerce_auth::{AccessTokenIssuer, SigningKey};
use ecommerce_events::DecodedEvent;
use ecommerce_proto::ecommerce::iam::v1 as pb;
use ecommerce_test_support::{EVENT_WAIT, with_bearer};
use iam_svc::app::Policies;
use iam_svc::domain::rate_limit::SignInThrottlePolicy;
use sea_orm::{ConnectionTrait, Statement};
use support::*;
use tonic::Code;
use tonic_types::StatusExt as _;

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_writes_nothing() {
    let world = IamWorld::start().await;
    let mut client = world.client();
    let sign_up = |email: &str, password: &str, name: &str| pb::SignUpRequest {
        email: email.to_owned(),
        password: password.to_owned(),
        name: name.to_owned(),
        idempotency_key: String::new(),
    };
    let cases = [
        (sign_up("not-an-email", PASSWORD, "N"), "email"),
        (sign_up("", PASSWORD, "N"), "email"),
        (sign_up("a@example.test", "short", "N"), "password"),
        (sign_up("a@example.test", "password123", "N"), "password"),
        (sign_up("a@example.test", PASSWORD, ""), "name"),
        (
            sign_up("a@example.test", PASSWORD, &"n".repeat(101)),
            "name",
        ),
    ];
    for (request, field) in cases {
        assert_status(
            client.sign_up(request).await,
            Code::InvalidArgument,
            Some(field),
        );
    }
    // A long passphrase is fine, and not truncated: a prefix does not sign in.
    let long = "the quick brown fox jumps over the lazy dog ".repeat(4);
    client
        .sign_up(sign_up("long@example.test", &long, "Long"))
        .await
        .expect("long passphrase");
    assert_status(
        world.sign_in("long@example.test", &long[..72]).await,
        Code::Unauthenticated,
        None,
    );
    world
        .sign_in("long@example.test", &long)
        .await
        .expect("the whole passphrase");

    assert_status(
        client
            .sign_up(sign_up("LONG@example.test", PASSWORD, "Dup"))
            .await,
        Code::AlreadyExists,
        None,
    );
    assert_status(
        client
            .verify_email(pb::VerifyEmailRequest {
                token: "garbage".to_owned(),
            })
            .await,
        Code::InvalidArgument,
        Some("token"),
    );
    assert_status(
        client
            .verify_email(pb::VerifyEmailRequest {
                token: String::new(),
            })
            .await,
        Code::InvalidArgument,
        Some("token"),
    );
    let admin = world.admin_token().await;
    assert_status(
        client
            .set_user_roles(with_bearer(
                pb::SetUserRolesRequest {
                    user_id: "not-a-uuid".to_owned(),
                    roles: vec![],
                },
                &admin,
            ))
            .await,
        Code::InvalidArgument,
        Some("user_id"),
    );
    assert_status(
        client
            .set_user_roles(with_bearer(
                pb::SetUserRolesRequest {
                    user_id: uuid::Uuid::now_v7().to_string(),
                    roles: vec!["Bad Role".to_owned()],
                },
                &admin,
            ))
            .await,
        Code::InvalidArgument,
        Some("roles"),
    );
    assert_status(
        client
            .set_user_roles(with_bearer(
                pb::SetUserRolesRequest {
                    user_id: uuid::Uuid::now_v7().to_string(),
                    roles: vec![],
                },
                &admin,
            ))
            .await,
        Code::NotFound,
        None,
    );
    // Only the admin and "long" exist: nothing half-written.
    let users = world.service.count("SELECT count(*) AS n FROM users").await;
    assert_eq!(users, 2);
    world.finish().await;
}

#[tokio::test]
async fn unknown_email_and_wrong_password_fail_alike_then_the_account_locks() {
    // Every test call comes from 127.0.0.1: a roomier client limit keeps
    // this test about the account's limit.
    let world = IamWorld::start_with_policies(Policies {
        throttle: SignInThrottlePolicy {
            max_client_failures: 50,
            ..SignInThrottlePolicy::default()
        },
        ..Policies::default()
    })
    .await;
    world.sign_up("bob@example.test", "corr").await;
    let unknown = assert_status(
        world.sign_in("nobody@example.test", PASSWORD).await,
        Code::Unauthenticated,
        None,
    );
    let wrong = assert_status(
        world.sign_in("bob@example.test", "wrong password!").await,
        Code::Unauthenticated,
        None,
    );
    assert_eq!(
        unknown.message(),
        wrong.message(),
        "no hint whether the email exists"
    );

    let failed = world
        .service
        .expect_event("iam.security.sign_in_failed.v1", EVENT_WAIT)
        .await;
    let DecodedEvent::IamSecuritySignInFailedV1(payload) = &failed.event else {
        panic!()
    };
    assert_eq!(payload.email, "nobody@example.test");
    assert!(payload.user_id.is_empty());
    assert_eq!(payload.reason, pb::SignInFailureReason::UnknownEmail as i32);
    let failed = world
        .service
        .expect_event("iam.security.sign_in_failed.v1", EVENT_WAIT)
        .await;
    let DecodedEvent::IamSecuritySignInFailedV1(payload) = &failed.event else {
        panic!()
    };
    assert_eq!(
        payload.reason,
        pb::SignInFailureReason::WrongPassword as i32
    );
    assert_eq!(payload.attempt_count, 1);
    assert!(
        !format!("{payload:?}").contains("wrong password!"),
        "no password in events"
    );

    // Four more failures reach the limit of five: the account locks.
    for _ in 0..4 {
        assert_status(
            world.sign_in("bob@example.test", "wrong password!").await,
            Code::Unauthenticated,
            None,
        );
    }
    let locked = world
        .service
        .expect_event("iam.security.account_locked.v1", EVENT_WAIT)
        .await;
    let DecodedEvent::IamSecurityAccountLockedV1(payload) = &locked.event else {
        panic!()
    };
    assert_eq!(payload.attempt_count, 5);
    assert!(payload.locked_until.is_some());

    // Even the right password is throttled now, with a retry delay.
    let throttled = assert_status(
        world.sign_in("bob@example.test", PASSWORD).await,
        Code::ResourceExhausted,
        None,
    );
    let retry = throttled
        .get_error_details()
        .retry_info()
        .cloned()
        .expect("RetryInfo");
    assert!(retry.retry_delay.unwrap() > Duration::ZERO);
    let failed = world
        .service
        .expect_event("iam.security.sign_in_failed.v1", EVENT_WAIT)
        .await;
    let DecodedEvent::IamSecuritySignInFailedV1(payload) = &failed.event else {
        panic!()
    };
    assert_eq!(
        payload.reason,
        pb::SignInFailureReason::AccountLocked as i32
    );

    // After the lockout and the window, the right password works again.
    world.clock.advance(chrono::Duration::minutes(16));
    world
        .sign_in("bob@example.test", PASSWORD)
        .await
        .expect("unlocked");
    world.finish().await;
}

#[tokio::test]
async fn one_client_failing_on_many_accounts_is_throttled_without_locking_them() {
    let world = IamWorld::start().await;
    for attempt in 0..5 {
        let email = format!("guess{attempt}@example.test");
        assert_status(
            world.sign_in(&email, PASSWORD).await,
            Code::Unauthenticated,
            None,
        );
    }
    // A sixth account, the bootstrap admin with the right password: the
    // client is throttled, with a retry delay of about the window.
    let throttled = assert_status(
        world.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await,
        Code::ResourceExhausted,
        None,
    );
    let retry = throttled
        .get_error_details()
        .retry_info()
        .cloned()
        .expect("RetryInfo");
    let delay = retry.retry_delay.unwrap();
    assert!(
        delay > Duration::from_secs(500) && delay <= Duration::from_secs(600),
        "{delay:?}"
    );
    // Waiting is not failing: retries during the throttle do not extend it.
    world.clock.advance(chrono::Duration::minutes(5));
    assert_status(
        world.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await,
        Code::ResourceExhausted,
        None,
    );
    world.clock.advance(chrono::Duration::seconds(301));
    world
        .sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("the window has passed");
    world
        .service
        .expect_no_event("iam.security.account_locked.v1", Duration::from_millis(300))
        .await;
    world.finish().await;
}

#[tokio::test]
async fn tampered_expired_unsigned_and_foreign_tokens_are_refused() {
    let world = IamWorld::start().await;
    let mut client = world.client();
    world.sign_up("tok@example.test", "corr").await;
    let tokens = world
        .sign_in("tok@example.test", PASSWORD)
        .await
        .unwrap()
        .tokens
        .unwrap();
    let good = tokens.access_token;
    client
        .get_current_user(with_bearer(pb::GetCurrentUserRequest {}, &good))
        .await
        .expect("the genuine token works");

    // Flip one character of the signature.
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    // The same claims with alg=none and no signature.
    let mut parts = good.split('.');
    let (_, claims) = (parts.next().unwrap(), parts.next().unwrap());
    use base64::Engine as _;
    let none_header =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{claims}.");

    // Signed with IAM's real key, but expired or for another audience.
    let pem: String = world
        .service
        .runtime
        .db()
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT private_key_pem FROM signing_keys",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "private_key_pem")
        .unwrap();
    let user_id = uuid::Uuid::now_v7();
    let session_id = uuid::Uuid::now_v7();
    let issue = |audience: &str, at: chrono::DateTime<chrono::Utc>| {
        let key = SigningKey::from_pkcs8_pem(&pem).unwrap();
        AccessTokenIssuer::new(key, "ecommerce-iam", audience)
            .unwrap()
            .issue(user_id, session_id, &["admin"], at)
            .unwrap()
            .0
    };
    let expired = issue("ecommerce", chrono::Utc::now() - chrono::Duration::hours(1));
    let foreign_audience = issue("another-system", chrono::Utc::now());
    // A key IAM never published.
    let stranger = AccessTokenIssuer::new(
        SigningKey::generate().unwrap(),
        "ecommerce-iam",
        "ecommerce",
    )
    .unwrap()
    .issue(user_id, session_id, &["admin"], chrono::Utc::now())
    .unwrap()
    .0;

    for (name, token) in [
        ("tampered", tampered),
        ("alg=none", unsigned),
        ("expired", expired),
        ("wrong audience", foreign_audience),
        ("unknown key", stranger),
        ("garbage", "not.a.jwt".to_owned()),
    ] {
        let result = client
            .get_current_user(with_bearer(pb::GetCurrentUserRequest {}, &token))
            .await;
        let status = result.expect_err(name);
        assert_eq!(status.code(), Code::Unauthenticated, "{name}: {status:?}");
        // Also refused on an admin RPC, before any handler runs.
        let result = client
            .set_user_roles(with_bearer(
                pb::SetUserRolesRequest {
                    user_id: user_id.to_string(),
                    roles: vec![],
                },
                &token,
            ))
            .await;
        assert_eq!(result.unwrap_err().code(), Code::Unauthenticated, "{name}");
    }
    // No token at all: anonymous, so "sign in first".
    assert_status(
        client.get_current_user(pb::GetCurrentUserRequest {}).await,
        Code::Unauthenticated,
        None,
    );

    // GetJwks publishes the key the genuine token names.
    let jwks = client
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner();
    let header = good.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert!(jwks.keys.iter().any(|key| key.kid == header["kid"]));
    world.finish().await;
}

#[tokio::test]
async fn only_admins_set_roles_and_the_same_set_is_a_no_op() {
    let world = IamWorld::start().await;
    let mut client = world.client();
    world
        .service
        .expect_event("iam.user.access_synchronized.v1", EVENT_WAIT)
        .await; // admin
    let user = world.sign_up("carol@example.test", "corr").await;
    let carol = world
        .sign_in("carol@example.test", PASSWORD)
        .await
        .unwrap()
        .tokens
        .unwrap()
        .access_token;
    let request = |roles: &[&str]| pb::SetUserRolesRequest {
        user_id: user.id.clone(),
        roles: roles.iter().map(|role| (*role).to_owned()).collect(),
    };
    assert_status(
        client.set_user_roles(request(&["admin"])).await,
        Code::Unauthenticated,
        None,
    );
    assert_status(
        client
            .set_user_roles(with_bearer(request(&["admin"]), &carol))
            .await,
        Code::PermissionDenied,
        None,
    );

    let admin = world.admin_token().await;
    let mut call = with_bearer(request(&["support", "admin"]), &admin);
    call.metadata_mut()
        .insert("x-correlation-id", "corr-roles".parse().unwrap());
    let updated = client
        .set_user_roles(call)
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(
        updated.roles,
        vec!["admin".to_owned(), "support".to_owned()]
    );
    let event = world
        .service
        .expect_event("iam.user.access_synchronized.v1", EVENT_WAIT)
        .await;
    assert_eq!(event.metadata.correlation_id.as_deref(), Some("corr-roles"));
    let DecodedEvent::IamUserAccessSynchronizedV1(payload) = &event.event else {
        panic!()
    };
    assert_eq!(payload.user_id, user.id);
    assert_eq!(
        payload.roles,
        vec!["admin".to_owned(), "support".to_owned()]
    );

    client
        .set_user_roles(with_bearer(request(&["admin", "support"]), &admin))
        .await
        .expect("same set");
    world
        .service
        .expect_no_event(
            "iam.user.access_synchronized.v1",
            Duration::from_millis(300),
        )
        .await;

    // A new sign-in carries the new roles: carol may now set roles herself.
    let carol = world
        .sign_in("carol@example.test", PASSWORD)
        .await
        .unwrap()
        .tokens
        .unwrap()
        .access_token;
    client
        .set_user_roles(with_bearer(request(&["admin"]), &carol))
        .await
        .expect("carol is an admin now");
    world.finish().await;
}

fn set_roles(
    user_id: &str,
    roles: &[&str],
    token: &str,
) -> tonic::Request<pb::SetUserRolesRequest> {
    with_bearer(
        pb::SetUserRolesRequest {
            user_id: user_id.to_owned(),
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        },
        token,
    )
}

#[tokio::test]
async fn an_admin_token_of_a_signed_out_session_is_refused_by_admin_rpcs() {
    let world = IamWorld::start().await;
    let mut client = world.client();
    let user = world.sign_up("erin@example.test", "corr").await;
    let tokens = world
        .sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .unwrap()
        .tokens
        .unwrap();
    client
        .set_user_roles(set_roles(&user.id, &["support"], &tokens.access_token))
        .await
        .expect("the admin's live session");
    client
        .sign_out(pb::SignOutRequest {
            refresh_token: tokens.refresh_token.clone(),
        })
        .await
        .unwrap();
    // The access token has not expired, and still claims the admin role.
    let refused = assert_status(
        client
            .set_user_roles(set_roles(&user.id, &["admin"], &tokens.access_token))
            .await,
        Code::Unauthenticated,
        None,
    );
    assert!(refused.message().contains("session"), "{refused:?}");
    let db = world.service.runtime.db();
    let stored = iam_svc::storage::users::find_by_email(db, "erin@example.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.roles, vec!["support".to_owned()]);
    world.finish().await;
}

#[tokio::test]
async fn an_admin_token_is_refused_once_the_role_is_revoked_or_the_account_locked() {
    let world = IamWorld::start_with_policies(Policies {
        throttle: SignInThrottlePolicy {
            max_client_failures: 50,
            ..SignInThrottlePolicy::default()
        },
        ..Policies::default()
    })
    .await;
    let mut client = world.client();
    let root = world.admin_token().await;
    let frank = world.sign_up("frank@example.test", "corr").await;
    let grace = world.sign_up("grace@example.test", "corr").await;
    for user in [&frank, &grace] {
        client
            .set_user_roles(set_roles(&user.id, &["admin"], &root))
            .await
            .unwrap();
    }
    let frank_token = world
        .sign_in("frank@example.test", PASSWORD)
        .await
        .unwrap()
        .tokens
        .unwrap()
        .access_token;
    let grace_token = world
        .sign_in("grace@example.test", PASSWORD)
        .await
        .unwrap()
        .tokens
        .unwrap()
        .access_token;
    client
        .set_user_roles(set_roles(&grace.id, &["admin"], &frank_token))
        .await
        .expect("frank is an admin");

    // Another admin takes frank's role away: his token still claims it.
    client
        .set_user_roles(set_roles(&frank.id, &[], &root))
        .await
        .unwrap();
    let refused = assert_status(
        client
            .set_user_roles(set_roles(&frank.id, &["admin"], &frank_token))
            .await,
        Code::PermissionDenied,
        None,
    );
    assert!(refused.message().contains("admin"), "{refused:?}");

    // Five wrong passwords lock grace's account: her open session loses
    // the back-office RPCs while the lock holds.
    for _ in 0..5 {
        assert_status(
            world.sign_in("grace@example.test", "wrong password!").await,
            Code::Unauthenticated,
            None,
        );
    }
    let refused = assert_status(
        client
            .set_user_roles(set_roles(&grace.id, &["admin"], &grace_token))
            .await,
        Code::PermissionDenied,
        None,
    );
    assert!(refused.message().contains("locked"), "{refused:?}");
    // Nothing changed: frank is still no admin.
    let db = world.service.runtime.db();
    let stored = iam_svc::storage::users::find_by_email(db, "frank@example.test")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.roles.is_empty());
    world.finish().await;
}

#[tokio::test]
async fn a_parallel_burst_of_wrong_passwords_gets_exactly_the_limit_of_checks() {
    const LIMIT: u32 = 3;
    const BURST: usize = 20;
    let world = IamWorld::start_with_policies(Policies {
        throttle: SignInThrottlePolicy {
            max_failures: LIMIT,
            max_client_failures: 100,
            ..SignInThrottlePolicy::default()
        },
        ..Policies::default()
    })
    .await;
    world.sign_up("target@example.test", "corr").await;
    let attempts = (0..BURST).map(|attempt| {
        let mut client = world.client();
        async move {
            client
                .sign_in(pb::SignInRequest {
                    email: "target@example.test".to_owned(),
                    password: format!("guess number {attempt}"),
                })
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let codes: Vec<Code> = results
        .iter()
        .map(|result| result.as_ref().unwrap_err().code())
        .collect();
    let checked = codes
        .iter()
        .filter(|code| **code == Code::Unauthenticated)
        .count();
    let throttled = codes
        .iter()
        .filter(|code| **code == Code::ResourceExhausted)
        .count();
    assert_eq!(checked, LIMIT as usize, "{codes:?}");
    assert_eq!(throttled, BURST - LIMIT as usize, "{codes:?}");
    assert_eq!(
        world
            .service
            .count("SELECT count(*) AS n FROM sign_in_failures")
            .await,
        i64::from(LIMIT)
    );
    // Exactly one lock, at the limit.
    let locked = world
        .service
        .expect_event("iam.security.account_locked.v1", EVENT_WAIT)
        .await;
    let DecodedEvent::IamSecurityAccountLockedV1(payload) = &locked.event else {
        panic!()
    };
    assert_eq!(payload.attempt_count, i32::try_from(LIMIT).unwrap());
    world
        .service
        .expect_no_event("iam.security.account_locked.v1", Duration::from_millis(300))
        .await;
    world.finish().await;
}
