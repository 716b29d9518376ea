//! The committed documents under docs/asyncapi are exactly what the
//! declarations generate, and `check`/`write` say and fix any difference.

use std::fs;

use ecommerce_asyncapi::{Drift, REGENERATE, check, default_dir, generate, write};

#[test]
fn the_committed_documents_are_the_generated_ones() {
    let drift = check(&default_dir()).unwrap();
    assert!(
        drift.is_empty(),
        "the AsyncAPI documents differ from what the topology and the proto \
         descriptors generate:\n{}\nrun `{REGENERATE}` and commit the result",
        drift
            .iter()
            .map(|difference| format!("  {difference}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn check_names_each_difference_and_write_fixes_them() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("asyncapi");
    let generated = generate().unwrap();
    assert_eq!(check(&docs).unwrap().len(), generated.len());

    write(&docs).unwrap();
    assert_eq!(check(&docs).unwrap(), Vec::new());

    let orders = docs.join("orders-svc.json");
    let payments = docs.join("payments-svc.json");
    let stray = docs.join("gone-svc.json");
    fs::write(&orders, "{}\n").unwrap();
    fs::remove_file(&payments).unwrap();
    fs::write(&stray, "{}\n").unwrap();
    fs::write(docs.join("notes.txt"), "not a document").unwrap();
    let drift = check(&docs).unwrap();
    assert_eq!(
        drift,
        vec![
            Drift::Differs(orders.clone()),
            Drift::Missing(payments.clone()),
            Drift::Unexpected(stray.clone()),
        ]
    );
    assert!(
        drift[0].to_string().contains("orders-svc.json"),
        "{}",
        drift[0]
    );

    let mut changed = write(&docs).unwrap();
    changed.sort();
    let mut expected = vec![orders, payments, stray.clone()];
    expected.sort();
    assert_eq!(changed, expected);
    assert_eq!(check(&docs).unwrap(), Vec::new());
    assert!(!stray.exists());
    assert!(docs.join("notes.txt").exists());
}
