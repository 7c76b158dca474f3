//! Tests that drive `oversight rules check`, `oversight rules test` and the
//! reload of the operator's rule directory through the real binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{BINARY, DataDir, Datalogger, Server};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// Runs the binary with `args` and returns its exit code, stdout and stderr.
fn oversight(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BINARY)
        .args(args)
        .output()
        .expect("run oversight");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

const PACK_HEADER: &str = "[pack]\nid = \"site\"\nversion = \"1\"\n\n";

/// A valid rule: COD above 50 fires at once.
const COD_RULE: &str = r#"[[rule]]
id = "site.cod"
category = "exceedance"
factors = ["w01018"]
condition = "value > 50.0"
clear = "value <= 40.0"
severity = "warning"
"#;

/// Returns a pack with the single rule [`COD_RULE`].
fn cod_pack() -> String {
    format!("{PACK_HEADER}{COD_RULE}")
}

/// Writes `text` as the file `name` in the directory `dir` of `data`,
/// creating it if needed, and returns the directory.
fn write_pack(data: &DataDir, dir: &str, name: &str, text: &str) -> PathBuf {
    let dir = data.path().join(dir);
    std::fs::create_dir_all(&dir).expect("create pack directory");
    std::fs::write(dir.join(name), text).expect("write pack");
    dir
}

/// Writes `text` as `name` in a new directory of `data` and checks it.
fn check_one(data: &DataDir, dir: &str, name: &str, text: &str) -> (i32, String, String) {
    let dir = write_pack(data, dir, name, text);
    oversight(&["rules", "check", path_str(&dir)])
}

/// Runs `oversight rules test --pack PACK ARGS` and returns its exit code, stdout and stderr.
fn rules_test(pack: &Path, args: &[&str]) -> (i32, String, String) {
    oversight(&[&["rules", "test", "--pack", path_str(pack)], args].concat())
}

#[test]
fn check_accepts_valid_and_builtin_packs() {
    let data = DataDir::new();
    let (code, stdout, stderr) = check_one(&data, "valid", "site.toml", &cod_pack());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("1 packs with 1 rules"), "{stdout}");

    let builtin = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules");
    let (code, stdout, stderr) = oversight(&["rules", "check", builtin]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("ok:"), "{stdout}");
}

