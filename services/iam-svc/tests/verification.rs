//! The unverified email: how long its account may sign in, and how often
//! its verification mail may be re-sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use ecommerce_proto::ecommerce::iam::v1 as pb;
use iam_svc::app::Policies;
use iam_svc::domain::verification::UnverifiedSignInPolicy;
use support::*;
use tonic::Code;

const VERIFY_FIRST: &str =
    "verify your email address first (ResendVerificationEmail sends a new link)";

async fn failures_of(world: &IamWorld, email: &str) -> i64 {
    world
        .service
        .count(&format!(
            "SELECT count(*) AS n FROM sign_in_failures WHERE account = '{email}'"
        ))
        .await
}

#[tokio::test]
async fn an_unverified_account_signs_in_for_24_hours_then_must_verify() {
    let world = IamWorld::start().await;
    let email = "late@example.test";
    world.sign_up(email, "corr").await;
    let signed_in = world
        .sign_in(email, PASSWORD)
        .await
        .expect("just signed up");
    assert!(!signed_in.user.unwrap().email_verified);

    // One second before the grace period ends: still in.
    world
        .clock
        .advance(chrono::Duration::hours(24) - chrono::Duration::seconds(1));
    world
        .sign_in(email, PASSWORD)
        .await
        .expect("the last second of the grace period");

    // At its end exactly: the right password is told to verify first.
    world.clock.advance(chrono::Duration::seconds(1));
    let refused = assert_status(
        world.sign_in(email, PASSWORD).await,
        Code::FailedPrecondition,
        None,
    );
    assert_eq!(refused.message(), VERIFY_FIRST);
    // ... and is not a failure toward the lockout.
    assert_eq!(failures_of(&world, email).await, 0);

    // A wrong password learns nothing about the account: the usual answer.
    let wrong = assert_status(
        world.sign_in(email, "not the password 1").await,
        Code::Unauthenticated,
        None,
    );
    let unknown = assert_status(
        world.sign_in("nobody@example.test", PASSWORD).await,
        Code::Unauthenticated,
        None,
    );
    assert_eq!(wrong.message(), unknown.message());
    assert_eq!(failures_of(&world, email).await, 1);

    // Verifying (with a fresh link) lets the account in again.
    world
        .client()
        .resend_verification_email(pb::ResendVerificationEmailRequest {
            email: email.to_owned(),
        })
        .await
        .unwrap();
    let token = world.latest_verification_token(email);
    world
        .client()
        .verify_email(pb::VerifyEmailRequest { token })
        .await
        .expect("verify");
    world
        .sign_in(email, PASSWORD)
        .await
        .expect("verified accounts sign in whenever");
    assert_eq!(failures_of(&world, email).await, 0);
    world.finish().await;
}

#[tokio::test]
async fn a_zero_grace_period_refuses_every_unverified_sign_in() {
    let world = IamWorld::start_with_policies(Policies {
        unverified_sign_in: UnverifiedSignInPolicy {
            grace: Duration::ZERO,
        },
        ..Policies::default()
    })
    .await;
    world.sign_up("strict@example.test", "corr").await;
    let refused = assert_status(
        world.sign_in("strict@example.test", PASSWORD).await,
        Code::FailedPrecondition,
        None,
    );
    assert_eq!(refused.message(), VERIFY_FIRST);
    // The bootstrap admin's email is verified when it is created.
    world.admin_token().await;
    world.finish().await;
}

#[tokio::test]
async fn verification_mails_are_limited_per_address_and_the_answer_stays_ok() {
    let world = IamWorld::start().await;
    let mut client = world.client();
    let email = "resend@example.test";
    world.sign_up(email, "corr").await;
    assert_eq!(world.mail_count(), 1, "the sign-up's mail");
    let mut resend = async |address: &str| {
        client
            .resend_verification_email(pb::ResendVerificationEmailRequest {
                email: address.to_owned(),
            })
            .await
            .expect("always OK: the answer does not tell whether the account exists")
    };

    // One mail a minute: the sign-up's counts.
    resend(email).await;
    assert_eq!(world.mail_count(), 1);
    world.clock.advance(chrono::Duration::seconds(59));
    resend(email).await;
    assert_eq!(world.mail_count(), 1);
    world.clock.advance(chrono::Duration::seconds(1));
    resend(email).await;
    assert_eq!(world.mail_count(), 2, "60 s after the last mail");
    resend(email).await;
    assert_eq!(world.mail_count(), 2);

    // Five a day.
    for expected in 3..=5 {
        world.clock.advance(chrono::Duration::seconds(60));
        resend(email).await;
        assert_eq!(world.mail_count(), expected);
    }
    world.clock.advance(chrono::Duration::minutes(10));
    resend(email).await;
    assert_eq!(world.mail_count(), 5, "the sixth mail of the day");
    // Unknown addresses get the same answer and no mail.
    resend("nobody@example.test").await;
    assert_eq!(world.mail_count(), 5);
    let throttled_token = world.latest_verification_token(email);

    // 24 hours after the sign-up's mail, it no longer counts.
    world
        .clock
        .advance(chrono::Duration::hours(24) - chrono::Duration::minutes(14));
    resend(email).await;
    assert_eq!(world.mail_count(), 6);
    assert_ne!(world.latest_verification_token(email), throttled_token);
    world.finish().await;
}
