//! Revoked access stops everywhere, not only in iam-svc: every service
//! follows IAM's revocation events (sign-out, roles replaced, account
//! locked) and refuses the tokens they cover for the rest of their lifetime,
//! also after a restart (it replays the revocations stream).

use std::time::{Duration, Instant};

use ecommerce_e2e::{Session, Shop, Stack, StackOptions, Svc};
use ecommerce_proto::ecommerce::cart::v1 as cart_pb;
use ecommerce_proto::ecommerce::iam::v1 as iam_pb;
use ecommerce_test_support::with_bearer;
use tonic::Code;

/// Longest a revocation may take to reach another service in this test
/// (the event goes through iam's outbox relay and the broker).
const PROPAGATION: Duration = Duration::from_secs(15);

/// cart-svc's answer to `GetCart` with `session`'s access token: `Ok` or a
/// refusal other than UNAUTHENTICATED means the token was accepted.
async fn cart_accepts(shop: &Shop, session: &Session) -> Result<(), tonic::Status> {
    let request = with_bearer(cart_pb::GetCartRequest::default(), &session.access_token);
    match shop.cart_client().get_cart(request).await {
        Err(status) if status.code() == Code::Unauthenticated => Err(status),
        Ok(_) | Err(_) => Ok(()),
    }
}

/// Waits until cart-svc refuses `session`'s token; returns the refusal and how long it took.
async fn wait_for_refusal(shop: &Shop, session: &Session) -> (tonic::Status, Duration) {
    let started = Instant::now();
    loop {
        if let Err(status) = cart_accepts(shop, session).await {
            return (status, started.elapsed());
        }
        assert!(
            started.elapsed() < PROPAGATION,
            "cart-svc still accepts the token after {PROPAGATION:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_role_change_and_lock_stop_tokens_in_other_services_also_after_a_restart() {
    let mut stack = Stack::start(StackOptions::default()).await.unwrap();
    let shop = Shop::open(&stack).await.unwrap();
    let mut iam = shop.iam_client();

    // Sign-out: the session's still unexpired access token stops working.
    let signed_out = shop.customer().await.unwrap();
    let other_session = shop.customer().await.unwrap();
    cart_accepts(&shop, &signed_out).await.unwrap();
    iam.sign_out(iam_pb::SignOutRequest {
        refresh_token: signed_out.refresh_token.clone(),
    })
    .await
    .unwrap();
    let (status, took) = wait_for_refusal(&shop, &signed_out).await;
    assert!(
        status.message().contains("session has ended"),
        "{}",
        status.message()
    );
    println!("sign-out reached cart-svc in {took:?}");
    cart_accepts(&shop, &other_session).await.unwrap();

    // New roles: a token carrying the old ones stops; the refreshed one works.
    let promoted = shop.customer().await.unwrap();
    cart_accepts(&shop, &promoted).await.unwrap();
    iam.set_user_roles(with_bearer(
        iam_pb::SetUserRolesRequest {
            user_id: promoted.user_id.clone(),
            roles: vec!["admin".to_owned()],
        },
        &shop.admin.access_token,
    ))
    .await
    .unwrap();
    let (status, _) = wait_for_refusal(&shop, &promoted).await;
    assert!(
        status.message().contains("roles changed"),
        "{}",
        status.message()
    );
    let refreshed = iam
        .refresh_session(iam_pb::RefreshSessionRequest {
            refresh_token: promoted.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    let promoted = Session {
        access_token: refreshed.access_token,
        refresh_token: refreshed.refresh_token,
        ..promoted
    };
    cart_accepts(&shop, &promoted).await.unwrap();

    // Lock: failed sign-ins lock the account; its tokens stop.
    let locked = shop.customer().await.unwrap();
    cart_accepts(&shop, &locked).await.unwrap();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let status = iam
            .sign_in(iam_pb::SignInRequest {
                email: locked.email.clone(),
                password: "not the password".to_owned(),
            })
            .await
            .unwrap_err();
        if status.code() == Code::ResourceExhausted || attempts == 20 {
            break;
        }
    }
    let (status, _) = wait_for_refusal(&shop, &locked).await;
    assert!(status.message().contains("locked"), "{}", status.message());

    // A cart-svc killed and started again replays the stream: every
    // revocation still holds.
    stack.kill(Svc::Cart).await.unwrap();
    stack.restart(Svc::Cart).await.unwrap();
    for (session, reason) in [(&signed_out, "session has ended"), (&locked, "locked")] {
        let status = cart_accepts(&shop, session).await.unwrap_err();
        assert!(status.message().contains(reason), "{}", status.message());
    }
    cart_accepts(&shop, &promoted).await.unwrap();
    cart_accepts(&shop, &other_session).await.unwrap();
    stack.finish().await.unwrap();
}
