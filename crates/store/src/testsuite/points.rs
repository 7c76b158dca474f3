//! Cases for monitoring points.

use std::sync::Arc;

use jiff::Timestamp;
use oversight_core::{Actor, AreaCode, MonitoringPoint, PasswordMatch, Secret};

use super::fixtures::{at, code, mn, point, seed_points, seed_tree};
use crate::{PointQuery, Store, StoreError, StoreResult};

/// Follows the cursors from `query` to the last page, and returns the MNs in
/// order and the number of pages. Fails on a page above the query's limit and
/// after 10 pages; `context` names the case in those failures.
async fn page_through(
    store: &Arc<dyn Store>,
    mut query: PointQuery,
    context: &str,
) -> (Vec<String>, usize) {
    let limit = usize::try_from(query.limit).expect("page size fits usize");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.points(&query).await.expect("page of points");
        pages += 1;
        assert!(
            page.items.len() <= limit,
            "{context}: page size {}",
            page.items.len()
        );
        seen.extend(page.items.into_iter().map(|point| point.mn.to_string()));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
        assert!(pages < 10, "{context}: paging does not end");
    }
    (seen, pages)
}

/// Returns the MNs of the points in `areas`, and of the point statuses there.
async fn mns_in_areas(store: &Arc<dyn Store>, areas: &[AreaCode]) -> (Vec<String>, Vec<String>) {
    let query = PointQuery {
        areas: Some(areas.to_vec()),
        limit: 100,
        cursor: None,
    };
    let page = store.points(&query).await.expect("filter points");
    let points = page
        .items
        .iter()
        .map(|point| point.mn.to_string())
        .collect();
    let statuses = store.point_statuses(Some(areas)).await.expect("statuses");
    let statuses = statuses
        .iter()
        .map(|status| status.mn.to_string())
        .collect();
    (points, statuses)
}

/// Returns the stored point `mn_text`, failing if it is missing.
async fn stored_point(store: &Arc<dyn Store>, mn_text: &str) -> MonitoringPoint {
    store
        .point(&mn(mn_text))
        .await
        .expect("get")
        .expect("point")
}

/// Sets the HJ 212 password of `mn_text`, keeping the replaced one valid
/// until `previous_valid_until`.
async fn set_password(
    store: &Arc<dyn Store>,
    mn_text: &str,
    password: &str,
    previous_valid_until: Option<Timestamp>,
) -> StoreResult<()> {
    store
        .set_point_password(
            &mn(mn_text),
            &Secret::new(password.to_owned()),
            previous_valid_until,
            &Actor::System,
        )
        .await
}

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

    let query = PointQuery {
        limit: 2,
        ..PointQuery::default()
    };
    let (seen, pages) = page_through(&store, query, "every area").await;
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
        let query = PointQuery {
            areas: Some(areas.iter().map(|area| code(area)).collect()),
            limit: 2,
            cursor: None,
        };
        let (seen, pages) = page_through(&store, query, &format!("areas {areas:?}")).await;
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
        let (points, statuses) = mns_in_areas(&store, &[code(area)]).await;
        assert_eq!(points, expected, "area {area}");
        assert_eq!(statuses, expected, "statuses in area {area}");
    }
    let several = [
        (vec!["350203", "4403"], vec!["MN001", "MN003"]),
        (vec!["350203001", "35"], vec!["MN001", "MN002"]),
        (vec![], vec![]),
    ];
    for (areas, expected) in several {
        let areas: Vec<_> = areas.into_iter().map(code).collect();
        let (points, statuses) = mns_in_areas(&store, &areas).await;
        assert_eq!(points, expected, "areas {areas:?}");
        assert_eq!(statuses, expected, "statuses in areas {areas:?}");
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
    set_password(&store, "MN001", "next-pw", Some(until))
        .await
        .expect("set password");
    let stored = stored_point(&store, "MN001").await;
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
    let stored = stored_point(&store, "MN001").await;
    assert_eq!(stored.previous_password, None);
    assert_eq!(
        stored.check_password("123456", before),
        PasswordMatch::Wrong
    );

    // Without an expiry the replaced password stops at once.
    set_password(&store, "MN001", "third-pw", None)
        .await
        .expect("set password");
    let stored = stored_point(&store, "MN001").await;
    assert_eq!(stored.previous_password, None);

    // Registering the point again with another password ends a rotation.
    set_password(&store, "MN001", "fourth-pw", Some(until))
        .await
        .expect("set password");
    store
        .upsert_points(&[point("MN001", "350203001")], &Actor::System)
        .await
        .expect("re-register");
    let stored = stored_point(&store, "MN001").await;
    assert_eq!(stored.password.expose(), "123456");
    assert_eq!(stored.previous_password, None);

    let error = set_password(&store, "MN404", "x", None)
        .await
        .expect_err("unknown point");
    assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
}
