//! Cases for monitoring points.

use std::sync::Arc;

use oversight_core::{Actor, PasswordMatch, Secret};

use super::fixtures::{at, code, mn, point, seed_points, seed_tree};
use crate::{PointQuery, Store, StoreError};

/// Points round-trip with every field, including limits and location.
pub async fn points_upsert_and_get(store: Arc<dyn Store>) {
    seed_tree(&store).await;
    let points = [point("MN001", "350203001"), point("MN002", "350206")];
    let written = store
        .upsert_points(&points, &Actor::System)
        .await
        .expect("upsert points");
    assert_eq!(written, 2);
    for expected in points {
        let stored = store.point(&expected.mn).await.expect("get point");
        assert_eq!(stored.as_ref(), Some(&expected));
        let stored = stored.expect("point exists");
        assert_eq!(stored.password.expose(), expected.password.expose());
    }
    assert_eq!(store.point(&mn("MN999")).await.expect("get missing"), None);
}

/// Upserting an existing MN replaces every field.
pub async fn points_replace(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203001")]).await;
    let mut changed = point("MN001", "4403");
    changed.name = "moved outlet".to_owned();
    changed.limits.truncate(1);
    changed.location = None;
    changed.interval_secs = 300;
    store
        .upsert_points(std::slice::from_ref(&changed), &Actor::System)
        .await
        .expect("replace point");

    let stored = store.point(&changed.mn).await.expect("get point");
    assert_eq!(stored, Some(changed));
    let page = store
        .points(&PointQuery::default())
        .await
        .expect("list points");
    assert_eq!(page.items.len(), 1);
}

