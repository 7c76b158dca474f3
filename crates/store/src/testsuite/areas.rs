//! Cases for the area tree.

use std::sync::Arc;

use super::fixtures::{area, code, seed_tree, tree};
use crate::{Store, StoreError};

/// Inserting areas stores each one and counts them.
pub async fn areas_insert_and_get(store: Arc<dyn Store>) {
    let written = store.upsert_areas(&tree()).await.expect("upsert areas");
    assert_eq!(written, 7);
    for expected in tree() {
        let stored = store.area(&expected.code).await.expect("get area");
        assert_eq!(stored, Some(expected));
    }
    let missing = store.area(&code("36")).await.expect("get missing area");
    assert_eq!(missing, None);
}

/// Children come ordered by code, and `None` lists the provinces.
pub async fn areas_children_and_provinces(store: Arc<dyn Store>) {
    seed_tree(&store).await;
    let codes = |areas: Vec<oversight_core::Area>| -> Vec<String> {
        areas
            .into_iter()
            .map(|area| area.code.to_string())
            .collect()
    };

    let provinces = store.area_children(None).await.expect("list provinces");
    assert_eq!(codes(provinces), ["35", "44"]);

    let xiamen = store
        .area_children(Some(&code("3502")))
        .await
        .expect("list districts");
    assert_eq!(codes(xiamen), ["350203", "350206"]);

    let street = store
        .area_children(Some(&code("350203001")))
        .await
        .expect("list leaf");
    assert!(street.is_empty(), "{street:?}");

    let child = store
        .area(&code("350203001"))
        .await
        .expect("get street")
        .expect("street");
    assert_eq!(child.parent(), Some(code("350203")));
}

/// Upserting an existing code renames it; the same name again changes nothing.
pub async fn areas_rename(store: Arc<dyn Store>) {
    seed_tree(&store).await;
    let renamed = area("350206", "湖里区（新）");
    let changed = store
        .upsert_areas(std::slice::from_ref(&renamed))
        .await
        .expect("rename");
    assert_eq!(changed, 1);
    let stored = store.area(&renamed.code).await.expect("get renamed");
    assert_eq!(stored, Some(renamed.clone()));

    let unchanged = store.upsert_areas(&[renamed]).await.expect("rename again");
    assert_eq!(unchanged, 0);
}

/// An area whose parent is missing is rejected with the parent's code, and
/// nothing of the batch is written; a parent earlier in the batch is enough.
pub async fn areas_missing_parent_rejected(store: Arc<dyn Store>) {
    seed_tree(&store).await;
    let batch = [area("36", "江西省"), area("360102", "东湖区")];
    let error = store
        .upsert_areas(&batch)
        .await
        .expect_err("missing parent 3601");
    match &error {
        StoreError::NotFound { key, .. } => assert_eq!(key, "3601", "{error}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let province = store.area(&code("36")).await.expect("get province");
    assert_eq!(
        province, None,
        "the failed batch must not write its first area"
    );

    let batch = [
        area("36", "江西省"),
        area("3601", "南昌市"),
        area("360102", "东湖区"),
    ];
    let written = store.upsert_areas(&batch).await.expect("parents first");
    assert_eq!(written, 3);
}
