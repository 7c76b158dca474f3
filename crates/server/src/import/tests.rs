//! Imports of real files into a real SQLite store, with good and bad rows.

use std::path::{Path, PathBuf};

use oversight_core::{Actor, AreaCode, Mn};
use oversight_store::{PointQuery, Store};
use oversight_store_sqlite::{SqliteOptions, SqliteStore};
use tempfile::TempDir;

use super::*;

struct Fixture {
    dir: TempDir,
    store: SqliteStore,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
        Self { dir, store }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    async fn with_fujian(self) -> Self {
        let report = self.import_builtin("35").await.unwrap();
        assert!(report.is_clean());
        self
    }

    async fn import_builtin(&self, province: &str) -> Result<ImportReport, ImportError> {
        import_builtin_areas(&self.store, &[province.into()], &mut NoProgress).await
    }

    async fn import_areas(&self, path: &Path) -> Result<ImportReport, ImportError> {
        import_area_file(&self.store, path, &mut NoProgress).await
    }

    async fn import_points(&self, path: &Path) -> Result<ImportReport, ImportError> {
        import_point_file(&self.store, path, &Actor::System, &mut NoProgress).await
    }

    /// Returns the stored area with `code`, if there is one.
    async fn area(&self, code: &str) -> Option<oversight_core::Area> {
        self.store
            .area(&AreaCode::parse(code).unwrap())
            .await
            .unwrap()
    }
}

/// Returns the line and column of each error of a report.
fn error_positions(report: &ImportReport) -> Vec<(u64, &str)> {
    report
        .errors
        .iter()
        .map(|error| (error.line, error.column.as_str()))
        .collect()
}

#[tokio::test]
async fn builtin_areas_import_one_province() {
    let fixture = Fixture::new();
    let report = fixture.import_builtin("35").await.unwrap();
    assert_eq!(report.rows, report.imported);
    assert!(report.imported > 1000, "{report:?}");
    let street = fixture.area("350203012").await.unwrap();
    assert_eq!(street.name, "鼓浪屿街道");
    assert!(fixture.area("50").await.is_none());
}

#[tokio::test]
async fn builtin_areas_reject_unknown_province() {
    let fixture = Fixture::new();
    let error = fixture.import_builtin("99").await.unwrap_err();
    assert!(error.to_string().contains("\"99\""), "{error}");
}

#[tokio::test]
async fn area_file_keeps_good_rows() {
    let fixture = Fixture::new().with_fujian().await;
    let path = fixture.file(
        "communities.csv",
        "code,name\n\
         350203001001,沙坡尾社区\n\
         350203001001001,沙坡尾小区\n\
         350203999001,无上级社区\n\
         35020300100x,坏编码\n\
         350203001002,\n\
         350203001001,重复社区\n",
    );
    let report = fixture.import_areas(&path).await.unwrap();
    assert_eq!(report.rows, 6);
    assert_eq!(report.imported, 2);
    assert_eq!(
        error_positions(&report),
        [(4, "code"), (5, "code"), (6, "name"), (7, "code")]
    );
    assert!(
        report.errors[0]
            .message
            .contains("parent area 350203999 not found"),
        "{}",
        report.errors[0]
    );
    assert!(
        report.errors[1].message.contains("digits"),
        "{}",
        report.errors[1]
    );
    assert!(
        report.errors[3].message.contains("duplicate"),
        "{}",
        report.errors[3]
    );
    let compound = fixture.area("350203001001001").await.unwrap();
    assert_eq!(compound.name, "沙坡尾小区");
}

#[tokio::test]
async fn area_file_rejects_unknown_column() {
    let fixture = Fixture::new();
    let path = fixture.file("bad.csv", "code,name,population\n35,福建省,1\n");
    let error = fixture.import_areas(&path).await.unwrap_err();
    assert!(matches!(error, ImportError::Header { .. }), "{error}");
    assert!(error.to_string().contains("population"), "{error}");
}

#[tokio::test]
async fn missing_file_is_a_read_error() {
    let fixture = Fixture::new();
    let path = fixture.dir.path().join("absent.csv");
    let error = fixture.import_points(&path).await.unwrap_err();
    assert!(matches!(error, ImportError::Read { .. }), "{error}");
}

