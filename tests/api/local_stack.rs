//! The local AWS endpoint itself: `scripts/moto_serial.py` undoes a
//! cancelled transaction from a log of the items it touched instead of a
//! copy of the whole table. A cancelled transaction must still leave every
//! item exactly as it was, wherever in the transaction the failure is.

use domain::tenancy::{Key, Tenant};
use serde_json::json;
use store::db::{DbError, Write, number};

use crate::helpers::TestApp;

fn key(tenant: &Tenant, name: &str) -> Key {
    Key::new(format!("{}#UNDO", tenant.prefix()), format!("UNDO#{name}"))
}

/// An item that exists before the transaction: a map, a list and a number,
/// so that a partial restore would show.
async fn stored(app: &TestApp, key: &Key, version: u64) {
    let item = json!({"version": version, "tags": ["a", "b"], "nested": {"x": 1, "y": [1, 2]}});
    app.state.db.create(key, &item).await.expect("created");
}

/// The writes of one transaction: change `updated`, delete `deleted`, create
/// `created`, and a check on `checked` that holds only if `check_holds`.
fn writes(app: &TestApp, tenant: &Tenant, check_holds: bool, check_first: bool) -> Vec<Write> {
    let db = &app.state.db;
    let update = db
        .update(
            &key(tenant, "updated"),
            "SET #version = #version + :one, tags = list_append(tags, :more), nested.x = :one REMOVE nested.y",
            Some("attribute_exists(pk)"),
            &[("#version", "version")],
            vec![(":one", number(1)), (":more", store::db::value(&vec!["c"]).unwrap())],
        )
        .unwrap();
    let delete = db.delete_if(&key(tenant, "deleted"), "attribute_exists(pk)", &[], vec![]).unwrap();
    let create = db.put_new(&key(tenant, "created"), &json!({"version": 1})).unwrap();
    let check = db
        .condition_check(
            &key(tenant, "checked"),
            "#version = :version",
            &[("#version", "version")],
            vec![(":version", number(if check_holds { 7 } else { 8 }))],
        )
        .unwrap();
    let mut writes = vec![Write::Update(update), Write::Delete(delete), Write::Put(create)];
    if check_first {
        writes.insert(0, Write::Check(check));
    } else {
        writes.push(Write::Check(check));
    }
    writes
}

#[tokio::test]
async fn a_cancelled_transaction_leaves_every_item_as_it_was() {
    let app = TestApp::spawn().await;
    for check_first in [false, true] {
        let tenant = Tenant::for_new_organization();
        for (name, version) in [("updated", 1), ("deleted", 2), ("checked", 7)] {
            stored(&app, &key(&tenant, name), version).await;
        }
        let names = ["updated", "deleted", "created", "checked"];
        let mut before = Vec::new();
        for name in names {
            before.push(app.raw_item(&key(&tenant, name)).await);
        }

        let failed = app.state.db.transact(writes(&app, &tenant, false, check_first)).await;
        let at = if check_first { 0 } else { 3 };
        assert!(matches!(failed, Err(DbError::Cancelled { ref failed }) if failed == &[at]), "{failed:?}");
        for (name, was) in names.iter().zip(&before) {
            assert_eq!(&app.raw_item(&key(&tenant, name)).await, was, "{name} changed (check first: {check_first})");
        }

        // The same writes with a check that holds all land.
        app.state.db.transact(writes(&app, &tenant, true, check_first)).await.expect("committed");
        let updated = app.raw_item(&key(&tenant, "updated")).await.expect("still there");
        assert!(updated.contains("version=N(\"2\")") && updated.contains("S(\"c\")"), "{updated}");
        assert!(!updated.contains("y: "), "{updated}");
        assert_eq!(app.raw_item(&key(&tenant, "deleted")).await, None);
        assert!(app.raw_item(&key(&tenant, "created")).await.is_some());
    }
}

#[tokio::test]
async fn a_transaction_naming_one_item_twice_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let tenant = Tenant::for_new_organization();
    let target = key(&tenant, "twice");
    stored(&app, &target, 1).await;
    let before = app.raw_item(&target).await;
    let db = &app.state.db;
    let bump = || {
        db.update(
            &target,
            "SET #version = #version + :one",
            None,
            &[("#version", "version")],
            vec![(":one", number(1))],
        )
        .unwrap()
    };
    let refused = db.transact(vec![Write::Update(bump()), Write::Update(bump())]).await;
    assert!(matches!(refused, Err(DbError::Failed { op: "TransactWriteItems", .. })), "{refused:?}");
    assert_eq!(app.raw_item(&target).await, before);
}
