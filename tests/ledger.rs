//! Tests that tamper with a real server's ledger and run `oversight ledger
//! verify` on it: the command must name the first entry altered, removed,
//! inserted or reordered, and reject a forged checkpoint.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{BINARY, DataDir, Server, points_csv};
use rusqlite::{Connection, params};

/// Points imported, each appending one ledger entry. The server appends
/// more entries when it starts, such as the rule engine's load.
const POINTS: usize = 12;

/// A data directory whose ledger has `entries` entries and a signed
/// checkpoint of all of them, and that checkpoint's signed note.
struct Prepared {
    data: DataDir,
    checkpoint: PathBuf,
    entries: u64,
}

async fn prepared() -> Prepared {
    prepared_with(POINTS).await
}

/// Prepares a ledger of the entries for `count` imported points and those
/// the server appends.
async fn prepared_with(count: usize) -> Prepared {
    let data = DataDir::new();
    let (code, stdout, stderr) = data.import(&["areas", "--builtin", "--province", "35"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let mns: Vec<String> = (0..count)
        .map(|number| format!("LEDGER{number:04}"))
        .collect();
    let points: Vec<(&str, u32)> = mns.iter().map(|mn| (mn.as_str(), 60)).collect();
    let file = data.file("points.csv", &points_csv(&points));
    let (code, stdout, stderr) = data.import(&["points", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    let server = Server::start(
        &data,
        &[("OVERSIGHT_LEDGER__CHECKPOINT_INTERVAL_SECS", "1")],
    )
    .await;
    wait_for_checkpoint(&server, count).await;
    assert!(server.terminate().success(), "server exits cleanly");

    // The server signs a last checkpoint of every entry when it stops.
    let conn = Connection::open(data.path().join("data/oversight.db")).expect("open database");
    let entries: u64 = conn
        .query_row("SELECT size FROM ledger_state", [], |row| row.get(0))
        .expect("ledger size");
    let (size, note): (u64, String) = conn
        .query_row(
            "SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .expect("latest checkpoint");
    assert_eq!(size, entries, "the last checkpoint covers every entry");
    let checkpoint = data.file("checkpoint.txt", &note);
    Prepared {
        data,
        checkpoint,
        entries,
    }
}

/// Polls `GET /ledger/checkpoint` until it signs at least `size` entries.
async fn wait_for_checkpoint(server: &Server, size: usize) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + common::SETTLE;
    loop {
        let response = client
            .get(server.url("/api/v1/ledger/checkpoint"))
            .send()
            .await
            .expect("GET checkpoint");
        if response.status() == 200 {
            let note = response.text().await.expect("checkpoint text");
            let signed: usize = note
                .lines()
                .nth(1)
                .and_then(|line| line.parse().ok())
                .unwrap_or(0);
            if signed >= size {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint of size {size} was signed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Prepared {
    fn data_dir(&self) -> PathBuf {
        self.data.path().join("data")
    }

    fn database(&self) -> Connection {
        Connection::open(self.data_dir().join("oversight.db")).expect("open database")
    }

    /// Runs `oversight ledger verify` with the checkpoint file and `extra` arguments.
    fn verify(&self, extra: &[&str]) -> (i32, String) {
        let output = Command::new(BINARY)
            .args(["ledger", "verify", "--data-dir"])
            .arg(self.data_dir())
            .arg("--checkpoint")
            .arg(&self.checkpoint)
            .args(extra)
            .output()
            .expect("run oversight ledger verify");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code().unwrap_or(-1), text)
    }
}

fn assert_tampered(prepared: &Prepared, expected: &str) {
    let (code, output) = prepared.verify(&[]);
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("TAMPERED"), "{output}");
    assert!(
        output.contains(expected),
        "expected {expected:?} in {output}"
    );
}

#[tokio::test]
async fn intact_ledger_verifies() {
    let prepared = prepared().await;
    let (code, output) = prepared.verify(&[]);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains(&format!("OK: {} entries", prepared.entries)),
        "{output}"
    );
    assert!(
        output.contains(&format!("checkpoint of size {}", prepared.entries)),
        "{output}"
    );
}

/// Returns the stored form of the first bundle.
fn stored_bundle(conn: &Connection) -> Vec<u8> {
    conn.query_row(
        "SELECT entries FROM ledger_entry_bundles WHERE idx = 0",
        [],
        |row| row.get(0),
    )
    .expect("first bundle")
}

/// Returns the entries of the first bundle, each its canonical leaf data.
/// Every test ledger of [`prepared`] has fewer than 256 entries, so they all
/// live there, stored as they are.
fn read_bundle(conn: &Connection) -> Vec<String> {
    entry_lines(stored_bundle(conn))
}

fn entry_lines(bytes: Vec<u8>) -> Vec<String> {
    let text = String::from_utf8(bytes).expect("entries are UTF-8");
    text.lines().map(str::to_owned).collect()
}

/// Joins entries in the form of a bundle, each followed by a newline.
fn bundle_bytes(entries: &[String]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in entries {
        bytes.extend_from_slice(entry.as_bytes());
        bytes.push(b'\n');
    }
    bytes
}

fn write_bundle(conn: &Connection, entries: &[String]) {
    write_stored_bundle(conn, &bundle_bytes(entries));
}

fn write_stored_bundle(conn: &Connection, stored: &[u8]) {
    conn.execute(
        "UPDATE ledger_entry_bundles SET entries = ?1 WHERE idx = 0",
        params![stored],
    )
    .expect("rewrite first bundle");
}

/// Overwrites the stored leaf hash of `index` in the first level 0 tile.
fn write_leaf_hash(conn: &Connection, index: usize, hash: &[u8; 32]) {
    let mut hashes: Vec<u8> = conn
        .query_row(
            "SELECT hashes FROM ledger_tiles WHERE level = 0 AND idx = 0",
            [],
            |row| row.get(0),
        )
        .expect("first leaf tile");
    hashes[index * 32..(index + 1) * 32].copy_from_slice(hash);
    conn.execute(
        "UPDATE ledger_tiles SET hashes = ?1 WHERE level = 0 AND idx = 0",
        params![hashes],
    )
    .expect("rewrite first leaf tile");
}

/// Returns the RFC 9162 SHA-256 leaf hash of `data`.
fn sha256_leaf_hash(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update([0]);
    hasher.update(data);
    hasher.finalize().into()
}

#[tokio::test]
async fn altered_payload_is_named() {
    let prepared = prepared().await;
    let conn = prepared.database();
    let mut entries = read_bundle(&conn);
    assert!(entries[7].contains("LEDGER0007"), "{}", entries[7]);
    entries[7] = entries[7].replace("LEDGER0007", "LEDGER9999");
    write_bundle(&conn, &entries);
    assert_tampered(&prepared, "entry 7 was altered");
}

#[tokio::test]
async fn altered_payload_and_leaf_hash_is_named() {
    let prepared = prepared().await;
    let conn = prepared.database();
    // The attacker also overwrites the entry's stored leaf hash, but without
    // the hashes above it the tiles no longer agree with the entries.
    let mut entries = read_bundle(&conn);
    entries[4] = entries[4].replace("\"actor\":\"cli:", "\"actor\":\"user:mallory-");
    assert!(entries[4].contains("mallory"), "{}", entries[4]);
    write_bundle(&conn, &entries);
    write_leaf_hash(&conn, 4, &[0; 32]);
    assert_tampered(&prepared, "entry 4 was altered");
}

#[tokio::test]
async fn consistent_rewrite_misses_checkpoint() {
    let prepared = prepared().await;
    let conn = prepared.database();
    // The entry and its leaf hash agree, so only the signed root shows the change.
    let mut entries = read_bundle(&conn);
    entries[4] = entries[4].replace("\"actor\":\"cli:", "\"actor\":\"user:mallory-");
    write_bundle(&conn, &entries);
    write_leaf_hash(&conn, 4, &sha256_leaf_hash(entries[4].as_bytes()));
    assert_tampered(
        &prepared,
        "entries and stored leaf hashes were both rewritten",
    );
}

#[tokio::test]
async fn removed_entry_is_named() {
    let prepared = prepared().await;
    let conn = prepared.database();
    let mut entries = read_bundle(&conn);
    entries.remove(5);
    write_bundle(&conn, &entries);
    assert_tampered(&prepared, "1 entries were removed at entry 5");
}

#[tokio::test]
async fn reordered_entries_are_named() {
    let prepared = prepared().await;
    let conn = prepared.database();
    let mut entries = read_bundle(&conn);
    entries.swap(3, 8);
    write_bundle(&conn, &entries);
    assert_tampered(&prepared, "entry 3 was moved: the log stored it at 8");
}

#[tokio::test]
async fn inserted_entry_is_named() {
    let prepared = prepared().await;
    let conn = prepared.database();
    let mut entries = read_bundle(&conn);
    let forged = entries[5].replace(
        "\"subject\":\"point:LEDGER0005\"",
        "\"subject\":\"point:FORGED\"",
    );
    assert!(forged.contains("point:FORGED"), "{forged}");
    entries.insert(6, forged);
    write_bundle(&conn, &entries);
    assert_tampered(&prepared, "1 entries were inserted at entry 6");
}

#[tokio::test]
async fn invalid_entry_encoding_is_named() {
    let prepared = prepared().await;
    let conn = prepared.database();
    // Valid JSON, but not the canonical encoding the leaf hash covers.
    let mut entries = read_bundle(&conn);
    entries[2] = entries[2].replacen('{', "{ ", 1);
    write_bundle(&conn, &entries);
    assert_tampered(
        &prepared,
        "entry 2 was altered: its stored encoding is invalid",
    );
}

/// Points imported for a ledger whose first bundle of 256 entries is full,
/// and so stored compressed.
const MANY_POINTS: usize = 300;

/// Returns the entries of the first bundle of a ledger of more than 256
/// entries, which is stored compressed: the byte 0x01, the length of the
/// entries as a 32-bit little-endian number, then an LZ4 block.
fn read_compressed_bundle(conn: &Connection) -> Vec<String> {
    let stored = stored_bundle(conn);
    assert_eq!(stored[0], 0x01, "a full bundle is stored compressed");
    let length = u32::from_le_bytes(stored[1..5].try_into().expect("4 bytes"));
    let bytes = lz4_flex::block::decompress(&stored[5..], length as usize).expect("decompress");
    entry_lines(bytes)
}

fn write_compressed_bundle(conn: &Connection, entries: &[String]) {
    let bytes = bundle_bytes(entries);
    let length = u32::try_from(bytes.len()).expect("a small bundle");
    let mut stored = vec![0x01];
    stored.extend_from_slice(&length.to_le_bytes());
    stored.extend_from_slice(&lz4_flex::block::compress(&bytes));
    write_stored_bundle(conn, &stored);
}

#[tokio::test]
async fn altered_entry_in_compressed_bundle_is_named() {
    let prepared = prepared_with(MANY_POINTS).await;
    let (code, output) = prepared.verify(&[]);
    assert_eq!(code, 0, "{output}");
    let conn = prepared.database();
    let mut entries = read_compressed_bundle(&conn);
    assert_eq!(entries.len(), 256);
    assert!(entries[200].contains("LEDGER0200"), "{}", entries[200]);
    entries[200] = entries[200].replace("LEDGER0200", "LEDGER9999");
    write_compressed_bundle(&conn, &entries);
    assert_tampered(&prepared, "entry 200 was altered");

    // Bytes cut from the compressed block leave nothing to decode.
    let stored = stored_bundle(&conn);
    write_stored_bundle(&conn, &stored[..stored.len() - 16]);
    assert_tampered(
        &prepared,
        "entry 0 was altered: its stored encoding is invalid",
    );
    assert_tampered(&prepared, "It contains entries 0 to 255");
}

#[tokio::test]
async fn forged_checkpoint_is_rejected() {
    let prepared = prepared().await;
    let note = std::fs::read_to_string(&prepared.checkpoint).expect("checkpoint");
    let mut lines: Vec<&str> = note.split('\n').collect();
    // Claim a different root: the log's signature no longer covers the body.
    let forged_root = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    lines[2] = forged_root;
    std::fs::write(&prepared.checkpoint, lines.join("\n")).expect("write forged checkpoint");
    assert_tampered(&prepared, "does not verify with the log's key");
}

#[tokio::test]
async fn export_verifies_and_edit_is_caught() {
    let prepared = prepared().await;
    let export = prepared.data.path().join("export.jsonl");
    let status = Command::new(BINARY)
        .args(["ledger", "export", "--data-dir"])
        .arg(prepared.data_dir())
        .arg("--output")
        .arg(&export)
        .status()
        .expect("run oversight ledger export");
    assert!(status.success());
    let key = prepared.data_dir().join("ledger-verifier.key");
    let verify_export = |file: &Path| {
        let output = Command::new(BINARY)
            .args(["ledger", "verify", "--export"])
            .arg(file)
            .arg("--checkpoint")
            .arg(&prepared.checkpoint)
            .arg("--key")
            .arg(&key)
            .output()
            .expect("run oversight ledger verify");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (code, output) = verify_export(&export);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains(&format!("checkpoint of size {}", prepared.entries)),
        "{output}"
    );

    // An intact export checked with the wrong hash function is not tampered with.
    let output = Command::new(BINARY)
        .args(["ledger", "verify", "--hash", "sm3", "--export"])
        .arg(&export)
        .arg("--checkpoint")
        .arg(&prepared.checkpoint)
        .arg("--key")
        .arg(&key)
        .output()
        .expect("run oversight ledger verify --hash sm3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(!text.contains("TAMPERED"), "{text}");
    assert!(text.contains("--hash sha256"), "{text}");

    let text = std::fs::read_to_string(&export).expect("export");
    assert_eq!(text.lines().count() as u64, prepared.entries);
    std::fs::write(&export, text.replacen("LEDGER0002", "LEDGER0003", 1)).expect("edit export");
    let (code, output) = verify_export(&export);
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("differs from the checkpoint"), "{output}");
}

/// Commands run without `[ledger] hash` on a data directory whose ledger
/// uses SM3 take the hash function recorded there.
#[tokio::test]
async fn sm3_ledger_needs_no_hash_setting() {
    let data = DataDir::new();
    let created = Command::new(BINARY)
        .args([
            "import",
            "areas",
            "--builtin",
            "--province",
            "35",
            "--data-dir",
        ])
        .arg(data.path().join("data"))
        .env("OVERSIGHT_LEDGER__HASH", "sm3")
        .output()
        .expect("run oversight import areas");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let file = data.file("points.csv", &points_csv(&[("SM3LEDGER0001", 60)]));
    let mut import_points = Command::new(BINARY);
    import_points
        .args(["import", "points", "--data-dir"])
        .arg(data.path().join("data"))
        .arg(&file)
        .env("OVERSIGHT_LEDGER__HASH", "sm3");
    let imported = import_points.output().expect("run oversight import points");
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );

    // `user add` (inside Server::start) and `serve` run without the setting.
    let server = Server::start(
        &data,
        &[("OVERSIGHT_LEDGER__CHECKPOINT_INTERVAL_SECS", "1")],
    )
    .await;
    let (status, key) = server.get("/api/v1/ledger/key").await;
    assert_eq!(status, 200, "{key}");
    assert_eq!(key["hash"], "sm3", "{key}");
    let size = ledger_entries(&server).await.len();
    assert!(
        size >= 2,
        "the point and the account are recorded: {size} entries"
    );
    wait_for_checkpoint(&server, size).await;
    assert!(server.terminate().success(), "server exits cleanly");

    let verified = Command::new(BINARY)
        .args(["ledger", "verify", "--data-dir"])
        .arg(data.path().join("data"))
        .output()
        .expect("run oversight ledger verify");
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(stdout.contains("sm3 hash"), "{stdout}");

    // Only a setting that contradicts the stored hash function is rejected.
    let contradicting = Command::new(BINARY)
        .args(["import", "points", "--data-dir"])
        .arg(data.path().join("data"))
        .arg(&file)
        .env("OVERSIGHT_LEDGER__HASH", "sha256")
        .output()
        .expect("run oversight import points");
    let stderr = String::from_utf8_lossy(&contradicting.stderr);
    assert_eq!(contradicting.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.matches("hashed with sm3").count(), 1, "{stderr}");
    assert!(
        stderr.contains(r#"Remove the setting or set it to "sm3""#),
        "{stderr}"
    );
}

/// Returns every ledger entry through the API, following the pages.
async fn ledger_entries(server: &Server) -> Vec<serde_json::Value> {
    let mut entries = Vec::new();
    let mut from = 0;
    loop {
        let (status, page) = server
            .get(&format!("/api/v1/ledger/entries?from={from}&limit=1000"))
            .await;
        assert_eq!(status, 200, "{page}");
        entries.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_from"].as_u64() {
            Some(next) => from = next,
            None => return entries,
        }
    }
}

#[tokio::test]
async fn auth_events_reach_ledger() {
    let data = DataDir::new();
    let server = Server::start(&data, &[]).await;

    let user_password = "inspector password 1";
    let new_user = serde_json::json!({
        "username": "wang",
        "password": user_password,
        "role": "system_admin",
    });
    let (status, user) = server.post("/api/v1/users", &new_user).await;
    assert_eq!(status, 201, "{user}");
    let user_id = user["id"].as_i64().expect("user id");
    let (status, changed) = server
        .patch(
            &format!("/api/v1/users/{user_id}"),
            &serde_json::json!({"disabled": false}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");

    let body = serde_json::json!({"name": "ci", "expires_in_days": 1});
    let (status, token) = server.post("/api/v1/auth/tokens", &body).await;
    assert_eq!(status, 201, "{token}");
    let secret = token["token"].as_str().expect("token secret").to_owned();
    let token_id = token["id"].as_i64().expect("token id");
    let (status, revoked) = server
        .delete(&format!("/api/v1/auth/tokens/{token_id}"))
        .await;
    assert_eq!(status, 200, "{revoked}");

    // Five wrong passwords lock the login name (auth.max_account_failures).
    let client = reqwest::Client::new();
    let wrong = serde_json::json!({"username": "wang", "password": "not the password"});
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = client
            .post(server.url("/api/v1/auth/login"))
            .json(&wrong)
            .send()
            .await
            .expect("login request");
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);

    let entries = ledger_entries(&server).await;
    let of_kind = |kind: &str| -> Vec<&serde_json::Value> {
        entries
            .iter()
            .filter(|entry| entry["kind"] == kind)
            .collect()
    };
    let login = of_kind("auth.login_succeeded");
    assert!(!login.is_empty(), "no login in the ledger");
    assert_eq!(login[0]["subject"], "user:root");
    assert_eq!(login[0]["actor"], "user:root");

    // `oversight user add` created root before the server started.
    let created = of_kind("auth.user_created");
    assert_eq!(created.len(), 2);
    assert_eq!(created[0]["subject"], "user:root");
    assert_eq!(created[1]["subject"], "user:wang");
    assert_eq!(created[1]["actor"], "user:root");
    assert_eq!(of_kind("auth.user_changed").len(), 1);

    let token_created = of_kind("auth.token_created");
    assert_eq!(token_created.len(), 1);
    assert_eq!(token_created[0]["subject"], format!("token:{token_id}"));
    assert_eq!(of_kind("auth.token_revoked").len(), 1);

    let failed = of_kind("auth.login_failed");
    assert_eq!(failed.len(), 5, "the locked attempt is not a failure");
    assert_eq!(failed[0]["actor"], "unauthenticated");
    assert_eq!(failed[0]["subject"], "user:wang");
    assert_eq!(failed[0]["payload"]["address"], "127.0.0.1");
    let locked = of_kind("auth.login_locked");
    assert_eq!(locked.len(), 1, "one lockout, recorded once");
    assert_eq!(locked[0]["subject"], "user:wang");

    let text = serde_json::to_string(&entries).expect("entries as JSON");
    assert!(!text.contains(&secret), "the ledger holds an API token");
    assert!(!text.contains(user_password), "the ledger holds a password");
    assert!(
        !text.contains("not the password"),
        "the ledger holds a tried password"
    );
}
