//! Prices and quotes through [`CatalogApp`]: prices take effect at their
//! time, quotes never see a future price and say why a SKU cannot be sold.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use catalog_svc::domain::price::QuoteStatus;
use chrono::TimeDelta;
use ecommerce_events::DecodedEvent;
use ecommerce_kernel::Clock as _;
use ecommerce_platform::grpc::{ErrorCode, ServiceError as _};

use crate::support::{
    Catalog, admin, amounts, anonymous, discontinue, find_quote, get, kind, quote, set_price,
    timestamp,
};

#[tokio::test]
async fn prices_take_effect_at_their_time_and_quotes_never_see_the_future() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;
    let product = catalog.published_product("Trail Shoe").await;
    let variant = catalog.variant(&product, "SHOE-42").await;
    let shopper = anonymous();
    let quote_eur = || app.quote_prices(&shopper, quote(&["SHOE-42"], "EUR"));

    assert_eq!(quote_eur().await.unwrap()[0].status, QuoteStatus::NotPriced);

    let first = catalog.set_price(&variant, 1000, "EUR").await;
    assert_eq!(first.effective_from, catalog.clock.now());
    let quoted = quote_eur().await.unwrap();
    assert_eq!(quoted[0].status, QuoteStatus::Available);
    assert_eq!(quoted[0].unit_price, Some(first));

    // A price from one hour on is stored and announced, not quoted yet.
    let later = catalog.clock.now() + TimeDelta::hours(1);
    let scheduled = app
        .set_price(&admin(), set_price(&variant, 1200, "EUR", Some(later)))
        .await
        .unwrap();
    assert_eq!(scheduled.effective_from, later);
    assert_eq!(quote_eur().await.unwrap()[0].unit_price, Some(first));
    let stored = app.get_product(&anonymous(), get(&product)).await.unwrap();
    assert_eq!(amounts(&stored.variants[0].current_prices), [(1000, "EUR")]);

    // Another currency is its own history.
    catalog.set_price(&variant, 1100, "USD").await;
    let stored = app.get_product(&anonymous(), get(&product)).await.unwrap();
    assert_eq!(
        amounts(&stored.variants[0].current_prices),
        [(1000, "EUR"), (1100, "USD")]
    );

    catalog.clock.advance(TimeDelta::minutes(59));
    assert_eq!(quote_eur().await.unwrap()[0].unit_price, Some(first));
    catalog.clock.advance(TimeDelta::minutes(1));
    assert_eq!(quote_eur().await.unwrap()[0].unit_price, Some(scheduled));

    // The price in effect, again: nothing recorded, nothing emitted.
    let events_before = catalog.events().await.len();
    let unchanged = catalog.set_price(&variant, 1200, "EUR").await;
    assert_eq!(unchanged, scheduled);
    assert_eq!(catalog.events().await.len(), events_before);

    // The past is refused before anything is read or written.
    let past = catalog.clock.now() - TimeDelta::hours(2);
    let error = app
        .set_price(&admin(), set_price(&variant, 999, "EUR", Some(past)))
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidArgument);
    assert_eq!(error.field(), Some("effective_from"));

    // An idempotent SetPrice records once.
    let keyed = |amount| {
        let mut command = set_price(&variant, amount, "EUR", None);
        command.idempotency_key =
            catalog_svc::domain::validation::IdempotencyKey::parse_optional("p-key").unwrap();
        command
    };
    let recorded = app.set_price(&admin(), keyed(1300)).await.unwrap();
    catalog.clock.advance(TimeDelta::seconds(1));
    assert_eq!(
        app.set_price(&admin(), keyed(1300)).await.unwrap(),
        recorded
    );
    assert_eq!(
        kind(app.set_price(&admin(), keyed(1400)).await).0,
        ErrorCode::FailedPrecondition
    );
    assert_eq!(
        catalog
            .schema
            .count("SELECT count(*) AS n FROM prices")
            .await,
        4
    );

    let changes: Vec<(Option<i64>, i64, String)> = catalog
        .events()
        .await
        .into_iter()
        .filter_map(|event| match event.event {
            DecodedEvent::CatalogPriceChangedV1(changed) => {
                assert_eq!(changed.sku, "SHOE-42");
                assert_eq!(changed.variant_id, variant.id.to_string());
                assert_eq!(event.aggregate_type, "variant");
                let new_price = changed.new_price.unwrap();
                Some((
                    changed.previous_price.map(|previous| previous.amount_minor),
                    new_price.amount_minor,
                    new_price.currency,
                ))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [
            (None, 1000, "EUR".to_owned()),
            (Some(1000), 1200, "EUR".to_owned()),
            (None, 1100, "USD".to_owned()),
            (Some(1200), 1300, "EUR".to_owned()),
        ]
    );
    let scheduled_event = catalog
        .events()
        .await
        .into_iter()
        .find_map(|event| match event.event {
            DecodedEvent::CatalogPriceChangedV1(changed)
                if changed.new_price.as_ref().map(|price| price.amount_minor) == Some(1200) =>
            {
                Some(changed)
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(scheduled_event.effective_from, Some(timestamp(later)));
    catalog.stop().await;
}

#[tokio::test]
async fn quotes_say_why_a_sku_cannot_be_sold() {
    let catalog = Catalog::start().await;
    let app = &catalog.app;
    let published = catalog.published_product("Trail Shoe").await;
    let draft = catalog.product("Secret Shoe").await;
    let available = catalog.variant(&published, "AVAILABLE").await;
    let unpriced = catalog.variant(&published, "UNPRICED").await;
    let discontinued = catalog.variant(&published, "GONE").await;
    let hidden = catalog.variant(&draft, "HIDDEN").await;
    for variant in [&available, &discontinued, &hidden] {
        catalog.set_price(variant, 500, "EUR").await;
    }
    catalog.set_price(&unpriced, 500, "USD").await;
    app.discontinue_variant(&admin(), discontinue(&discontinued))
        .await
        .unwrap();

    let quotes = app
        .quote_prices(
            &anonymous(),
            quote(
                &[
                    "UNPRICED",
                    "AVAILABLE",
                    "MISSING",
                    "GONE",
                    "HIDDEN",
                    "AVAILABLE",
                ],
                "EUR",
            ),
        )
        .await
        .unwrap();
    let summary: Vec<(&str, QuoteStatus)> = quotes
        .iter()
        .map(|quote| (quote.sku.as_str(), quote.status))
        .collect();
    assert_eq!(
        summary,
        [
            ("UNPRICED", QuoteStatus::NotPriced),
            ("AVAILABLE", QuoteStatus::Available),
            ("MISSING", QuoteStatus::NotFound),
            ("GONE", QuoteStatus::Discontinued),
            ("HIDDEN", QuoteStatus::NotPublished),
        ]
    );
    let by_sku = |sku: &str| find_quote(&quotes, sku).clone();
    let sellable = by_sku("AVAILABLE");
    assert_eq!(sellable.variant_id, Some(available.id));
    assert_eq!(sellable.product_id, Some(published.id));
    assert_eq!(sellable.title.as_ref().unwrap().as_str(), "Trail Shoe");
    assert_eq!(sellable.unit_price.unwrap().amount.amount_minor(), 500);
    let missing = by_sku("MISSING");
    assert_eq!((missing.variant_id, missing.product_id), (None, None));
    assert_eq!(missing.title, None);
    // Prices only come with AVAILABLE; a draft's title stays private.
    assert_eq!(by_sku("GONE").unit_price, None);
    assert_eq!(by_sku("HIDDEN").unit_price, None);
    assert_eq!(by_sku("HIDDEN").title, None);
    let as_admin = app
        .quote_prices(&admin(), quote(&["HIDDEN"], "EUR"))
        .await
        .unwrap();
    assert_eq!(as_admin[0].title.as_ref().unwrap().as_str(), "Secret Shoe");
    catalog.stop().await;
}
