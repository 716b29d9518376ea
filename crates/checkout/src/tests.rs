//! Signing and verifying end to end: every tamper, key, clock and content
//! rule, each on a snapshot that is otherwise correctly signed, so the
//! check under test is the one that fires.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use ecommerce_kernel::MAX_AMOUNT_MINOR;
use ecommerce_proto::ecommerce::common::v1::Money as PbMoney;
use ecommerce_proto::ecommerce::orders::v1::{CheckoutLine, CheckoutSnapshot};
use prost::Message as _;
use prost_types::{DescriptorProto, FileDescriptorSet};

use super::*;

const KEY: [u8; 32] = [0x5a; 32];
const OTHER_KEY: [u8; 32] = [0xa5; 32];
const CHECKOUT_KEY: &str = "0190e0c6-checkout-key";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

fn keys() -> SnapshotKeys {
    SnapshotKey::from_bytes(&KEY).unwrap().into()
}

fn eur(amount_minor: i64) -> Option<PbMoney> {
    Some(PbMoney {
        amount_minor,
        currency: "EUR".to_owned(),
    })
}

fn line(sku: &str, quantity: i32, unit_price: i64) -> CheckoutLine {
    CheckoutLine {
        sku: sku.to_owned(),
        variant_id: "0190e0c6-8a8f-7b3e-9b5e-000000000001".to_owned(),
        product_id: "0190e0c6-8a8f-7b3e-9b5e-000000000002".to_owned(),
        title: "Trail shoe".to_owned(),
        quantity,
        unit_price: eur(unit_price),
        line_total: eur(unit_price * i64::from(quantity)),
    }
}

/// Two lines (2 × 49.50 + 1 × 10.00) plus 5.00 shipping, issued a minute
/// ago, valid for five minutes.
fn snapshot() -> CheckoutSnapshot {
    CheckoutSnapshot {
        cart_id: "0190e0c6-8a8f-7b3e-9b5e-00000000000a".to_owned(),
        cart_version: 7,
        user_id: "0190e0c6-8a8f-7b3e-9b5e-00000000000b".to_owned(),
        lines: vec![line("SHOE-42", 2, 4_950), line("SOCK-1", 1, 1_000)],
        subtotal: eur(10_900),
        shipping_option_id: "0190e0c6-8a8f-7b3e-9b5e-00000000000c".to_owned(),
        shipping_price: eur(500),
        total: eur(11_400),
        currency: "EUR".to_owned(),
        issued_at: Some(ecommerce_proto::timestamp(now() - Duration::minutes(1))),
        expires_at: Some(ecommerce_proto::timestamp(now() + Duration::minutes(4))),
        payment_method_token: "pm_card_visa".to_owned(),
        checkout_key: CHECKOUT_KEY.to_owned(),
    }
}

/// Signs `snapshot` with [`KEY`] and verifies it at [`now`].
fn sign_and_verify(snapshot: &CheckoutSnapshot) -> Result<VerifiedCheckout, SnapshotError> {
    let signed = sign(snapshot, keys().signing_key());
    verify(
        &signed.bytes,
        &signed.signature,
        CHECKOUT_KEY,
        &keys(),
        now(),
    )
}

/// The field of the error verifying `snapshot` gives.
fn refused_at(snapshot: &CheckoutSnapshot) -> String {
    let error = sign_and_verify(snapshot).unwrap_err();
    assert_eq!(
        error.code(),
        ecommerce_platform::grpc::ErrorCode::InvalidArgument,
        "{error}"
    );
    error.field().to_owned()
}

#[test]
fn a_signed_snapshot_round_trips() {
    let checkout = sign_and_verify(&snapshot()).unwrap();
    assert_eq!(checkout.lines.len(), 2);
    assert_eq!(checkout.lines[0].sku, "SHOE-42");
    assert_eq!(checkout.lines[0].quantity, 2);
    assert_eq!(checkout.lines[0].line_total.amount_minor(), 9_900);
    assert_eq!(checkout.subtotal.amount_minor(), 10_900);
    assert_eq!(checkout.shipping_price.amount_minor(), 500);
    assert_eq!(checkout.total.amount_minor(), 11_400);
    assert_eq!(checkout.currency.code(), "EUR");
    assert_eq!(checkout.cart_version, 7);
    assert_eq!(checkout.issued_at, now() - Duration::minutes(1));
    assert_eq!(checkout.expires_at, now() + Duration::minutes(4));
    assert_eq!(checkout.payment_method_token.expose(), "pm_card_visa");
    assert_eq!(checkout.checkout_key.as_str(), CHECKOUT_KEY);
    assert_eq!(
        checkout.user_id.to_string(),
        "0190e0c6-8a8f-7b3e-9b5e-00000000000b"
    );
}