/// A point in an unknown area is rejected with the area's code and not written.
pub async fn points_area_must_exist(store: Arc<dyn Store>) {
    seed_tree(&store).await;
    let batch = [point("MN001", "350203"), point("MN002", "350299")];
    let error = store
        .upsert_points(&batch, &Actor::System)
        .await
        .expect_err("unknown area");
    match &error {
        StoreError::NotFound { key, .. } => assert_eq!(key, "350299", "{error}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(error.to_string().contains("350299"), "{error}");
    assert_eq!(store.point(&mn("MN001")).await.expect("get point"), None);
}

/// Pages are ordered by MN and chained by cursors until the last page.
pub async fn points_paging(store: Arc<dyn Store>) {
    let mns = ["MN005", "MN001", "MN004", "MN002", "MN003"];
    let points: Vec<_> = mns.iter().map(|mn_text| (*mn_text, "350203")).collect();
    seed_points(&store, &points).await;

    let mut seen = Vec::new();
    let mut query = PointQuery {
        limit: 2,
        ..PointQuery::default()
    };
    let mut pages = 0;
    loop {
        let page = store.points(&query).await.expect("page of points");
        pages += 1;
        assert!(page.items.len() <= 2, "page size {}", page.items.len());
        seen.extend(page.items.into_iter().map(|point| point.mn.to_string()));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, ["MN001", "MN002", "MN003", "MN004", "MN005"]);
    assert_eq!(pages, 3);
}

/// Paging over several areas returns each point of those areas once, in MN
/// order, and no point outside them.
pub async fn points_paging_over_several_areas(store: Arc<dyn Store>) {
    seed_points(
        &store,
        &[
            ("MN001", "350203001"),
            ("MN002", "350206"),
            ("MN003", "4403"),
            ("MN004", "350203"),
            ("MN005", "350206"),
            ("MN006", "4403"),
            ("MN007", "350203001"),
        ],
    )
    .await;
    let cases = [
        (
            vec!["350203", "4403"],
            vec!["MN001", "MN003", "MN004", "MN006", "MN007"],
        ),
        (
            vec!["3502", "350203", "350203001"],
            vec!["MN001", "MN002", "MN004", "MN005", "MN007"],
        ),
    ];
    for (areas, expected) in cases {
        let mut query = PointQuery {
            areas: Some(areas.iter().map(|area| code(area)).collect()),
            limit: 2,
            cursor: None,
        };
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = store.points(&query).await.expect("page of points");
            pages += 1;
            assert!(
                page.items.len() <= 2,
                "areas {areas:?}: page size {}",
                page.items.len()
            );
            seen.extend(page.items.into_iter().map(|point| point.mn.to_string()));
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
            assert!(pages < 10, "areas {areas:?}: paging does not end");
        }
        assert_eq!(seen, expected, "areas {areas:?}");
        assert_eq!(pages, 3, "areas {areas:?}");
    }
}

/// Filtering by an area includes every point below it, and filtering by
/// several areas includes the points below any of them.
pub async fn points_area_filter_includes_sub_areas(store: Arc<dyn Store>) {
    seed_points(
        &store,
        &[
            ("MN001", "350203001"),
            ("MN002", "350206"),
            ("MN003", "4403"),
        ],
    )
    .await;
    let cases = [
        ("35", vec!["MN001", "MN002"]),
        ("3502", vec!["MN001", "MN002"]),
        ("350203", vec!["MN001"]),
        ("350203001", vec!["MN001"]),
        ("44", vec!["MN003"]),
        ("4401", vec![]),
    ];
    for (area, expected) in cases {
        let query = PointQuery {
            areas: Some(vec![code(area)]),
            limit: 100,
            cursor: None,
        };
        let page = store.points(&query).await.expect("filter points");
        let found: Vec<String> = page
            .items
            .iter()
            .map(|point| point.mn.to_string())
            .collect();
        assert_eq!(found, expected, "area {area}");

        let statuses = store
            .point_statuses(Some(&[code(area)]))
            .await
            .expect("statuses");
        let found: Vec<String> = statuses
            .iter()
            .map(|status| status.mn.to_string())
            .collect();
        assert_eq!(found, expected, "statuses in area {area}");
    }
    let several = [
        (vec!["350203", "4403"], vec!["MN001", "MN003"]),
        (vec!["350203001", "35"], vec!["MN001", "MN002"]),
        (vec![], vec![]),
    ];
    for (areas, expected) in several {
        let areas: Vec<_> = areas.into_iter().map(code).collect();
        let query = PointQuery {
            areas: Some(areas.clone()),
            limit: 100,
            cursor: None,
        };
        let page = store.points(&query).await.expect("filter points");
        let found: Vec<String> = page
            .items
            .iter()
            .map(|point| point.mn.to_string())
            .collect();
        assert_eq!(found, expected, "areas {areas:?}");
        let statuses = store.point_statuses(Some(&areas)).await.expect("statuses");
        let found: Vec<String> = statuses
            .iter()
            .map(|status| status.mn.to_string())
            .collect();
        assert_eq!(found, expected, "statuses in areas {areas:?}");
    }
}

/// A cursor the store did not issue is rejected.
pub async fn points_bad_cursor(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203")]).await;
    for cursor in ["garbage", "", "a.1"] {
        let query = PointQuery {
            cursor: Some(cursor.to_owned()),
            ..PointQuery::default()
        };
        let error = store.points(&query).await.expect_err("bad cursor");
        assert!(
            matches!(error, StoreError::InvalidCursor(_)),
            "{cursor:?}: {error:?}"
        );
    }
}

/// Checks that a new password keeps the replaced one valid until an expiry.
/// Retiring ends it early, and so does re-registering with another password.
pub async fn points_password_rotation(store: Arc<dyn Store>) {
    seed_points(&store, &[("MN001", "350203001")]).await;
    let until = at("2026-12-11T00:00:00Z");
    let before = at("2026-12-10T00:00:00Z");
    store
        .set_point_password(
            &mn("MN001"),
            &Secret::new("next-pw".to_owned()),
            Some(until),
            &Actor::System,
        )
        .await
        .expect("set password");
    let stored = store
        .point(&mn("MN001"))
        .await
        .expect("get")
        .expect("point");
    assert_eq!(stored.password.expose(), "next-pw");
    let previous = stored.previous_password.clone().expect("previous kept");
    assert_eq!(previous.password.expose(), "123456");
    assert_eq!(previous.valid_until, until);
    assert_eq!(
        stored.check_password("123456", before),
        PasswordMatch::Previous
    );
    assert_eq!(stored.check_password("123456", until), PasswordMatch::Wrong);

    assert!(
        store
            .retire_previous_password(&mn("MN001"))
            .await
            .expect("retire")
    );
    assert!(
        !store
            .retire_previous_password(&mn("MN001"))
            .await
            .expect("retire again")
    );
    let stored = store
        .point(&mn("MN001"))
        .await
        .expect("get")
        .expect("point");
    assert_eq!(stored.previous_password, None);
    assert_eq!(
        stored.check_password("123456", before),
        PasswordMatch::Wrong
    );

    // Without an expiry the replaced password stops at once.
    store
        .set_point_password(
            &mn("MN001"),
            &Secret::new("third-pw".to_owned()),
            None,
            &Actor::System,
        )
        .await
        .expect("set password");
    let stored = store
        .point(&mn("MN001"))
        .await
        .expect("get")
        .expect("point");
    assert_eq!(stored.previous_password, None);

    // Registering the point again with another password ends a rotation.
    store
        .set_point_password(
            &mn("MN001"),
            &Secret::new("fourth-pw".to_owned()),
            Some(until),
            &Actor::System,
        )
        .await
        .expect("set password");
    store
        .upsert_points(&[point("MN001", "350203001")], &Actor::System)
        .await
        .expect("re-register");
    let stored = store
        .point(&mn("MN001"))
        .await
        .expect("get")
        .expect("point");
    assert_eq!(stored.password.expose(), "123456");
    assert_eq!(stored.previous_password, None);

    let error = store
        .set_point_password(
            &mn("MN404"),
            &Secret::new("x".to_owned()),
            None,
            &Actor::System,
        )
        .await
        .expect_err("unknown point");
    assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
}