#[tokio::test]
async fn point_file_keeps_good_rows() {
    let fixture = Fixture::new().with_fujian().await;
    let path = fixture.file(
        "points.csv",
        "mn,name,area,st,password,longitude,latitude,interval_secs,limits\n\
         MN0001,outlet one,350203001,32,123456,118.08,24.45,60,w01018::100:mg/L|w01001:6:9:\n\
         MN0002,stack,350205001,31,654321,,,,a21026::50:mg/m3\n\
         MN0003,no area,359999001,32,123456,,,,\n\
         MN 4,bad mn,350203001,32,123456,,,,\n\
         MN0005,bad limit,350203001,32,123456,,,,w01018:abc::\n\
         MN0006,bad lon,350203001,32,123456,200,24,,\n\
         MN0007,bad st,350203001,3,123456,,,,\n\
         MN0008,bad interval,350203001,32,123456,,,0,\n\
         MN0001,duplicate,350203001,32,123456,,,,\n\
         MN0010,bad pw,350203001,32,12 34,,,,\n\
         MN0011,inverted,350203001,32,123456,,,,w01001:9:6:\n",
    );
    let report = fixture.import_points(&path).await.unwrap();
    assert_eq!(report.rows, 11);
    assert_eq!(report.imported, 2);
    let expected = [
        (4, "area"),
        (5, "mn"),
        (6, "limits"),
        (7, "longitude"),
        (8, "st"),
        (9, "interval_secs"),
        (10, "mn"),
        (11, "password"),
        (12, "limits"),
    ];
    assert_eq!(error_positions(&report), expected);
    let password_error = &report.errors[7];
    assert_eq!(password_error.value, "****");
    assert!(
        !password_error.to_string().contains("12 34"),
        "{password_error}"
    );
    assert!(
        report.errors[2].message.contains("abc"),
        "{}",
        report.errors[2]
    );

    let point = fixture
        .store
        .point(&Mn::parse("MN0001").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(point.limits.len(), 2);
    assert_eq!(point.limits[0].upper, Some(100.0));
    assert_eq!(point.limits[1].lower, Some(6.0));
    assert_eq!(point.password.expose(), "123456");
    let page = fixture
        .store
        .points(&PointQuery {
            limit: 100,
            ..PointQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
}

#[tokio::test]
async fn point_file_requires_columns() {
    let fixture = Fixture::new();
    let path = fixture.file("points.csv", "mn,name,area,password\nA,b,35,1\n");
    let error = fixture.import_points(&path).await.unwrap_err();
    assert!(
        error.to_string().contains("missing required column \"st\""),
        "{error}"
    );
}

#[test]
fn limits_cell_parses() {
    let limits = parse_limits("w01018::100:mg/L | w01001:6:9: | LA::60:dB(A)").unwrap();
    assert_eq!(limits.len(), 3);
    assert_eq!(limits[0].unit.as_deref(), Some("mg/L"));
    assert_eq!(limits[1].unit, None);
    assert_eq!(limits[2].upper, Some(60.0));
    assert!(parse_limits("").unwrap().is_empty());
    for bad in [
        "w01018",
        "w01018::",
        "w01018:a:1:",
        "w01018::1:|w01018::2:",
        "w-1::1:",
    ] {
        assert!(parse_limits(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn gb18030_file_is_converted() {
    let fixture = Fixture::new().with_fujian().await;
    let text = "code,name\n350203012001,鼓浪屿社区\n";
    let (encoded, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&encoded).is_err(),
        "the test file must not be UTF-8"
    );
    let path = fixture.dir.path().join("gbk.csv");
    std::fs::write(&path, &encoded).unwrap();
    let report = fixture.import_areas(&path).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.encoding, Some(FileEncoding::Gb18030));
    let area = fixture.area("350203012001").await.unwrap();
    assert_eq!(area.name, "鼓浪屿社区");
}

#[tokio::test]
async fn utf8_bom_is_accepted() {
    let fixture = Fixture::new().with_fujian().await;
    let path = fixture.file("bom.csv", "\u{feff}code,name\n350203012001,鼓浪屿社区\n");
    let report = fixture.import_areas(&path).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.encoding, Some(FileEncoding::Utf8));
    assert!(fixture.area("350203012001").await.is_some());
}

#[tokio::test]
async fn undecodable_file_is_rejected() {
    let fixture = Fixture::new().with_fujian().await;
    let path = fixture.dir.path().join("binary.csv");
    // 0xFF is neither UTF-8 nor part of any GB18030 sequence.
    std::fs::write(&path, b"code,name\n350203012001,\xFF\xFE\n").unwrap();
    let error = fixture.import_areas(&path).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("not UTF-8"), "{message}");
    assert!(message.contains("0xFF"), "{message}");
    assert!(message.contains("GB18030"), "{message}");
    assert!(message.contains("CSV UTF-8"), "{message}");
    assert!(fixture.area("350203012001").await.is_none());
}

#[tokio::test]
async fn oversized_file_and_row_are_rejected() {
    let fixture = Fixture::new().with_fujian().await;
    let path = fixture.dir.path().join("huge.csv");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(MAX_FILE_BYTES + 1).unwrap();
    let error = fixture.import_areas(&path).await.unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&(MAX_FILE_BYTES + 1).to_string()),
        "{message}"
    );
    assert!(message.contains("split it"), "{message}");

    let long_name = "名".repeat(MAX_ROW_BYTES);
    let text = format!("code,name\n350203012001,{long_name}\n350203012002,第二社区\n");
    let path = fixture.file("long.csv", &text);
    let report = fixture.import_areas(&path).await.unwrap();
    assert_eq!(report.imported, 1, "{report:?}");
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].line, 2);
    assert!(
        report.errors[0].message.contains("more than the limit"),
        "{report:?}"
    );
    assert!(fixture.area("350203012002").await.is_some());
}
