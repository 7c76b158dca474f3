//! Builders of test data shared by the cases.

use std::sync::Arc;

use jiff::Timestamp;
use oversight_core::{
    Actor, Area, AreaCode, DataFlag, DataKind, FactorCode, FactorLimit, FactorValues, GeoPoint, Mn,
    MonitoringPoint, Reading, Secret, SystemCode,
};

use crate::Store;

/// Parses an RFC 3339 timestamp.
pub(super) fn at(text: &str) -> Timestamp {
    text.parse().expect("test timestamps are valid RFC 3339")
}

/// Returns the timestamp `minutes` after 2024-05-01T00:00:00Z.
pub(super) fn minute(minutes: i64) -> Timestamp {
    at("2024-05-01T00:00:00Z") + jiff::SignedDuration::from_mins(minutes)
}

pub(super) fn code(text: &str) -> AreaCode {
    AreaCode::parse(text).expect("test area codes are valid")
}

pub(super) fn mn(text: &str) -> Mn {
    Mn::parse(text).expect("test MNs are valid")
}

pub(super) fn factor(text: &str) -> FactorCode {
    FactorCode::parse(text).expect("test factor codes are valid")
}

pub(super) fn area(text: &str, name: &str) -> Area {
    Area::new(code(text), name).expect("test area names are valid")
}

/// The area tree most cases start from: Fujian with Xiamen's Siming and
/// Huli districts and one street, and Guangdong.
pub(super) fn tree() -> Vec<Area> {
    vec![
        area("35", "福建省"),
        area("3502", "厦门市"),
        area("350203", "思明区"),
        area("350203001", "厦港街道"),
        area("350206", "湖里区"),
        area("44", "广东省"),
        area("4403", "深圳市"),
    ]
}

/// Stores [`tree`].
pub(super) async fn seed_tree(store: &Arc<dyn Store>) {
    store.upsert_areas(&tree()).await.expect("seed area tree");
}

/// Builds a point with limits on COD and pH.
pub(super) fn point(mn_text: &str, area_code: &str) -> MonitoringPoint {
    MonitoringPoint {
        mn: mn(mn_text),
        name: format!("outlet {mn_text}"),
        area: code(area_code),
        system_code: SystemCode::parse("32").expect("valid system code"),
        password: Secret::new("123456".to_owned()),
        previous_password: None,
        location: Some(GeoPoint::new(118.08, 24.48).expect("valid location")),
        limits: vec![
            FactorLimit::new(factor("w01018"), None, Some(100.0), Some("mg/L".to_owned()))
                .expect("valid limit"),
            FactorLimit::new(factor("w01001"), Some(6.0), Some(9.0), None).expect("valid limit"),
        ],
        interval_secs: 60,
        attributes: std::collections::BTreeMap::new(),
    }
}

/// Stores [`tree`] and one point per `(mn, area)`.
pub(super) async fn seed_points(store: &Arc<dyn Store>, points: &[(&str, &str)]) {
    seed_tree(store).await;
    let points: Vec<_> = points
        .iter()
        .map(|(mn_text, area)| point(mn_text, area))
        .collect();
    store
        .upsert_points(&points, &Actor::System)
        .await
        .expect("seed points");
}

/// Builds a minute reading received one minute after its data time.
pub(super) fn reading(mn_text: &str, factor_code: &str, data_minute: i64, value: f64) -> Reading {
    Reading {
        mn: mn(mn_text),
        kind: DataKind::Minute,
        factor: factor(factor_code),
        data_time: minute(data_minute),
        received_at: minute(data_minute + 1),
        values: FactorValues {
            rtd: None,
            avg: Some(value),
            min: Some(value - 1.0),
            max: Some(value + 1.0),
            cou: None,
        },
        flag: Some(DataFlag::NORMAL),
    }
}

/// Returns the kind and actor of the newest ledger entry.
pub(super) async fn last_ledger_entry(store: &Arc<dyn Store>) -> (String, String) {
    let head = store.ledger_head().await.expect("ledger head");
    assert!(head.size > 0, "the ledger is empty");
    let entry = store
        .ledger_entry(head.size - 1)
        .await
        .expect("read ledger entry")
        .expect("the newest ledger entry exists");
    (entry.kind, entry.actor)
}
