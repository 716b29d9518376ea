//! The IAM life cycle through the generated client, each step's event read
//! off RabbitMQ and decoded with the generated codec.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ecommerce_events::DecodedEvent;
use ecommerce_proto::ecommerce::iam::v1 as pb;
use ecommerce_test_support::{EVENT_WAIT, with_bearer};
use prost_types::FieldMask;
use support::*;
use tonic::Code;

#[tokio::test]
async fn sign_up_verify_sign_in_refresh_update_sign_out() {
    let world = IamWorld::start().await;
    let mut client = world.client();
    // The bootstrap admin's own events come first.
    world
        .service
        .expect_event("iam.user.access_synchronized.v1", EVENT_WAIT)
        .await;

    let user = world.sign_up("Ada@Example.TEST", "corr-signup").await;
    assert_eq!(user.email, "ada@example.test", "emails are normalized");
    assert!(!user.email_verified);
    let registered = world
        .service
        .expect_event("iam.user.registered.v1", EVENT_WAIT)
        .await;
    assert_eq!(
        registered.metadata.correlation_id.as_deref(),
        Some("corr-signup")
    );
    assert_eq!(registered.metadata.aggregate.id, user.id);
    let DecodedEvent::IamUserRegisteredV1(payload) = &registered.event else {
        panic!("unexpected {:?}", registered.event)
    };
    assert_eq!(payload.email, "ada@example.test");
    assert_eq!(payload.user_id, user.id);

    let token = world.latest_verification_token("ada@example.test");
    let verified = client
        .verify_email(with_request_id(
            pb::VerifyEmailRequest {
                token: token.clone(),
            },
            "corr-verify",
        ))
        .await
        .expect("verify")
        .into_inner()
        .user
        .unwrap();
    assert!(verified.email_verified);
    let event = world
        .service
        .expect_event("iam.user.email_verified.v1", EVENT_WAIT)
        .await;
    assert_eq!(
        event.metadata.correlation_id.as_deref(),
        Some("corr-verify")
    );
    // Single use.
    assert_status(
        client.verify_email(pb::VerifyEmailRequest { token }).await,
        Code::InvalidArgument,
        Some("token"),
    );

    let signed_in = world
        .sign_in("ada@example.test", PASSWORD)
        .await
        .expect("sign in");
    let tokens = signed_in.tokens.unwrap();
    let event = world
        .service
        .expect_event("iam.user.signed_in.v1", EVENT_WAIT)
        .await;
    let DecodedEvent::IamUserSignedInV1(payload) = &event.event else {
        panic!()
    };
    assert_eq!(payload.user_id, user.id);
    assert!(!payload.session_id.is_empty());

    let me = client
        .get_current_user(with_bearer(
            pb::GetCurrentUserRequest {},
            &tokens.access_token,
        ))
        .await
        .expect("current user")
        .into_inner()
        .user
        .unwrap();
    assert_eq!(me.id, user.id);

    let refreshed = client
        .refresh_session(pb::RefreshSessionRequest {
            refresh_token: tokens.refresh_token.clone(),
        })
        .await
        .expect("refresh")
        .into_inner()
        .tokens
        .unwrap();
    assert_ne!(refreshed.refresh_token, tokens.refresh_token, "rotated");

    let update = |name: &str| pb::UpdateProfileRequest {
        user: Some(pb::User {
            name: name.to_owned(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["name".to_owned()],
        }),
    };
    let updated = client
        .update_profile(with_bearer(update("Ada King"), &refreshed.access_token))
        .await
        .expect("update")
        .into_inner()
        .user
        .unwrap();
    assert_eq!(updated.name, "Ada King");
    let event = world
        .service
        .expect_event("iam.user.profile_updated.v1", EVENT_WAIT)
        .await;
    let DecodedEvent::IamUserProfileUpdatedV1(payload) = &event.event else {
        panic!()
    };
    assert_eq!(payload.changed_fields, vec!["name".to_owned()]);
    assert_eq!(payload.name, "Ada King");
    // The same value again changes nothing and emits nothing.
    client
        .update_profile(with_bearer(update("Ada King"), &refreshed.access_token))
        .await
        .expect("no-op update");

    client
        .sign_out(with_request_id(
            pb::SignOutRequest {
                refresh_token: refreshed.refresh_token.clone(),
            },
            "corr-signout",
        ))
        .await
        .expect("sign out");
    let event = world
        .service
        .expect_event("iam.user.signed_out.v1", EVENT_WAIT)
        .await;
    assert_eq!(
        event.metadata.correlation_id.as_deref(),
        Some("corr-signout")
    );
    world
        .service
        .expect_no_event(
            "iam.user.profile_updated.v1",
            std::time::Duration::from_millis(300),
        )
        .await;

    // After sign-out, neither the access token nor the refresh token works.
    assert_status(
        client
            .get_current_user(with_bearer(
                pb::GetCurrentUserRequest {},
                &refreshed.access_token,
            ))
            .await,
        Code::Unauthenticated,
        None,
    );
    assert_status(
        client
            .refresh_session(pb::RefreshSessionRequest {
                refresh_token: refreshed.refresh_token,
            })
            .await,
        Code::Unauthenticated,
        None,
    );
    // Signing out again is harmless.
    world.finish().await;
}

#[tokio::test]
async fn a_replayed_refresh_token_revokes_the_whole_session() {
    let world = IamWorld::start().await;
    let mut client = world.client();
    world.sign_up("eve@example.test", "corr").await;
    let first = world
        .sign_in("eve@example.test", PASSWORD)
        .await
        .unwrap()
        .tokens
        .unwrap();
    let second = client
        .refresh_session(pb::RefreshSessionRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    // The spent token again: refused, and the session ends.
    assert_status(
        client
            .refresh_session(pb::RefreshSessionRequest {
                refresh_token: first.refresh_token,
            })
            .await,
        Code::Unauthenticated,
        None,
    );
    assert_status(
        client
            .refresh_session(pb::RefreshSessionRequest {
                refresh_token: second.refresh_token,
            })
            .await,
        Code::Unauthenticated,
        None,
    );
    assert_status(
        client
            .get_current_user(with_bearer(
                pb::GetCurrentUserRequest {},
                &second.access_token,
            ))
            .await,
        Code::Unauthenticated,
        None,
    );
    world.finish().await;
}

#[tokio::test]
async fn sign_up_is_idempotent_on_its_key_and_resend_replaces_the_token() {
    let world = IamWorld::start().await;
    let mut client = world.client();
    let request = pb::SignUpRequest {
        email: "kim@example.test".to_owned(),
        password: PASSWORD.to_owned(),
        name: "Kim".to_owned(),
        idempotency_key: "0b6f3f2e-key".to_owned(),
    };
    let first = client
        .sign_up(request.clone())
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    let again = client
        .sign_up(request.clone())
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(first.id, again.id);
    let other = pb::SignUpRequest {
        email: "other@example.test".to_owned(),
        ..request
    };
    assert_status(
        client.sign_up(other).await,
        Code::InvalidArgument,
        Some("idempotency_key"),
    );
    world
        .service
        .expect_event("iam.user.registered.v1", EVENT_WAIT)
        .await; // admin
    world
        .service
        .expect_event("iam.user.registered.v1", EVENT_WAIT)
        .await; // kim
    world
        .service
        .expect_no_event(
            "iam.user.registered.v1",
            std::time::Duration::from_millis(300),
        )
        .await;
    assert_eq!(world.mail_count(), 1, "one sign-up, one mail");

    let old_token = world.latest_verification_token("kim@example.test");
    // One verification mail a minute per address, the sign-up's included.
    world.clock.advance(chrono::Duration::seconds(61));
    client
        .resend_verification_email(pb::ResendVerificationEmailRequest {
            email: "KIM@example.test".to_owned(),
        })
        .await
        .unwrap();
    // Unknown emails get the same answer, and no mail.
    client
        .resend_verification_email(pb::ResendVerificationEmailRequest {
            email: "nobody@example.test".to_owned(),
        })
        .await
        .unwrap();
    assert_eq!(world.mail_count(), 2);
    let new_token = world.latest_verification_token("kim@example.test");
    assert_ne!(old_token, new_token);
    assert_status(
        client
            .verify_email(pb::VerifyEmailRequest { token: old_token })
            .await,
        Code::InvalidArgument,
        Some("token"),
    );
    // Tokens expire after an hour.
    world.clock.advance(chrono::Duration::minutes(61));
    assert_status(
        client
            .verify_email(pb::VerifyEmailRequest { token: new_token })
            .await,
        Code::InvalidArgument,
        Some("token"),
    );
    world.finish().await;
}

#[tokio::test]
async fn concurrent_sign_ups_with_one_email_make_one_user() {
    let world = IamWorld::start().await;
    world
        .service
        .expect_event("iam.user.registered.v1", EVENT_WAIT)
        .await; // admin
    let attempts = (0..8).map(|attempt| {
        let mut client = world.client();
        async move {
            client
                .sign_up(pb::SignUpRequest {
                    email: if attempt % 2 == 0 {
                        "Race@Example.test"
                    } else {
                        "race@example.TEST"
                    }
                    .to_owned(),
                    password: PASSWORD.to_owned(),
                    name: format!("Racer {attempt}"),
                    idempotency_key: String::new(),
                })
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(created, 1, "{results:?}");
    for result in results.into_iter().filter(Result::is_err) {
        assert_status(result, Code::AlreadyExists, None);
    }
    world
        .service
        .expect_event("iam.user.registered.v1", EVENT_WAIT)
        .await;
    world
        .service
        .expect_no_event(
            "iam.user.registered.v1",
            std::time::Duration::from_millis(500),
        )
        .await;
    world.finish().await;
}