#[test]
fn the_request_helpers_carry_the_checkout_key() {
    let request = sign(&snapshot(), keys().signing_key()).into_place_order_request();
    assert_eq!(request.idempotency_key, CHECKOUT_KEY);
    assert!(verify_request(&request, &keys(), now()).is_ok());
}

#[test]
fn the_encoding_is_deterministic_and_the_signature_is_hmac_sha256() {
    let first = sign(&snapshot(), keys().signing_key());
    let second = sign(&snapshot(), keys().signing_key());
    assert_eq!(first, second);
    assert_eq!(first.bytes, snapshot().encode_to_vec());
    assert_eq!(first.signature.len(), SIGNATURE_LEN);

    // RFC 4231 test case 6 (a 131-byte key), so the tag is standard
    // HMAC-SHA256 and nothing home-made.
    let mut mac = SnapshotKey::from_bytes(&[0xaa; 131]).unwrap().mac();
    hmac::Mac::update(
        &mut mac,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
    );
    let tag: String = hmac::Mac::finalize(mac)
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(
        tag,
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}

#[test]
fn the_digest_is_sha256_of_the_signed_bytes_and_tells_checkouts_apart() {
    let signed = sign(&snapshot(), keys().signing_key());
    let resent = signed.clone();
    assert_eq!(signed.digest(), resent.digest());
    assert_eq!(signed.digest(), SnapshotDigest::of(&signed.bytes));
    // The signature is not covered: a rotation re-signs the same checkout.
    let other_signature = sign(&snapshot(), &SnapshotKey::from_bytes(&OTHER_KEY).unwrap());
    assert_eq!(other_signature.digest(), signed.digest());
    // Any other snapshot, even one only re-issued a second later, differs.
    let mut reissued = snapshot();
    reissued.issued_at = Some(ecommerce_proto::timestamp(now() + Duration::seconds(1)));
    assert_ne!(
        sign(&reissued, keys().signing_key()).digest(),
        signed.digest()
    );
    // Stored and read back; a wrong length is refused, not padded.
    let digest = signed.digest();
    assert_eq!(SnapshotDigest::from_slice(digest.as_bytes()), Some(digest));
    assert_eq!(SnapshotDigest::from_slice(&[0; 31]), None);
    // FIPS 180-2 test vector, so the digest is standard SHA-256.
    assert_eq!(
        SnapshotDigest::of(b"abc").to_string(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(format!("{digest:?}").starts_with("SnapshotDigest("));
}

/// prost writes map entries in the map's iteration order; the snapshot must
/// never grow one (nor may anything it contains).
#[test]
fn the_snapshot_has_no_map_fields() {
    let set = FileDescriptorSet::decode(ecommerce_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut messages: HashMap<String, &DescriptorProto> = HashMap::new();
    fn collect<'a>(
        prefix: &str,
        message: &'a DescriptorProto,
        into: &mut HashMap<String, &'a DescriptorProto>,
    ) {
        let name = format!("{prefix}.{}", message.name());
        for nested in &message.nested_type {
            collect(&name, nested, into);
        }
        into.insert(name, message);
    }
    for file in &set.file {
        for message in &file.message_type {
            collect(&format!(".{}", file.package()), message, &mut messages);
        }
    }
    let mut pending = vec![".ecommerce.orders.v1.CheckoutSnapshot".to_owned()];
    let mut seen = HashSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let message = messages[&name];
        let is_map = message
            .options
            .as_ref()
            .is_some_and(|options| options.map_entry());
        assert!(!is_map, "{name} is a map entry");
        for field in &message.field {
            if !field.type_name().is_empty() {
                pending.push(field.type_name().to_owned());
            }
        }
    }
    assert!(seen.contains(".ecommerce.orders.v1.CheckoutLine"));
    assert!(seen.contains(".ecommerce.common.v1.Money"));
}

#[test]
fn flipping_any_bit_of_the_snapshot_is_caught() {
    let signed = sign(&snapshot(), keys().signing_key());
    for index in 0..signed.bytes.len() {
        for bit in [0x01, 0x80] {
            let mut tampered = signed.bytes.clone();
            tampered[index] ^= bit;
            assert_eq!(
                verify(&tampered, &signed.signature, CHECKOUT_KEY, &keys(), now()),
                Err(SnapshotError::SignatureMismatch),
                "byte {index}"
            );
        }
    }
}

#[test]
fn flipping_any_bit_of_the_signature_is_caught() {
    let signed = sign(&snapshot(), keys().signing_key());
    for index in 0..SIGNATURE_LEN {
        for bit in [0x01, 0x80] {
            let mut tampered = signed.signature.clone();
            tampered[index] ^= bit;
            let error = verify(&signed.bytes, &tampered, CHECKOUT_KEY, &keys(), now());
            assert_eq!(error, Err(SnapshotError::SignatureMismatch), "byte {index}");
        }
    }
}

#[test]
fn truncated_extended_and_missing_snapshots_and_signatures_are_caught() {
    let signed = sign(&snapshot(), keys().signing_key());
    let verify_with =
        |bytes: &[u8], signature: &[u8]| verify(bytes, signature, CHECKOUT_KEY, &keys(), now());
    assert_eq!(
        verify_with(&signed.bytes, &signed.signature[..31]),
        Err(SnapshotError::SignatureLength { length: 31 })
    );
    assert_eq!(
        verify_with(&signed.bytes, &signed.signature[..16]),
        Err(SnapshotError::SignatureLength { length: 16 })
    );
    assert_eq!(
        verify_with(&signed.bytes, &[]),
        Err(SnapshotError::SignatureLength { length: 0 })
    );
    let mut longer = signed.signature.clone();
    longer.push(0);
    assert_eq!(
        verify_with(&signed.bytes, &longer),
        Err(SnapshotError::SignatureLength { length: 33 })
    );
    let truncated = &signed.bytes[..signed.bytes.len() - 1];
    assert_eq!(
        verify_with(truncated, &signed.signature),
        Err(SnapshotError::SignatureMismatch)
    );
    let mut extended = signed.bytes.clone();
    extended.extend_from_slice(&[0x08, 0x01]);
    assert_eq!(
        verify_with(&extended, &signed.signature),
        Err(SnapshotError::SignatureMismatch)
    );
    assert_eq!(
        verify_with(&[], &signed.signature),
        Err(SnapshotError::SignatureMismatch)
    );
    assert_eq!(
        verify_with(&vec![0; MAX_SNAPSHOT_BYTES + 1], &signed.signature),
        Err(SnapshotError::TooLarge {
            length: MAX_SNAPSHOT_BYTES + 1
        })
    );
}

#[test]
fn a_snapshot_signed_with_another_key_is_refused() {
    let other = SnapshotKey::from_bytes(&OTHER_KEY).unwrap();
    let signed = sign(&snapshot(), &other);
    assert_eq!(
        verify(
            &signed.bytes,
            &signed.signature,
            CHECKOUT_KEY,
            &keys(),
            now()
        ),
        Err(SnapshotError::SignatureMismatch)
    );
}

#[test]
fn previous_keys_still_verify_during_a_rotation() {
    let old = SnapshotKey::from_bytes(&OTHER_KEY).unwrap();
    let signed_with_old = sign(&snapshot(), &old);
    let rotated = SnapshotKeys::new(
        SnapshotKey::from_bytes(&KEY).unwrap(),
        vec![SnapshotKey::from_bytes(&OTHER_KEY).unwrap()],
    );
    assert!(
        verify(
            &signed_with_old.bytes,
            &signed_with_old.signature,
            CHECKOUT_KEY,
            &rotated,
            now()
        )
        .is_ok()
    );
    let signed_with_new = sign(&snapshot(), rotated.signing_key());
    assert!(
        verify(
            &signed_with_new.bytes,
            &signed_with_new.signature,
            CHECKOUT_KEY,
            &rotated,
            now()
        )
        .is_ok()
    );
    // The old key alone no longer accepts what the new key signed.
    let old_only: SnapshotKeys = old.into();
    assert_eq!(
        verify(
            &signed_with_new.bytes,
            &signed_with_new.signature,
            CHECKOUT_KEY,
            &old_only,
            now()
        ),
        Err(SnapshotError::SignatureMismatch)
    );
}

#[test]
fn signed_garbage_is_malformed_not_a_panic() {
    let key = SnapshotKey::from_bytes(&KEY).unwrap();
    for garbage in [
        &[0xff_u8, 0xff, 0xff][..],
        &[0x0a, 0x05, b'a'][..],
        &[0x07][..],
    ] {
        let mut mac = key.mac();
        hmac::Mac::update(&mut mac, garbage);
        let signature = hmac::Mac::finalize(mac).into_bytes().to_vec();
        let error = verify(garbage, &signature, CHECKOUT_KEY, &keys(), now()).unwrap_err();
        assert!(matches!(error, SnapshotError::Malformed { .. }), "{error}");
        assert_eq!(error.field(), "snapshot");
    }
}

#[test]
fn the_checkout_key_must_match_the_request() {
    let signed = sign(&snapshot(), keys().signing_key());
    for request_key in ["another-key", "", "0190E0C6-CHECKOUT-KEY"] {
        let error = verify(
            &signed.bytes,
            &signed.signature,
            request_key,
            &keys(),
            now(),
        );
        assert_eq!(
            error,
            Err(SnapshotError::CheckoutKeyMismatch),
            "{request_key}"
        );
    }
}

#[test]
fn an_expired_snapshot_is_a_failed_precondition() {
    let signed = sign(&snapshot(), keys().signing_key());
    let expires_at = now() + Duration::minutes(4);
    let at = |when| {
        verify(
            &signed.bytes,
            &signed.signature,
            CHECKOUT_KEY,
            &keys(),
            when,
        )
    };
    assert!(
        at(expires_at).is_ok(),
        "valid up to and including expires_at"
    );
    let error = at(expires_at + Duration::microseconds(1)).unwrap_err();
    assert_eq!(
        error,
        SnapshotError::Expired {
            expires_at,
            now: expires_at + Duration::microseconds(1)
        }
    );
    assert_eq!(
        error.code(),
        ecommerce_platform::grpc::ErrorCode::FailedPrecondition
    );
    assert_eq!(error.field(), "snapshot.expires_at");
}

#[test]
fn expiry_is_reported_only_for_otherwise_acceptable_snapshots() {
    let signed = sign(&snapshot(), keys().signing_key());
    let late = now() + Duration::hours(2);
    let mut tampered = signed.signature.clone();
    tampered[0] ^= 1;
    assert_eq!(
        verify(&signed.bytes, &tampered, CHECKOUT_KEY, &keys(), late),
        Err(SnapshotError::SignatureMismatch)
    );
    assert_eq!(
        verify(&signed.bytes, &signed.signature, "other", &keys(), late),
        Err(SnapshotError::CheckoutKeyMismatch)
    );
    let mut broken = snapshot();
    broken.total = eur(1);
    let broken = sign(&broken, keys().signing_key());
    let error = verify(
        &broken.bytes,
        &broken.signature,
        CHECKOUT_KEY,
        &keys(),
        late,
    );
    assert!(matches!(error, Err(SnapshotError::Invalid(_))), "{error:?}");
}

#[test]
fn issued_at_may_be_ahead_only_by_the_clock_skew() {
    let signed = sign(&snapshot(), keys().signing_key());
    let issued_at = now() - Duration::minutes(1);
    let at = |when| {
        verify(
            &signed.bytes,
            &signed.signature,
            CHECKOUT_KEY,
            &keys(),
            when,
        )
    };
    assert!(at(issued_at - MAX_CLOCK_SKEW).is_ok());
    let early = issued_at - MAX_CLOCK_SKEW - Duration::seconds(1);
    assert_eq!(
        at(early),
        Err(SnapshotError::IssuedInFuture {
            issued_at,
            now: early
        })
    );
}

#[test]
fn inconsistent_totals_are_refused_naming_the_total() {
    let mut wrong_line = snapshot();
    wrong_line.lines[0].line_total = eur(9_899);
    assert_eq!(refused_at(&wrong_line), "snapshot.lines[0].line_total");

    let mut wrong_subtotal = snapshot();
    wrong_subtotal.subtotal = eur(10_901);
    assert_eq!(refused_at(&wrong_subtotal), "snapshot.subtotal");

    let mut wrong_total = snapshot();
    wrong_total.total = eur(10_900);
    assert_eq!(refused_at(&wrong_total), "snapshot.total");
    let message = sign_and_verify(&wrong_total).unwrap_err().to_string();
    assert!(message.contains("11400"), "{message}");

    // Consistent among themselves but not with the lines.
    let mut shifted = snapshot();
    shifted.subtotal = eur(20_000);
    shifted.total = eur(20_500);
    assert_eq!(refused_at(&shifted), "snapshot.subtotal");
}

#[test]
fn arithmetic_overflow_is_refused_not_wrapped() {
    let mut line_overflow = snapshot();
    line_overflow.lines[0].unit_price = eur(MAX_AMOUNT_MINOR);
    line_overflow.lines[0].line_total = eur(MAX_AMOUNT_MINOR.wrapping_mul(2));
    assert_eq!(
        refused_at(&line_overflow),
        "snapshot.lines[0].line_total.amount_minor"
    );
    line_overflow.lines[0].line_total = eur(MAX_AMOUNT_MINOR);
    assert_eq!(refused_at(&line_overflow), "snapshot.lines[0].line_total");

    let mut near_i64_max = snapshot();
    near_i64_max.lines[0].quantity = i32::MAX;
    near_i64_max.lines[0].unit_price = eur(MAX_AMOUNT_MINOR);
    near_i64_max.lines[0].line_total = eur(i64::MAX);
    assert_eq!(
        refused_at(&near_i64_max),
        "snapshot.lines[0].line_total.amount_minor"
    );

    let mut subtotal_overflow = snapshot();
    subtotal_overflow.lines = vec![
        line("A", 1, MAX_AMOUNT_MINOR),
        line("B", 1, MAX_AMOUNT_MINOR),
    ];
    subtotal_overflow.subtotal = eur(MAX_AMOUNT_MINOR);
    assert_eq!(refused_at(&subtotal_overflow), "snapshot.subtotal");

    let mut total_overflow = snapshot();
    total_overflow.lines = vec![line("A", 1, MAX_AMOUNT_MINOR)];
    total_overflow.subtotal = eur(MAX_AMOUNT_MINOR);
    total_overflow.shipping_price = eur(1);
    total_overflow.total = eur(MAX_AMOUNT_MINOR);
    assert_eq!(refused_at(&total_overflow), "snapshot.total");

    let mut at_the_limit = snapshot();
    at_the_limit.lines = vec![line("A", 1, MAX_AMOUNT_MINOR - 1)];
    at_the_limit.subtotal = eur(MAX_AMOUNT_MINOR - 1);
    at_the_limit.shipping_price = eur(1);
    at_the_limit.total = eur(MAX_AMOUNT_MINOR);
    assert!(sign_and_verify(&at_the_limit).is_ok());
}

#[test]
fn lines_need_positive_quantities_and_unique_skus() {
    let mut empty = snapshot();
    empty.lines.clear();
    assert_eq!(refused_at(&empty), "snapshot.lines");

    let mut too_many = snapshot();
    too_many.lines = (0..=MAX_LINES)
        .map(|i| line(&format!("SKU-{i}"), 1, 1))
        .collect();
    too_many.subtotal = eur(i64::try_from(MAX_LINES + 1).unwrap());
    assert_eq!(refused_at(&too_many), "snapshot.lines");

    for quantity in [0, -1, i32::MIN] {
        let mut bad = snapshot();
        bad.lines[1].quantity = quantity;
        bad.lines[1].line_total = eur(0);
        assert_eq!(refused_at(&bad), "snapshot.lines[1].quantity", "{quantity}");
    }

    let mut duplicate = snapshot();
    duplicate.lines[1].sku = "SHOE-42".to_owned();
    assert_eq!(refused_at(&duplicate), "snapshot.lines[1].sku");

    for sku in ["", "SHOE 42", "SHOE\u{0}42"] {
        let mut bad = snapshot();
        bad.lines[0].sku = sku.to_owned();
        assert_eq!(refused_at(&bad), "snapshot.lines[0].sku", "{sku:?}");
    }
    let mut no_title = snapshot();
    no_title.lines[0].title.clear();
    assert_eq!(refused_at(&no_title), "snapshot.lines[0].title");
    let mut bad_variant = snapshot();
    bad_variant.lines[0].variant_id = "shoe".to_owned();
    assert_eq!(refused_at(&bad_variant), "snapshot.lines[0].variant_id");
    let mut nil_product = snapshot();
    nil_product.lines[0].product_id = uuid::Uuid::nil().to_string();
    assert_eq!(refused_at(&nil_product), "snapshot.lines[0].product_id");
}

#[test]
fn amounts_are_non_negative_and_in_the_one_currency() {
    let mut negative_price = snapshot();
    negative_price.lines[1].unit_price = eur(-1_000);
    negative_price.lines[1].line_total = eur(-1_000);
    assert_eq!(
        refused_at(&negative_price),
        "snapshot.lines[1].unit_price.amount_minor"
    );

    let mut negative_shipping = snapshot();
    negative_shipping.shipping_price = eur(-500);
    negative_shipping.total = eur(10_400);
    assert_eq!(
        refused_at(&negative_shipping),
        "snapshot.shipping_price.amount_minor"
    );

    let mut mixed = snapshot();
    mixed.lines[1].unit_price = Some(PbMoney {
        amount_minor: 1_000,
        currency: "USD".to_owned(),
    });
    assert_eq!(refused_at(&mixed), "snapshot.lines[1].unit_price.currency");

    let mut mixed_total = snapshot();
    mixed_total.total = Some(PbMoney {
        amount_minor: 11_400,
        currency: "eur".to_owned(),
    });
    assert_eq!(refused_at(&mixed_total), "snapshot.total.currency");

    for currency in ["", "eur", "XXX", "EURO"] {
        let mut unknown = snapshot();
        unknown.currency = currency.to_owned();
        assert_eq!(refused_at(&unknown), "snapshot.currency", "{currency}");
    }

    let mut missing = snapshot();
    missing.shipping_price = None;
    assert_eq!(refused_at(&missing), "snapshot.shipping_price");

    let mut free = snapshot();
    free.lines = vec![line("GIFT", 1, 0)];
    free.subtotal = eur(0);
    free.shipping_price = eur(0);
    free.total = eur(0);
    assert_eq!(sign_and_verify(&free).unwrap().total.amount_minor(), 0);
}

#[test]
fn ids_tokens_and_times_are_checked() {
    type Break = fn(&mut CheckoutSnapshot);
    let cases: [(&str, Break); 12] = [
        ("snapshot.cart_id", |s| s.cart_id = "cart".to_owned()),
        ("snapshot.cart_version", |s| s.cart_version = -1),
        ("snapshot.user_id", |s| s.user_id.clear()),
        ("snapshot.shipping_option_id", |s| {
            s.shipping_option_id = "standard".to_owned()
        }),
        ("snapshot.payment_method_token", |s| {
            s.payment_method_token.clear()
        }),
        ("snapshot.payment_method_token", |s| {
            s.payment_method_token = "pm card".to_owned()
        }),
        ("snapshot.issued_at", |s| s.issued_at = None),
        ("snapshot.expires_at", |s| s.expires_at = None),
        ("snapshot.expires_at", |s| s.expires_at = s.issued_at),
        ("snapshot.expires_at", |s| {
            s.expires_at = Some(ecommerce_proto::timestamp(
                now() - Duration::minutes(1) + MAX_SNAPSHOT_LIFETIME + Duration::seconds(1),
            ))
        }),
        ("snapshot.issued_at", |s| {
            s.issued_at = Some(prost_types::Timestamp {
                seconds: 0,
                nanos: -1,
            })
        }),
        ("snapshot.issued_at", |s| {
            s.issued_at = Some(prost_types::Timestamp {
                seconds: i64::MAX,
                nanos: 0,
            })
        }),
    ];
    for (field, break_it) in cases {
        let mut broken = snapshot();
        break_it(&mut broken);
        assert_eq!(refused_at(&broken), field);
    }

    // An empty checkout key on both sides matches, then fails validation.
    let mut no_key = snapshot();
    no_key.checkout_key.clear();
    let signed = sign(&no_key, keys().signing_key());
    let error = verify(&signed.bytes, &signed.signature, "", &keys(), now()).unwrap_err();
    assert_eq!(error.field(), "snapshot.checkout_key");
}

#[test]
fn cart_can_check_a_snapshot_before_signing_it() {
    assert_eq!(check_snapshot(&snapshot()), Ok(()));
    let mut broken = snapshot();
    broken.lines.clear();
    assert_eq!(
        check_snapshot(&broken).unwrap_err().field(),
        "snapshot.lines"
    );
}

#[test]
fn nothing_prints_the_payment_method_token() {
    let checkout = sign_and_verify(&snapshot()).unwrap();
    let debug = format!("{checkout:?}");
    assert!(!debug.contains("pm_card_visa"), "{debug}");
    assert!(debug.contains("PaymentMethodToken(<redacted>)"), "{debug}");
    let signed = format!("{:?}", sign(&snapshot(), keys().signing_key()));
    assert!(!signed.contains("pm_card_visa"), "{signed}");
    let mut bad = snapshot();
    bad.payment_method_token = "pm card visa".to_owned();
    let error = sign_and_verify(&bad).unwrap_err().to_string();
    assert!(!error.contains("visa"), "{error}");
}