#[test]
fn check_accepts_one_pack_file() {
    let data = DataDir::new();
    let dir = write_pack(&data, "file", "site.toml", &cod_pack());
    let file = dir.join("site.toml");
    let (code, stdout, stderr) = oversight(&["rules", "check", path_str(&file)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("1 packs with 1 rules"), "{stdout}");

    let broken = write_pack(
        &data,
        "broken",
        "site.toml",
        &cod_pack().replace("50.0", "fifty"),
    );
    let (code, _, stderr) = oversight(&["rules", "check", path_str(&broken.join("site.toml"))]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("site.toml:"), "{stderr}");
}

#[test]
fn check_reports_each_broken_pack() {
    let data = DataDir::new();
    // Each case: a name, the pack text, and what stderr must contain: the
    // position FILE:LINE:COLUMN and the message.
    let cases: &[(&str, String, &[&str])] = &[
        (
            "bad-toml",
            format!("{PACK_HEADER}[[rule]]\nid = \"site.cod\"\ncondition = value > 50\n"),
            &["bad-toml.toml:7:13: invalid TOML"],
        ),
        (
            "bad-cel",
            cod_pack().replace("value > 50.0", "value >> 50.0"),
            &[
                "bad-cel.toml:9:",
                "rule site.cod: invalid condition",
                "CEL error",
            ],
        ),
        (
            "unknown-variable",
            cod_pack().replace("value > 50.0", "valeu > 50.0"),
            &[
                "unknown-variable.toml:9:14: rule site.cod",
                "unknown variable \"valeu\"",
            ],
        ),
        (
            "unknown-field",
            format!("{PACK_HEADER}{COD_RULE}colour = \"red\"\n"),
            &[
                "unknown-field.toml:12:1: invalid TOML",
                "unknown field `colour`",
            ],
        ),
        (
            "unknown-factor",
            cod_pack().replace("[\"w01018\"]", "[\"COD\"]"),
            &[
                "unknown-factor.toml:8:1: rule site.cod: unknown factor \"COD\"",
                "\"w01018\"",
            ],
        ),
        (
            "bad-duration",
            format!("{PACK_HEADER}{COD_RULE}for = \"ten minutes\"\n"),
            &["bad-duration.toml:12:1: rule site.cod: for: invalid duration \"ten minutes\""],
        ),
        (
            "duplicate-id",
            format!("{PACK_HEADER}{COD_RULE}\n{COD_RULE}"),
            &["duplicate-id.toml:14:1: rule site.cod: duplicate rule id \"site.cod\""],
        ),
    ];
    for (name, text, expected) in cases {
        let (code, stdout, stderr) = check_one(&data, name, &format!("{name}.toml"), text);
        assert_eq!(
            code, 1,
            "{name}: exit code; stdout {stdout} stderr {stderr}"
        );
        for needle in *expected {
            assert!(
                stderr.contains(needle),
                "{name}: {needle:?} not in:\n{stderr}"
            );
        }
    }
}

#[test]
fn check_reports_duplicate_across_files() {
    let data = DataDir::new();
    write_pack(&data, "two", "a.toml", &cod_pack());
    let second = cod_pack().replace("id = \"site\"", "id = \"other\"");
    let dir = write_pack(&data, "two", "b.toml", &second);
    let (code, _, stderr) = oversight(&["rules", "check", path_str(&dir)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("b.toml:5:1: rule site.cod: duplicate rule id"),
        "{stderr}"
    );
    assert!(stderr.contains("a.toml:5 defines it already"), "{stderr}");
}

#[test]
fn check_rejects_missing_directory() {
    let data = DataDir::new();
    let missing = data.path().join("absent");
    let (code, _, stderr) = oversight(&["rules", "check", path_str(&missing)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot read rules directory"), "{stderr}");
}

fn pack_dir(data: &DataDir, text: &str) -> PathBuf {
    write_pack(data, "pack", "site.toml", text)
}

#[test]
fn test_replays_csv_as_table_and_json() {
    let data = DataDir::new();
    let pack = pack_dir(&data, &cod_pack());
    let csv = data.file(
        "readings.csv",
        "mn,factor,time,value,area\n\
         MN0001,w01018,2026-03-01T08:00:00+08:00,30,350203\n\
         MN0001,w01018,2026-03-01T08:02:00+08:00,70,350203\n\
         MN0001,w01018,2026-03-01T08:01:00+08:00,60,350203\n\
         MN0001,w01018,2026-03-01T08:03:00+08:00,35,350203\n\
         MN0002,w01018,2026-03-01T08:00:00+08:00,20,350203\n",
    );
    let args = ["--csv", path_str(&csv)];
    let (code, stdout, stderr) = rules_test(&pack, &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("5 readings replayed, 1 alerts would have fired"),
        "{stdout}"
    );
    let row = stdout
        .lines()
        .find(|line| line.starts_with("site.cod"))
        .unwrap_or_else(|| panic!("no alert row in:\n{stdout}"));
    assert!(row.contains("MN0001"), "{row}");
    assert!(row.contains("2026-03-01T00:01:00Z"), "{row}");
    assert!(row.contains("value > 50.0 with"), "{row}");

    let (code, stdout, stderr) = rules_test(&pack, &[&args[..], &["--json"]].concat());
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(report["readings"], 5);
    let alerts = report["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 1, "{report}");
    let alert = &alerts[0];
    assert_eq!(alert["rule_id"], "site.cod");
    assert_eq!(alert["fired_at"], "2026-03-01T00:01:00Z");
    assert_eq!(alert["resolved_at"], "2026-03-01T00:03:00Z");
    assert_eq!(alert["count"], 2);
    assert_eq!(alert["peak"], 70.0);
    assert_eq!(alert["explanation"]["values"]["value"], 60.0);
}

#[test]
fn test_honours_time_range() {
    let data = DataDir::new();
    let pack = pack_dir(&data, &cod_pack());
    let csv = data.file(
        "readings.csv",
        "mn,factor,time,value,area\n\
         MN0001,w01018,2026-03-01T00:00:00Z,70,350203\n\
         MN0001,w01018,2026-03-02T00:00:00Z,30,350203\n",
    );
    let (code, stdout, stderr) = rules_test(
        &pack,
        &[
            "--csv",
            path_str(&csv),
            "--from",
            "2026-03-01T12:00:00Z",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(report["readings"], 1, "{report}");
    assert_eq!(
        report["alerts"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );
}

#[test]
fn test_rejects_bad_csv_row() {
    let data = DataDir::new();
    let pack = pack_dir(&data, &cod_pack());
    let csv = data.file(
        "readings.csv",
        "mn,factor,time,value,area\nMN0001,w01018,2026-03-01T00:00:00Z,lots,350203\n",
    );
    let (code, _, stderr) = rules_test(&pack, &["--csv", path_str(&csv)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("readings.csv:2: invalid row"), "{stderr}");
    assert!(
        stderr.contains("column value: invalid number \"lots\""),
        "{stderr}"
    );
}

#[test]
fn test_rejects_broken_pack() {
    let data = DataDir::new();
    let pack = pack_dir(&data, &cod_pack().replace("50.0", "fifty"));
    let csv = data.file("readings.csv", "mn,factor,time,value,area\n");
    let (code, stdout, stderr) = rules_test(&pack, &["--csv", path_str(&csv)]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("site.toml:9:"), "{stderr}");
}

/// Stops the server with SIGTERM and fails unless it exits cleanly.
fn stop(server: Server) {
    let status = server.terminate();
    assert!(status.success(), "serve exited with {status}");
}

/// Returns the first entry of the rule change list with `action`, failing if there is none.
async fn rule_change(server: &Server, action: &str) -> Value {
    let (_, changes) = server.get("/api/v1/rules/changes").await;
    changes
        .as_array()
        .expect("change list")
        .iter()
        .find(|change| change["action"] == action)
        .unwrap_or_else(|| panic!("no {action} change in {changes}"))
        .clone()
}

/// Returns a data time one second from now. A rule that a reload adds
/// judges only readings whose data time is at or after the reload, and a
/// DataTime has whole seconds.
fn after_now() -> Timestamp {
    Timestamp::now()
        .checked_add(SignedDuration::from_secs(1))
        .expect("in range")
}

fn minute(minutes: i64) -> Timestamp {
    let start: Timestamp = "2026-12-04T08:00:00Z".parse().expect("literal time");
    start
        .checked_add(SignedDuration::from_mins(minutes))
        .expect("in range")
}

#[tokio::test]
async fn test_replays_stored_readings() {
    let data = DataDir::with_points(&[("RT00001", 60)]);
    let server = Server::start(&data, &[]).await;
    let mut logger = Datalogger::connect(server.hj212, "RT00001", "123456").await;
    for (offset, cod) in [(0, 20.0), (1, 80.0), (2, 90.0), (3, 30.0)] {
        assert!(
            logger.send(minute(offset), &[("w01018", cod)]).await,
            "upload {offset}"
        );
    }
    stop(server);

    let pack = pack_dir(&data, &cod_pack());
    let data_dir = data.path().join("data");
    let (code, stdout, stderr) = rules_test(&pack, &["--data-dir", path_str(&data_dir), "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(report["readings"], 4, "{report}");
    let alerts = report["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 1, "{report}");
    assert_eq!(alerts[0]["mn"], "RT00001");
    assert_eq!(alerts[0]["fired_at"], "2026-12-04T08:01:00Z");
    assert_eq!(alerts[0]["resolved_at"], "2026-12-04T08:03:00Z");
    assert_eq!(alerts[0]["peak"], 90.0);
}

#[test]
fn test_rejects_missing_data_dir() {
    let data = DataDir::new();
    let pack = pack_dir(&data, &cod_pack());
    let absent = data.path().join("absent");
    let (code, _, stderr) = rules_test(&pack, &["--data-dir", path_str(&absent)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no database"), "{stderr}");
    assert!(
        !absent.exists(),
        "a test run must not create the data directory"
    );
}

fn open_alerts_of<'a>(body: &'a Value, rule: &str) -> Vec<&'a Value> {
    body["items"]
        .as_array()
        .expect("alert page has items")
        .iter()
        .filter(|alert| alert["rule_id"] == rule && alert["status"] != "resolved")
        .collect()
}

#[tokio::test]
async fn reload_applies_changes_and_rejects_broken_pack() {
    let data = DataDir::with_points(&[("RL00001", 60), ("RL00002", 60), ("RL00003", 60)]);
    let rules_dir = write_pack(&data, "rules", "site.toml", &cod_pack());
    let pack_file = rules_dir.join("site.toml");
    let server = Server::start(
        &data,
        &[
            ("OVERSIGHT_RULES__DIR", path_str(&rules_dir)),
            ("OVERSIGHT_RULES__RELOAD_INTERVAL_SECS", "1"),
            ("OVERSIGHT_RULES__TICK_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    let (_, rules) = server.get("/api/v1/rules/site.cod").await;
    assert_eq!(rules["condition"], "value > 50.0", "{rules}");

    // Edit: a second rule appears without a restart and fires.
    let edited = format!(
        "{PACK_HEADER}{COD_RULE}\n[[rule]]\nid = \"site.ph\"\ncategory = \"exceedance\"\n\
         factors = [\"w01001\"]\ncondition = \"value > 8.0\"\nseverity = \"info\"\n"
    );
    std::fs::write(&pack_file, edited).expect("edit pack");
    server
        .wait_for("/api/v1/rules", "the edited pack active", |body| {
            body["items"]
                .as_array()
                .is_some_and(|items| items.iter().any(|rule| rule["id"] == "site.ph"))
        })
        .await;
    let mut logger = Datalogger::connect(server.hj212, "RL00001", "123456").await;
    assert!(
        logger.send(after_now(), &[("w01001", 8.5)]).await,
        "pH upload"
    );
    server
        .wait_for("/api/v1/alerts?mn=RL00001", "the new rule firing", |body| {
            !open_alerts_of(body, "site.ph").is_empty()
        })
        .await;
    rule_change(&server, "reloaded").await;

    // Break: the error is visible, the previous rules keep running.
    std::fs::write(&pack_file, cod_pack().replace("50.0", "fifty")).expect("break pack");
    let body = server
        .wait_for("/api/v1/rules", "the broken pack rejected", |body| {
            body["rejected"]
                .as_array()
                .is_some_and(|errors| !errors.is_empty())
        })
        .await;
    let rejected = body["rejected"].to_string();
    assert!(rejected.contains("site.toml:9:"), "{rejected}");
    assert!(
        body["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|rule| rule["id"] == "site.ph")),
        "the previous rules must stay active: {body}"
    );
    let mut logger = Datalogger::connect(server.hj212, "RL00002", "123456").await;
    assert!(
        logger
            .send(after_now(), &[("w01018", 70.0), ("w01001", 9.0)])
            .await,
        "upload"
    );
    let body = server
        .wait_for(
            "/api/v1/alerts?mn=RL00002",
            "the old rules firing",
            |body| {
                !open_alerts_of(body, "site.cod").is_empty()
                    && !open_alerts_of(body, "site.ph").is_empty()
            },
        )
        .await;
    assert_eq!(open_alerts_of(&body, "site.cod").len(), 1, "{body}");
    let rejected_change = rule_change(&server, "rejected").await;
    assert!(
        rejected_change["detail"].to_string().contains("fifty"),
        "{rejected_change}"
    );

    // Fix: the pack loads again and the rejection clears.
    std::fs::write(&pack_file, cod_pack()).expect("fix pack");
    server
        .wait_for("/api/v1/rules", "the fixed pack active", |body| {
            body["rejected"].as_array().is_some_and(Vec::is_empty)
                && body["items"]
                    .as_array()
                    .is_some_and(|items| !items.iter().any(|rule| rule["id"] == "site.ph"))
        })
        .await;
    stop(server);
}

/// Login name and password of a second administrator, who acts in
/// [`actions_record_signed_in_account`].
const OPERATOR: (&str, &str) = ("ops.wang", "operator password 12345");

/// Returns the ledger entries of `kind`, newest last.
async fn ledger_of_kind(server: &Server, kind: &str) -> Vec<Value> {
    let (status, page) = server.get("/api/v1/ledger/entries?limit=1000").await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .expect("ledger items")
        .iter()
        .filter(|entry| entry["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn actions_record_signed_in_account() {
    let data = DataDir::with_points(&[("AC00001", 60)]);
    let rules_dir = write_pack(&data, "rules", "site.toml", &cod_pack());
    let mut server = Server::start(&data, &[("OVERSIGHT_RULES__DIR", path_str(&rules_dir))]).await;
    let operator = serde_json::json!({
        "username": OPERATOR.0,
        "password": OPERATOR.1,
        "role": "system_admin",
    });
    let (status, body) = server.post("/api/v1/users", &operator).await;
    assert_eq!(status, 201, "{body}");
    server.switch_user(OPERATOR.0, OPERATOR.1).await;

    let mut logger = Datalogger::connect(server.hj212, "AC00001", "123456").await;
    assert!(logger.send(minute(0), &[("w01018", 80.0)]).await, "upload");
    let body = server
        .wait_for("/api/v1/alerts?mn=AC00001", "the COD alert", |body| {
            !open_alerts_of(body, "site.cod").is_empty()
        })
        .await;
    let id = open_alerts_of(&body, "site.cod")[0]["id"]
        .as_i64()
        .expect("alert id");

    // A body naming another person is rejected and changes nothing.
    let acknowledge = format!("/api/v1/alerts/{id}/acknowledge");
    let (status, body) = server
        .post(&acknowledge, &serde_json::json!({"actor": "root"}))
        .await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("\"root\""), "{message}");
    assert!(message.contains("ops.wang"), "{message}");
    let (_, alert) = server.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!(alert["status"], "firing", "{alert}");

    // Without a name, and with one's own name, the signed-in account acts.
    let (status, body) = server.post(&acknowledge, &serde_json::json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["acknowledged_by"], OPERATOR.0, "{body}");
    let resolve = format!("/api/v1/alerts/{id}/resolve");
    let (status, body) = server
        .post(
            &resolve,
            &serde_json::json!({"actor": "root", "reason": "fixed"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = server
        .post(
            &resolve,
            &serde_json::json!({"actor": OPERATOR.0, "reason": "valve repaired"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, alert) = server.get(&format!("/api/v1/alerts/{id}")).await;
    let people: Vec<(&str, &str)> = alert["transitions"]
        .as_array()
        .expect("transitions")
        .iter()
        .filter(|step| step["actor"]["kind"] == "user")
        .map(|step| {
            (
                step["transition"].as_str().unwrap_or_default(),
                step["actor"]["name"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        people,
        [("acknowledged", OPERATOR.0), ("resolved", OPERATOR.0)],
        "{alert}"
    );
    let acknowledged = ledger_of_kind(&server, "alert.acknowledged").await;
    assert_eq!(acknowledged.len(), 1, "{acknowledged:?}");
    assert_eq!(acknowledged[0]["actor"], "user:ops.wang");
    let resolved = ledger_of_kind(&server, "alert.resolved").await;
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert_eq!(resolved[0]["actor"], "user:ops.wang");

    // Rule switches.
    let (status, body) = server
        .post(
            "/api/v1/rules/site.cod/disable",
            &serde_json::json!({"actor": "root"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (_, rule) = server.get("/api/v1/rules/site.cod").await;
    assert_eq!(rule["enabled"], true, "{rule}");
    let (status, body) = server
        .post("/api/v1/rules/site.cod/disable", &serde_json::json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], false, "{body}");
    let disabled = rule_change(&server, "disabled").await;
    assert_eq!(disabled["actor"]["kind"], "user", "{disabled}");
    assert_eq!(disabled["actor"]["name"], OPERATOR.0, "{disabled}");
    let ledger = ledger_of_kind(&server, "rule.disabled").await;
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0]["actor"], "user:ops.wang");

    // Silences.
    let ends_at = Timestamp::now()
        .checked_add(SignedDuration::from_hours(1))
        .expect("in range")
        .to_string();
    let silence = serde_json::json!({
        "mn": "AC00001", "ends_at": ends_at, "created_by": "root", "comment": "maintenance",
    });
    let (status, body) = server.post("/api/v1/silences", &silence).await;
    assert_eq!(status, 400, "{body}");
    let (_, silences) = server.get("/api/v1/silences").await;
    assert_eq!(
        silences,
        serde_json::json!([]),
        "a rejected silence was stored"
    );
    let silence =
        serde_json::json!({"mn": "AC00001", "ends_at": ends_at, "comment": "maintenance"});
    let (status, body) = server.post("/api/v1/silences", &silence).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created_by"], OPERATOR.0, "{body}");
    let (status, body) = server
        .post(
            &format!("/api/v1/alerts/{id}/silence"),
            &serde_json::json!({"ends_at": ends_at, "created_by": "root", "comment": "again"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    stop(server);
}

/// COD over a 10-minute sliding average, and pH above 8 at once. A pH
/// alert marks that the readings sent before it were evaluated.
const RESEND_PACK: &str = r#"[[rule]]
id = "site.cod.avg"
category = "exceedance"
factors = ["w01018"]
window = { size = "10m", aggregate = "avg" }
condition = "value > 50.0"

[[rule]]
id = "site.ph"
category = "exceedance"
factors = ["w01001"]
condition = "value > 8.0"
"#;

/// Sends COD `first` at minute 0 as `mn`, resends minute 0 with `resend`,
/// sends `next` at minute 1 and then pH 9 at minute 2. Returns the alert
/// page of `mn` once the pH alert is open.
async fn send_with_resend(server: &Server, mn: &str, [first, resend, next]: [f64; 3]) -> Value {
    let mut logger = Datalogger::connect(server.hj212, mn, "123456").await;
    assert!(
        logger.send(minute(0), &[("w01018", first)]).await,
        "first upload"
    );
    assert!(
        logger.send(minute(0), &[("w01018", resend)]).await,
        "resend"
    );
    assert!(
        logger.send(minute(1), &[("w01018", next)]).await,
        "next upload"
    );
    assert!(
        logger.send(minute(2), &[("w01001", 9.0)]).await,
        "pH upload"
    );
    server
        .wait_for(&format!("/api/v1/alerts?mn={mn}"), "the pH alert", |body| {
            !open_alerts_of(body, "site.ph").is_empty()
        })
        .await
}

#[tokio::test]
async fn resend_with_other_values_changes_no_alert() {
    let data = DataDir::with_points(&[("RS00001", 60), ("RS00002", 60)]);
    let pack = format!("{PACK_HEADER}{RESEND_PACK}");
    let rules_dir = write_pack(&data, "rules", "site.toml", &pack);
    let server = Server::start(&data, &[("OVERSIGHT_RULES__DIR", path_str(&rules_dir))]).await;

    // RS00001 stays below the limit. If the rules saw its resend of 200, the
    // average at the next reading would exceed 50 and open an alert.
    let body = send_with_resend(&server, "RS00001", [20.0, 200.0, 20.0]).await;
    assert!(
        open_alerts_of(&body, "site.cod.avg").is_empty(),
        "the resend opened an alert: {body}"
    );

    // RS00002 exceeds the limit. If the rules saw its resend of 0, the
    // average at the next reading would fall below 50 and resolve the alert.
    let body = send_with_resend(&server, "RS00002", [80.0, 0.0, 60.0]).await;
    let cod = open_alerts_of(&body, "site.cod.avg");
    assert_eq!(cod.len(), 1, "the resend resolved the alert: {body}");
    assert_eq!(cod[0]["last_value"], 70.0, "{body}");

    // The resends are kept as revisions all the same.
    let (status, revisions) = server.get("/api/v1/points/RS00002/revisions").await;
    assert_eq!(status, 200, "{revisions}");
    assert_eq!(
        revisions["items"].as_array().map(Vec::len),
        Some(1),
        "{revisions}"
    );
    stop(server);
}

/// Disables `rule` through the API as the signed-in administrator.
async fn disable_rule(server: &Server, rule: &str) {
    let path = format!("/api/v1/rules/{rule}/disable");
    let (status, body) = server.post(&path, &serde_json::json!({})).await;
    assert_eq!(status, 200, "{body}");
}

/// Returns the rule ids of the alerts in a backtest report, sorted.
fn backtest_rules(report: &Value) -> Vec<String> {
    let mut rules: Vec<String> = report["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter_map(|alert| alert["rule_id"].as_str().map(str::to_owned))
        .collect();
    rules.sort();
    rules
}

#[tokio::test]
async fn backtest_defaults_to_active_rules() {
    let data = DataDir::with_points(&[("BT00001", 60)]);
    let rules_dir = write_pack(&data, "rules", "site.toml", &cod_pack());
    let env = [("OVERSIGHT_RULES__DIR", path_str(&rules_dir))];
    let server = Server::start(&data, &env).await;
    disable_rule(&server, "env.limit.upper").await;
    // COD exceeds the operator rule's 50 and, at 120, the disabled built-in
    // upper limit of 100. pH 5 is below the built-in lower limit of 6. No
    // value jumps enough for env.jump.
    let mut logger = Datalogger::connect(server.hj212, "BT00001", "123456").await;
    for (offset, cod, ph) in [(0, 60.0, 7.0), (1, 120.0, 5.0), (2, 60.0, 7.0)] {
        assert!(
            logger
                .send(minute(offset), &[("w01018", cod), ("w01001", ph)])
                .await,
            "upload {offset}"
        );
    }
    let expected = ["env.limit.lower", "site.cod"];

    let body = serde_json::json!({
        "mn": "BT00001",
        "from": minute(0).to_string(),
        "to": minute(10).to_string(),
    });
    let (status, report) = server.post("/api/v1/rules/backtest", &body).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["readings"], 6, "{report}");
    assert_eq!(backtest_rules(&report), expected, "{report}");
    stop(server);

    let data_dir = data.path().join("data");
    let output = Command::new(BINARY)
        .args(["rules", "test", "--json", "--data-dir", path_str(&data_dir)])
        .envs(env)
        .output()
        .expect("run oversight rules test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["readings"], 6, "{report}");
    assert_eq!(backtest_rules(&report), expected, "{report}");
}

/// Runs `rules test --csv` on `csv` with `data_dir` as the configured data
/// directory and returns the rule ids of its alerts and its stderr.
fn csv_test_with_data_dir(csv: &Path, data_dir: &Path) -> (Vec<String>, String) {
    let output = Command::new(BINARY)
        .args(["rules", "test", "--json", "--csv", path_str(csv)])
        .env("OVERSIGHT_DATA_DIR", data_dir)
        .output()
        .expect("run oversight rules test");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    (backtest_rules(&report), stderr)
}

#[tokio::test]
async fn csv_test_applies_stored_switches() {
    let data = DataDir::with_points(&[("SW00001", 60)]);
    let server = Server::start(&data, &[]).await;
    disable_rule(&server, "env.limit.upper").await;
    stop(server);

    // COD 150 is above the upper limit of 100 that the disabled rule checks.
    let csv = data.file(
        "readings.csv",
        "mn,factor,time,value,area,upper\n\
         SW00001,w01018,2026-03-01T08:00:00+08:00,150,350203,100\n",
    );
    let (rules, stderr) = csv_test_with_data_dir(&csv, &data.path().join("data"));
    assert!(!rules.contains(&"env.limit.upper".to_owned()), "{rules:?}");
    assert!(stderr.contains("env.limit.upper disabled"), "{stderr}");

    // Without a database in the configured directory no switch applies,
    // and the command prints that.
    let absent = data.path().join("absent");
    let (rules, stderr) = csv_test_with_data_dir(&csv, &absent);
    assert!(rules.contains(&"env.limit.upper".to_owned()), "{rules:?}");
    assert!(stderr.contains("no rule switches apply"), "{stderr}");
    assert!(
        !absent.exists(),
        "a test run must not create the data directory"
    );
}

/// Builds an HJ 212 heartbeat (CN 9015) of `mn` with `password`.
fn heartbeat(mn: &str, password: &str, sequence: u32) -> String {
    let segment = oversight_hj212::SegmentBuilder::new("32", 9015, password, mn)
        .qn(&format!("20261204080000{sequence:03}"))
        .build()
        .expect("valid heartbeat segment");
    oversight_hj212::encode_frame(&segment).expect("heartbeat fits a frame")
}

#[tokio::test]
async fn heartbeat_keeps_point_online() {
    use tokio::io::AsyncWriteExt;

    // Upload interval 4 s: the built-in rules fire after 3 intervals, 12 s.
    let data = DataDir::with_points(&[("HB00001", 4), ("HB00002", 4)]);
    let server = Server::start(&data, &[("OVERSIGHT_RULES__TICK_INTERVAL_SECS", "1")]).await;
    let now = Timestamp::now();
    let mut logger = Datalogger::connect(server.hj212, "HB00001", "123456").await;
    assert!(
        logger.send(now, &[("w01018", 10.0)]).await,
        "HB00001 upload"
    );
    let mut other = Datalogger::connect(server.hj212, "HB00002", "123456").await;
    assert!(other.send(now, &[("w01018", 10.0)]).await, "HB00002 upload");

    // HB00001 sends heartbeats with its password, HB00002 with a wrong one.
    let mut good = tokio::net::TcpStream::connect(server.hj212)
        .await
        .expect("connect");
    let mut wrong = tokio::net::TcpStream::connect(server.hj212)
        .await
        .expect("connect");
    let started = std::time::Instant::now();
    let mut sequence = 0;
    let body = loop {
        sequence += 1;
        good.write_all(heartbeat("HB00001", "123456", sequence).as_bytes())
            .await
            .expect("send heartbeat");
        wrong
            .write_all(heartbeat("HB00002", "654321", sequence).as_bytes())
            .await
            .expect("send heartbeat");
        let (_, body) = server.get("/api/v1/alerts?status=open").await;
        let opened = |rule: &str, mn: &str| {
            open_alerts_of(&body, rule)
                .iter()
                .any(|alert| alert["mn"] == mn)
        };
        if opened("env.data_missing", "HB00001") && opened("env.offline", "HB00002") {
            break body;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(40),
            "timed out waiting for the missing and offline alerts: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    };
    let offline: Vec<&Value> = open_alerts_of(&body, "env.offline")
        .into_iter()
        .filter(|alert| alert["mn"] == "HB00001")
        .collect();
    assert!(
        offline.is_empty(),
        "a point sending heartbeats is online: {offline:?}"
    );

    // The point's status and the dashboard count agree with the offline rule.
    let (code, point) = server.get("/api/v1/points/HB00001").await;
    assert_eq!(code, 200, "{point}");
    assert_eq!(point["status"]["online"], true, "{point}");
    let time_of = |field: &str| -> Timestamp {
        let text = point["status"][field].as_str();
        let text = text.unwrap_or_else(|| panic!("{field} missing: {point}"));
        text.parse().expect("RFC 3339 time")
    };
    assert!(
        time_of("last_contact_at") > time_of("last_received_at"),
        "heartbeats followed the upload: {point}"
    );
    let (_, other) = server.get("/api/v1/points/HB00002").await;
    assert_eq!(other["status"]["online"], false, "{other}");
    assert_eq!(other["status"]["last_contact_at"], Value::Null, "{other}");
    let (_, summary) = server.get("/api/v1/summary").await;
    assert_eq!(summary["points_online"], 1, "{summary}");

    stop(server);
}

/// Sends one heartbeat of `mn` to a server whose contact times are written
/// every `flush_ms`, waits `wait`, kills the server with SIGKILL, and returns
/// the stored last contact in microseconds with the time before the send.
async fn contact_after_kill(
    mn: &str,
    flush_ms: &str,
    wait: std::time::Duration,
) -> (Option<i64>, i64) {
    use tokio::io::AsyncWriteExt;

    let data = DataDir::with_points(&[(mn, 60)]);
    let server = Server::start(&data, &[("OVERSIGHT_HJ212__CONTACT_FLUSH_MS", flush_ms)]).await;
    let mut stream = tokio::net::TcpStream::connect(server.hj212)
        .await
        .expect("connect");
    let before = Timestamp::now().as_microsecond();
    stream
        .write_all(heartbeat(mn, "123456", 1).as_bytes())
        .await
        .expect("send heartbeat");
    tokio::time::sleep(wait).await;
    server.kill();

    let conn =
        rusqlite::Connection::open(data.path().join("data/oversight.db")).expect("open database");
    let stored = conn
        .query_row(
            "SELECT last_contact_at FROM points WHERE mn = ?1",
            [mn],
            |row| row.get(0),
        )
        .expect("point row");
    (stored, before)
}

#[tokio::test]
async fn heartbeat_contact_survives_kill() {
    // One interval of 200 ms plus a generous second for the store write.
    let (stored, before) =
        contact_after_kill("HB00003", "200", std::time::Duration::from_millis(1200)).await;
    let stored = stored.expect("the heartbeat's contact is stored before the kill");
    assert!(
        stored >= before,
        "contact {stored} precedes the send at {before}"
    );
    let now = Timestamp::now().as_microsecond();
    assert!(stored <= now, "contact {stored} lies after {now}");

    // With a 60 s interval the same wait is too short, so the contact is lost.
    let (lost, _) =
        contact_after_kill("HB00004", "60000", std::time::Duration::from_millis(1200)).await;
    assert_eq!(lost, None, "contact written before its interval ended");
}
