//! reporting-svc's API in a small stack (the registry, IAM for tokens,
//! reporting-svc): every report is for admins only and checks its request,
//! naming the field it refuses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime};

use ecommerce_e2e::shop;
use ecommerce_e2e::{Stack, StackOptions, Svc};
use ecommerce_proto::ecommerce::reporting::v1 as pb;
use ecommerce_proto::ecommerce::reporting::v1::reporting_service_client::ReportingServiceClient;
use ecommerce_test_support::with_bearer;
use prost_types::Timestamp;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

fn timestamp(at: SystemTime) -> Option<Timestamp> {
    Some(Timestamp::from(at))
}

/// `message` with `token` as its bearer, or without one.
fn as_<T>(token: Option<&str>, message: T) -> tonic::Request<T> {
    match token {
        Some(token) => with_bearer(message, token),
        None => tonic::Request::new(message),
    }
}

/// Asserts `result` is INVALID_ARGUMENT naming one of `fields`, in its
/// bad-request violations or its message.
fn assert_invalid(result: Result<impl std::fmt::Debug, Status>, fields: &[&str], what: &str) {
    let status = result.map(|_| ()).expect_err(what);
    assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
    let violations: Vec<String> = status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|violation| violation.field)
                .collect()
        })
        .unwrap_or_default();
    assert!(
        fields.iter().any(|field| {
            violations.iter().any(|violation| violation == field)
                || status.message().contains(field)
        }),
        "{what}: names one of {fields:?}: {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_admin_only_and_validate_their_requests() {
    // Nothing is sold: IAM for the tokens, the registry every stack has.
    let stack = Stack::start(StackOptions {
        services: &[Svc::Registry, Svc::Iam, Svc::Reporting],
        ..StackOptions::default()
    })
    .await
    .unwrap();
    let admin = shop::admin_session(&stack).await.unwrap();
    let customer = shop::new_customer(&stack).await.unwrap();
    let client = ReportingServiceClient::new(stack.channel(Svc::Reporting));
    let now = SystemTime::now();
    let (from, to) = (
        timestamp(now - Duration::from_secs(3_600)),
        timestamp(now + Duration::from_secs(3_600)),
    );
    let sales = pb::GetSalesSummaryRequest {
        from,
        to,
        ..Default::default()
    };
    let top = pb::TopProductsRequest { from, to, limit: 0 };
    let funnel = pb::GetFunnelRequest { from, to };
    let low = pb::ListLowStockRequest::default();

    // Who may ask: nobody without a valid token, no customer, the admin.
    let callers: [(Option<&str>, Option<Code>); 4] = [
        (None, Some(Code::Unauthenticated)),
        (Some("not-a-token"), Some(Code::Unauthenticated)),
        (Some(&customer.access_token), Some(Code::PermissionDenied)),
        (Some(&admin.access_token), None),
    ];
    let mut client = client;
    for (token, refused) in callers {
        let outcomes = [
            (
                "GetSalesSummary",
                client
                    .get_sales_summary(as_(token, sales.clone()))
                    .await
                    .err(),
            ),
            (
                "TopProducts",
                client.top_products(as_(token, top)).await.err(),
            ),
            (
                "GetFunnel",
                client.get_funnel(as_(token, funnel)).await.err(),
            ),
            (
                "ListLowStock",
                client.list_low_stock(as_(token, low.clone())).await.err(),
            ),
        ];
        for (rpc, error) in outcomes {
            let code = error.as_ref().map(Status::code);
            assert_eq!(code, refused, "{rpc} with token {token:?}: {error:?}");
        }
    }
    let admin = Some(admin.access_token.as_str());

    // The range: both ends required, `from` before `to`.
    let later = timestamp(now + Duration::from_secs(7_200));
    for (from, to, fields, what) in [
        (None, to, &["from"][..], "no from"),
        (from, None, &["to"][..], "no to"),
        (from, from, &["from", "to"][..], "from == to"),
        (later, to, &["from", "to"][..], "from > to"),
    ] {
        let sales = pb::GetSalesSummaryRequest {
            from,
            to,
            ..Default::default()
        };
        let result = client.get_sales_summary(as_(admin, sales)).await;
        assert_invalid(result, fields, &format!("GetSalesSummary: {what}"));
        let top = pb::TopProductsRequest { from, to, limit: 0 };
        let result = client.top_products(as_(admin, top)).await;
        assert_invalid(result, fields, &format!("TopProducts: {what}"));
        let funnel = pb::GetFunnelRequest { from, to };
        let result = client.get_funnel(as_(admin, funnel)).await;
        assert_invalid(result, fields, &format!("GetFunnel: {what}"));
    }

    // Sizes and limits: 0 is the default, more than the most is capped.
    for size in [0, 1, 100, 1_000] {
        let sales = pb::GetSalesSummaryRequest {
            page_size: size,
            ..sales.clone()
        };
        client.get_sales_summary(as_(admin, sales)).await.unwrap();
        let low = pb::ListLowStockRequest {
            page_size: size,
            ..low.clone()
        };
        client.list_low_stock(as_(admin, low)).await.unwrap();
        let top = pb::TopProductsRequest { limit: size, ..top };
        client.top_products(as_(admin, top)).await.unwrap();
    }
    // Negative or garbage is refused, naming the field.
    let garbage = "not-a-page-token".to_owned();
    let bad_sales = [
        (
            pb::GetSalesSummaryRequest {
                page_size: -1,
                ..sales.clone()
            },
            "page_size",
        ),
        (
            pb::GetSalesSummaryRequest {
                page_token: garbage.clone(),
                ..sales.clone()
            },
            "page_token",
        ),
    ];
    for (request, field) in bad_sales {
        let result = client.get_sales_summary(as_(admin, request)).await;
        assert_invalid(result, &[field], &format!("GetSalesSummary: a bad {field}"));
    }
    let bad_low = [
        (
            pb::ListLowStockRequest {
                threshold: -1,
                ..low.clone()
            },
            "threshold",
        ),
        (
            pb::ListLowStockRequest {
                page_size: -1,
                ..low.clone()
            },
            "page_size",
        ),
        (
            pb::ListLowStockRequest {
                page_token: garbage,
                ..low.clone()
            },
            "page_token",
        ),
    ];
    for (request, field) in bad_low {
        let result = client.list_low_stock(as_(admin, request)).await;
        assert_invalid(result, &[field], &format!("ListLowStock: a bad {field}"));
    }
    let result = client
        .top_products(as_(admin, pb::TopProductsRequest { limit: -1, ..top }))
        .await;
    assert_invalid(result, &["limit"], "TopProducts: limit -1");

    // An empty shop: no periods, no products, an empty funnel, no stock.
    let empty = client.get_sales_summary(as_(admin, sales)).await.unwrap();
    assert_eq!(empty.into_inner(), pb::GetSalesSummaryResponse::default());
    let empty = client.top_products(as_(admin, top)).await.unwrap();
    assert_eq!(empty.into_inner(), pb::TopProductsResponse::default());
    let empty = client.get_funnel(as_(admin, funnel)).await.unwrap();
    assert_eq!(empty.into_inner(), pb::GetFunnelResponse::default());
    let empty = client.list_low_stock(as_(admin, low)).await.unwrap();
    assert_eq!(empty.into_inner(), pb::ListLowStockResponse::default());
    stack.finish().await.unwrap();
}
