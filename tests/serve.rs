//! Tests that drive `oversight serve` and `oversight import` as a user
//! would: real processes, real sockets, a real data directory.

mod common;

use std::time::Duration;

use common::{DataDir, Datalogger, Server, points_csv};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// Imports Fujian's areas and the given points into a new data directory.
fn prepared(points: &[(&str, u32)]) -> DataDir {
    let data = DataDir::new();
    let (code, stdout, stderr) = data.import(&["areas", "--builtin", "--province", "35"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let file = data.file("points.csv", &points_csv(points));
    let (code, stdout, stderr) = data.import(&["points", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    data
}

fn alerts_of(body: &Value) -> &Vec<Value> {
    body["items"].as_array().expect("alert page has items")
}

#[tokio::test]
async fn upload_is_acked_and_stored() {
    let data = prepared(&[("E2E0001", 60)]);
    let server = Server::start(&data, &[]).await;
    let mut logger = Datalogger::connect(server.hj212, "E2E0001", "123456").await;
    let time: Timestamp = "2026-12-04T08:00:00Z".parse().expect("literal time");
    assert!(
        logger
            .send(time, &[("w01018", 42.5), ("w01001", 7.2)])
            .await,
        "upload not acked"
    );

    let readings = server.readings("E2E0001").await;
    assert_eq!(readings.len(), 2);
    let cod = readings
        .iter()
        .find(|r| r["factor"] == "w01018")
        .expect("COD reading");
    assert_eq!(cod["rtd"], 42.5);
    assert_eq!(cod["flag"], "N");
    assert_eq!(cod["kind"], "realtime");
    assert_eq!(cod["data_time"], "2026-12-04T08:00:00Z");

    let (status, point) = server.get("/api/v1/points/E2E0001").await;
    assert_eq!(status, 200);
    assert_eq!(point["status"]["online"], true);
    let (_, summary) = server.get("/api/v1/summary").await;
    assert_eq!(summary["points"], 1);
    assert_eq!(summary["readings_today"], 2);

    let status = server.terminate();
    assert!(status.success(), "serve exited with {status}");
}

#[tokio::test]
async fn retransmission_keeps_first_value() {
    let data = prepared(&[("E2E0002", 60)]);
    let server = Server::start(&data, &[]).await;
    let mut logger = Datalogger::connect(server.hj212, "E2E0002", "123456").await;
    let time: Timestamp = "2026-12-04T08:00:00Z".parse().expect("literal time");
    let (qn, frame) = logger.upload(time, &[("w01018", 42.5)]);
    assert!(
        logger.send_and_ack(&qn, &frame).await,
        "first upload not acked"
    );
    // A device that missed the acknowledgement resends the same frame.
    assert!(
        logger.send_and_ack(&qn, &frame).await,
        "identical resend not acked"
    );
    assert!(
        logger.send(time, &[("w01018", 47.0)]).await,
        "changed resend not acked"
    );

    let readings = server.readings("E2E0002").await;
    assert_eq!(readings.len(), 1, "{readings:?}");
    assert_eq!(readings[0]["rtd"], 42.5, "the first value wins");
    assert_eq!(readings[0]["revisions"], 1);

    let (status, page) = server
        .get("/api/v1/points/E2E0002/revisions?factor=w01018")
        .await;
    assert_eq!(status, 200, "{page}");
    let revisions = page["items"].as_array().expect("items");
    assert_eq!(revisions.len(), 1, "{page}");
    assert_eq!(revisions[0]["rtd"], 47.0);
    assert_eq!(revisions[0]["data_time"], "2026-12-04T08:00:00Z");
    assert!(revisions[0]["received_at"].is_string(), "{page}");

    let (_, summary) = server.get("/api/v1/summary").await;
    assert_eq!(summary["readings_today"], 1);
    let status = server.terminate();
    assert!(status.success(), "serve exited with {status}");
}

#[tokio::test]
async fn exceedance_opens_one_alert_then_resolves() {
    let data = prepared(&[("E2E0002", 60)]);
    let server = Server::start(&data, &[]).await;
    let mut logger = Datalogger::connect(server.hj212, "E2E0002", "123456").await;
    let start: Timestamp = "2026-12-04T08:00:00Z".parse().expect("literal time");
    let at = |minutes: i64| {
        start
            .checked_add(SignedDuration::from_mins(minutes))
            .expect("in range")
    };

    for (minute, cod) in [(0, 150.0), (1, 230.0), (2, 180.0)] {
        assert!(
            logger.send(at(minute), &[("w01018", cod)]).await,
            "upload {minute} not acked"
        );
    }
    let path = "/api/v1/alerts?mn=E2E0002";
    let body = server
        .wait_for(path, "three exceedances counted on one alert", |body| {
            alerts_of(body)
                .first()
                .is_some_and(|alert| alert["count"] == 3)
        })
        .await;
    let alerts = alerts_of(&body);
    assert_eq!(alerts.len(), 1, "exceedances must share one alert: {body}");
    let alert = &alerts[0];
    assert_eq!(alert["rule_id"], "env.limit.upper");
    assert_eq!(alert["category"], "exceedance");
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["explanation"]["values"]["upper"], 100.0);
    assert_eq!(alert["factor"], "w01018");
    assert_eq!(alert["trigger_value"], 150.0);
    assert_eq!(alert["peak_value"], 230.0);
    assert_eq!(alert["limit"], 100.0);
    assert_eq!(alert["point_name"], "outlet E2E0002");

    assert!(
        logger.send(at(3), &[("w01018", 60.0)]).await,
        "return to normal not acked"
    );
    let body = server
        .wait_for(path, "the alert resolved", |body| {
            alerts_of(body)
                .first()
                .is_some_and(|alert| alert["status"] == "resolved")
        })
        .await;
    assert_eq!(alerts_of(&body).len(), 1, "{body}");
    assert_eq!(alerts_of(&body)[0]["resolved_at"], "2026-12-04T08:03:00Z");
}

#[tokio::test]
async fn silence_opens_offline_alert() {
    let data = prepared(&[("E2E0003", 1)]);
    let env = [("OVERSIGHT_RULES__TICK_INTERVAL_SECS", "1")];
    let server = Server::start(&data, &env).await;
    let mut logger = Datalogger::connect(server.hj212, "E2E0003", "123456").await;
    assert!(logger.send(Timestamp::now(), &[("w01018", 20.0)]).await);

    // The interval is one second, so three silent seconds make the point offline.
    let body = server
        .wait_for(
            "/api/v1/alerts?mn=E2E0003&status=open",
            "an offline alert",
            |body| {
                alerts_of(body)
                    .iter()
                    .any(|alert| alert["rule_id"] == "env.offline")
            },
        )
        .await;
    let alert = alerts_of(&body)
        .iter()
        .find(|a| a["rule_id"] == "env.offline")
        .expect("found");
    assert_eq!(alert["factor"], Value::Null);

    assert!(logger.send(Timestamp::now(), &[("w01018", 21.0)]).await);
    server
        .wait_for(
            "/api/v1/alerts?mn=E2E0003&status=resolved",
            "offline resolved",
            |body| {
                alerts_of(body)
                    .iter()
                    .any(|alert| alert["rule_id"] == "env.offline")
            },
        )
        .await;
}

#[tokio::test]
async fn sigkill_loses_no_acked_reading() {
    const LOGGERS: usize = 4;
    const ACKS_BEFORE_KILL: usize = 400;
    let mns: Vec<String> = (0..LOGGERS)
        .map(|index| format!("KILL{index:04}"))
        .collect();
    let points: Vec<(&str, u32)> = mns.iter().map(|mn| (mn.as_str(), 60)).collect();
    let data = prepared(&points);
    let server = Server::start(&data, &[]).await;

    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    let start: Timestamp = "2026-12-04T00:00:00Z".parse().expect("literal time");
    for mn in &mns {
        let (target, mn, acked) = (server.hj212, mn.clone(), acked.clone());
        tasks.spawn(async move {
            let mut logger = Datalogger::connect(target, &mn, "123456").await;
            let mut times = Vec::new();
            for second in 0.. {
                let time = start
                    .checked_add(SignedDuration::from_secs(second))
                    .expect("in range");
                if !logger
                    .send(time, &[("w01018", 50.0), ("w01001", 7.0), ("w21003", 3.0)])
                    .await
                {
                    break;
                }
                times.push(time.to_string());
                acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            (mn, times)
        });
    }
    while acked.load(std::sync::atomic::Ordering::SeqCst) < ACKS_BEFORE_KILL {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The uploads keep flowing while the process dies.
    server.kill();
    let mut acknowledged = Vec::new();
    while let Some(result) = tasks.join_next().await {
        acknowledged.push(result.expect("logger task"));
    }

    let server = Server::start(&data, &[]).await;
    let mut total = 0;
    for (mn, times) in acknowledged {
        let readings = server.readings(&mn).await;
        let stored: std::collections::HashSet<(String, String)> = readings
            .iter()
            .map(|r| {
                (
                    r["data_time"].as_str().unwrap_or_default().to_owned(),
                    r["factor"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        for time in &times {
            for factor in ["w01018", "w01001", "w21003"] {
                assert!(
                    stored.contains(&(time.clone(), factor.to_owned())),
                    "{mn} lost acked {factor} at {time}"
                );
            }
        }
        total += times.len();
    }
    assert!(
        total >= ACKS_BEFORE_KILL,
        "only {total} uploads acknowledged"
    );
}

#[tokio::test]
async fn import_reports_bad_rows() {
    let data = DataDir::new();
    let (code, _, stderr) = data.import(&["areas", "--builtin", "--province", "35"]);
    assert_eq!(code, 0, "{stderr}");
    let file = data.file(
        "points.csv",
        "mn,name,area,st,password,limits\n\
         GOOD01,good,350203001,32,123456,w01018::100:mg/L\n\
         BAD 02,bad mn,350203001,32,123456,\n\
         GOOD03,good,350203001,32,123456,\n\
         BAD04,bad area,359999999,32,123456,\n",
    );
    let (code, stdout, stderr) = data.import(&["points", file.to_str().expect("utf-8 path")]);
    assert_eq!(
        code, 2,
        "exit status 2 marks rejected rows: {stdout}{stderr}"
    );
    assert!(
        stdout.contains("imported 2 of 4 rows; 2 rejected"),
        "{stdout}"
    );
    assert!(
        stderr.contains("line 3, column mn, value \"BAD 02\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 5, column area, value \"359999999\""),
        "{stderr}"
    );
    assert!(stderr.contains("not found"), "{stderr}");

    let (code, _, stderr) = data.import(&["points", "/nonexistent/points.csv"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("cannot read /nonexistent/points.csv"),
        "{stderr}"
    );
}

#[tokio::test]
async fn unregistered_mn_is_quarantined() {
    let data = prepared(&[("E2E0005", 60)]);
    let server = Server::start(&data, &[]).await;
    for mn in ["NEWMN01", "NEWMN02"] {
        let mut logger = Datalogger::connect(server.hj212, mn, "123456").await;
        assert!(
            logger.send(Timestamp::now(), &[("w01018", 10.0)]).await,
            "quarantined upload of {mn} not acked"
        );
    }

    let body = server
        .wait_for("/api/v1/quarantine", "two quarantine entries", |body| {
            body["items"]
                .as_array()
                .is_some_and(|entries| entries.len() == 2)
        })
        .await;
    let entries = body["items"].as_array().expect("entries");
    assert!(entries.iter().all(|entry| entry["readings"] == 1), "{body}");
    assert!(
        entries
            .iter()
            .all(|entry| entry["reasons"] == serde_json::json!(["unregistered"])),
        "{body}"
    );
    let (status, held) = server.get("/api/v1/quarantine/NEWMN01").await;
    assert_eq!(status, 200);
    let raw = held["items"][0]["raw"].as_str().expect("raw packet");
    assert!(raw.contains("PW=******;"), "password not masked: {raw}");
    assert!(!raw.contains("123456"), "password shown: {raw}");

    let (status, _) = server
        .post("/api/v1/quarantine/NEWMN01/release", &Value::Null)
        .await;
    assert_eq!(status, 409, "released before registration");

    let point = serde_json::json!({
        "mn": "NEWMN01",
        "name": "new outlet",
        "area": "350203001",
        "system_code": "32",
        "password": "123456",
    });
    let (status, body) = server.post("/api/v1/points", &point).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .post("/api/v1/quarantine/NEWMN01/release", &Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["moved"], 1);
    let readings = server.readings("NEWMN01").await;
    assert_eq!(readings.len(), 1, "released reading joins the point");

    let (status, body) = server.delete("/api/v1/quarantine/NEWMN02").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["discarded"], 1);
    let (_, body) = server.get("/api/v1/quarantine").await;
    assert_eq!(body["items"], serde_json::json!([]), "{body}");
}

#[tokio::test]
async fn release_keeps_uploads_with_wrong_password() {
    let data = prepared(&[("E2E0010", 60)]);
    let server = Server::start(&data, &[]).await;
    let time: Timestamp = "2026-12-04T08:00:00Z".parse().expect("literal time");
    let mut forger = Datalogger::connect(server.hj212, "NEWMN10", "guessed").await;
    assert!(
        forger.send(time, &[("w01018", 999.0)]).await,
        "quarantined upload not acked"
    );
    let mut device = Datalogger::connect(server.hj212, "NEWMN10", "123456").await;
    let later = time + SignedDuration::from_mins(1);
    assert!(
        device.send(later, &[("w01018", 42.0)]).await,
        "quarantined upload not acked"
    );
    server
        .wait_for("/api/v1/quarantine/NEWMN10", "two held uploads", |body| {
            body["items"]
                .as_array()
                .is_some_and(|uploads| uploads.len() == 2)
        })
        .await;

    let point = serde_json::json!({
        "mn": "NEWMN10",
        "name": "new outlet",
        "area": "350203001",
        "system_code": "32",
        "password": "123456",
    });
    let (status, body) = server.post("/api/v1/points", &point).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .post("/api/v1/quarantine/NEWMN10/release", &Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["moved"], 1, "{body}");
    let readings = server.readings("NEWMN10").await;
    assert_eq!(readings.len(), 1, "{readings:?}");
    assert_eq!(readings[0]["rtd"], 42.0, "{readings:?}");
    let (status, held) = server.get("/api/v1/quarantine/NEWMN10").await;
    assert_eq!(status, 200, "{held}");
    let uploads = held["items"].as_array().expect("held uploads");
    assert_eq!(uploads.len(), 1, "{held}");
    assert_eq!(uploads[0]["readings"][0]["rtd"], 999.0, "{held}");
}

#[tokio::test]
async fn invalid_mn_upload_rejected() {
    let data = prepared(&[("E2E0009", 60)]);
    let server = Server::start(&data, &[]).await;
    // An MN that can never be registered: empty, too long, or not ASCII.
    let invalid = ["", &"9".repeat(65), "测试点MN"];
    for (index, mn) in invalid.iter().enumerate() {
        let mut logger = Datalogger::connect(server.hj212, "E2E0009", "123456").await;
        let qn = format!("20261204160000{index:03}");
        let segment = format!(
            "QN={qn};ST=32;CN=2011;PW=123456;MN={mn};Flag=5;\
             CP=&&DataTime=20261204160000;w01018-Rtd=10.0,w01018-Flag=N&&"
        );
        let frame = oversight_hj212::encode_frame(&segment).expect("segment fits a frame");
        assert!(
            !logger.send_and_wait(&qn, &frame, common::NO_ACK_WAIT).await,
            "upload with MN {mn:?} acknowledged"
        );
        // The error shows at most 64 characters of the rejected value.
        let shown_mn: String = mn.chars().take(64).collect();
        let named = format!("invalid MN {shown_mn:?}");
        server
            .wait_for_log("the rejection of the invalid MN", |event| {
                event["message"] == "hj212 input rejected"
                    && event["reason"] == "invalid_mn"
                    && event["error"]
                        .as_str()
                        .is_some_and(|error| error.contains(&named))
            })
            .await;
    }

    let (status, body) = server.get("/api/v1/quarantine").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"], serde_json::json!([]), "{body}");
}

#[tokio::test]
async fn log_holds_no_secrets() {
    let data = DataDir::new();
    let (code, stdout, stderr) = data.import(&["areas", "--builtin", "--province", "35"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let point_password = "PwRedact7319";
    let points = format!(
        "mn,name,area,st,password,interval_secs,limits\n\
         REDACT01,outlet,350203001,32,{point_password},60,w01018::100:mg/L\n"
    );
    let file = data.file("points.csv", &points);
    let (code, stdout, stderr) = data.import(&["points", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let server = Server::start(&data, &[("OVERSIGHT_LOG__LEVEL", "debug")]).await;

    let wrong_password = "WrongLogin5521 guess";
    let client = reqwest::Client::new();
    let response = client
        .post(server.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"username": common::ADMIN.0, "password": wrong_password}))
        .send()
        .await
        .expect("login request");
    assert_eq!(response.status().as_u16(), 401);

    let body = serde_json::json!({"name": "redaction", "expires_in_days": 1});
    let (status, token) = server.post("/api/v1/auth/tokens", &body).await;
    assert_eq!(status, 201, "{token}");
    let token = token["token"].as_str().expect("token secret").to_owned();
    let response = client
        .get(server.url("/api/v1/points"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request with the token");
    assert_eq!(response.status().as_u16(), 200);

    let time: Timestamp = "2026-12-04T08:00:00Z".parse().expect("literal time");
    let mut logger = Datalogger::connect(server.hj212, "REDACT01", point_password).await;
    assert!(
        logger.send(time, &[("w01018", 20.0)]).await,
        "upload not acked"
    );
    let wrong_pw = "PwWrong8846";
    let mut impostor = Datalogger::connect(server.hj212, "REDACT01", wrong_pw).await;
    assert!(
        !impostor.send_rejected(time, &[("w01018", 20.0)]).await,
        "wrong PW acked"
    );

    let log = server.log_lines().join("\n");
    assert!(
        log.contains("login failed"),
        "the failed login was not logged"
    );
    assert!(
        log.contains("hj212 input rejected"),
        "the wrong PW was not logged"
    );
    let secrets = [
        ("administrator password", common::ADMIN.1),
        ("tried password", wrong_password),
        ("API token", token.as_str()),
        ("point password", point_password),
        ("wrong point password", wrong_pw),
    ];
    for (what, secret) in secrets {
        assert!(!log.contains(secret), "the log holds the {what}");
    }
}

#[cfg(unix)]
#[test]
fn data_dir_is_private_and_checked() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    let data = DataDir::new();
    let (code, stdout, stderr) = data.import(&["areas", "--builtin", "--province", "35"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let dir = data.path().join("data");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("oversight.db")), 0o600);

    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let (code, _, stderr) = data.import(&["areas", "--builtin", "--province", "35"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&dir.display().to_string()), "{stderr}");
    assert!(stderr.contains("mode 0777"), "{stderr}");
    assert!(stderr.contains("chmod 700"), "{stderr}");
}

/// Runs `oversight point password` on `data` with `password` on standard input.
fn set_point_password(data: &DataDir, mn: &str, password: &str, extra: &[&str]) -> (i32, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(common::BINARY)
        .args(["point", "password", mn, "--data-dir"])
        .arg(data.path().join("data"))
        .args(extra)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run oversight point password");
    let mut stdin = child.stdin.take().expect("piped stdin");
    writeln!(stdin, "{password}").expect("write password");
    drop(stdin);
    let output = child
        .wait_with_output()
        .expect("wait for oversight point password");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn point_password_rotation_from_cli() {
    let data = prepared(&[("E2E0003", 60)]);
    let (code, output) = set_point_password(
        &data,
        "E2E0003",
        "654321",
        &["--previous-valid-until", "2099-01-01T00:00:00Z"],
    );
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("stays valid until"), "{output}");
    let (code, output) = set_point_password(&data, "E2E0404", "654321", &[]);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("E2E0404 not found"), "{output}");
    let (code, output) = set_point_password(&data, "E2E0003", "bad pass", &[]);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("invalid password"), "{output}");

    let server = Server::start(&data, &[]).await;
    let time: Timestamp = "2026-12-04T08:00:00Z".parse().expect("literal time");
    let mut old = Datalogger::connect(server.hj212, "E2E0003", "123456").await;
    assert!(
        old.send(time, &[("w01018", 40.0)]).await,
        "old password rejected"
    );
    let mut new = Datalogger::connect(server.hj212, "E2E0003", "654321").await;
    let next = time + SignedDuration::from_mins(1);
    assert!(
        new.send(next, &[("w01018", 41.0)]).await,
        "new password rejected"
    );
    // The server retires the previous password before it acknowledges the
    // new upload. Its log line shows that the retirement succeeded, because
    // a failed one is only logged and the previous password stays valid.
    server
        .wait_for_log("the retirement of the previous password", |event| {
            event["message"] == "hj212 device sent its new password, previous password retired"
                && event["mn"] == "E2E0003"
        })
        .await;
    let later = time + SignedDuration::from_mins(2);
    assert!(
        !old.send_rejected(later, &[("w01018", 42.0)]).await,
        "old password accepted after the new one arrived"
    );
    server
        .wait_for_log("the rejection of the previous password", |event| {
            event["message"] == "hj212 input rejected"
                && event["reason"] == "wrong_password"
                && event["error"]
                    .as_str()
                    .is_some_and(|error| error.contains("E2E0003"))
        })
        .await;
    assert_eq!(server.readings("E2E0003").await.len(), 2);
    let status = server.terminate();
    assert!(status.success(), "serve exited with {status}");
}
