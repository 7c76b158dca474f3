//! The ledger: entries, proofs, signed checkpoints and witness cosignatures.
//!
//! Hashes are lowercase hex. Checkpoints are served as C2SP signed notes in
//! `text/plain`, the form witnesses and the `oversight ledger verify`
//! command read.

use axum::Json;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use oversight_ledger::{Note, NoteSignature};
use oversight_store::{LedgerEntry, StoredCheckpoint};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::SharedState;
use super::params::{ApiPath, ApiQuery, LIST_PAGE, parse_limit};
use crate::error::ApiError;
use crate::ledger::LedgerPublic;

/// An entry as the API returns it.
#[derive(Debug, Serialize)]
pub(super) struct EntryView {
    index: u64,
    time: Timestamp,
    kind: String,
    subject: String,
    actor: String,
    payload: Value,
    leaf_hash: String,
}

impl From<LedgerEntry> for EntryView {
    fn from(entry: LedgerEntry) -> Self {
        Self {
            index: entry.index,
            time: entry.time,
            kind: entry.kind,
            subject: entry.subject,
            actor: entry.actor,
            payload: entry.payload,
            leaf_hash: entry.leaf_hash.to_hex(),
        }
    }
}

fn parse_u64(name: &str, value: Option<&str>) -> Result<Option<u64>, ApiError> {
    value
        .map(|value| {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| ApiError::invalid_param(name, value, "expected a whole number from 0"))
        })
        .transpose()
}

fn required_u64(name: &str, value: Option<&str>) -> Result<u64, ApiError> {
    parse_u64(name, value)?.ok_or_else(|| {
        ApiError::invalid(format!(
            "missing parameter {name}: give it as a whole number, such as {name}=1"
        ))
    })
}

/// Returns one entry.
#[utoipa::path(
    get,
    path = "/api/v1/ledger/entries/{index}",
    tag = "ledger",
    params(("index" = String, Path, description = "The entry's index.")),
    responses(
        (status = "2XX", description = "One ledger entry.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed, or the ledger is not running.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn entry(
    state: SharedState,
    ApiPath(index): ApiPath<String>,
) -> Result<Json<EntryView>, ApiError> {
    let index = required_u64("index", Some(&index))?;
    let entry = state.store.ledger_entry(index).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "ledger entry {index} not found; GET /api/v1/ledger/checkpoint returns the size"
        ))
    })?;
    Ok(Json(EntryView::from(entry)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct EntriesParams {
    from: Option<String>,
    limit: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct EntriesView {
    items: Vec<EntryView>,
    /// Pass as `from` for the next page; `None` after the last entry.
    next_from: Option<u64>,
}

/// Returns entries in index order from `from` (default 0).
#[utoipa::path(
    get,
    path = "/api/v1/ledger/entries",
    tag = "ledger",
    params(EntriesParams),
    responses(
        (status = "2XX", description = "Ledger entries.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed, or the ledger is not running.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn entries(
    state: SharedState,
    ApiQuery(params): ApiQuery<EntriesParams>,
) -> Result<Json<EntriesView>, ApiError> {
    let from = parse_u64("from", params.from.as_deref())?.unwrap_or(0);
    let limit = parse_limit(params.limit.as_deref(), LIST_PAGE)?;
    let items = state.store.ledger_entries(from, limit).await?;
    let next_from = match items.last() {
        Some(last) if items.len() == limit as usize => Some(last.index + 1),
        _ => None,
    };
    Ok(Json(EntriesView {
        items: items.into_iter().map(EntryView::from).collect(),
        next_from,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct InclusionParams {
    index: Option<String>,
    size: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct InclusionView {
    index: u64,
    size: u64,
    leaf_hash: String,
    path: Vec<String>,
}

/// Returns the inclusion proof of entry `index` in the tree of `size` entries.
#[utoipa::path(
    get,
    path = "/api/v1/ledger/proof/inclusion",
    tag = "ledger",
    params(InclusionParams),
    responses(
        (status = "2XX", description = "An inclusion proof.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed, or the ledger is not running.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn inclusion(
    state: SharedState,
    ApiQuery(params): ApiQuery<InclusionParams>,
) -> Result<Json<InclusionView>, ApiError> {
    let index = required_u64("index", params.index.as_deref())?;
    let size = required_u64("size", params.size.as_deref())?;
    let proof = state.store.ledger_inclusion_proof(index, size).await?;
    let entry = state.store.ledger_entry(index).await?.ok_or_else(|| {
        ApiError::internal("a proven ledger entry is missing from the entries table")
    })?;
    Ok(Json(InclusionView {
        index,
        size,
        leaf_hash: entry.leaf_hash.to_hex(),
        path: proof.path.iter().map(|hash| hash.to_hex()).collect(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ConsistencyParams {
    first: Option<String>,
    second: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct ConsistencyView {
    first: u64,
    second: u64,
    path: Vec<String>,
}

/// Returns the consistency proof from the tree of `first` entries to `second`.
#[utoipa::path(
    get,
    path = "/api/v1/ledger/proof/consistency",
    tag = "ledger",
    params(ConsistencyParams),
    responses(
        (status = "2XX", description = "A consistency proof.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed, or the ledger is not running.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn consistency(
    state: SharedState,
    ApiQuery(params): ApiQuery<ConsistencyParams>,
) -> Result<Json<ConsistencyView>, ApiError> {
    let first = required_u64("first", params.first.as_deref())?;
    let second = required_u64("second", params.second.as_deref())?;
    let proof = state.store.ledger_consistency_proof(first, second).await?;
    Ok(Json(ConsistencyView {
        first,
        second,
        path: proof.path.iter().map(|hash| hash.to_hex()).collect(),
    }))
}

fn note_response(note: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response()
}

/// Returns the latest signed checkpoint as a C2SP signed note.
#[utoipa::path(
    get,
    path = "/api/v1/ledger/checkpoint",
    tag = "ledger",
    responses(
        (status = "2XX", description = "The latest signed checkpoint as a signed note.", body = String, content_type = "text/plain"),
        (status = "4XX", description = "The request is invalid or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed, or the ledger is not running.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn checkpoint(state: SharedState) -> Result<Response, ApiError> {
    let latest = state.store.latest_ledger_checkpoint().await?.ok_or_else(|| {
        ApiError::not_found(
            "no ledger checkpoint is signed yet: the first is signed once the ledger has an entry",
        )
    })?;
    Ok(note_response(latest.note))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct CheckpointsParams {
    after: Option<String>,
    limit: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct CheckpointView {
    size: u64,
    root: String,
    time: Timestamp,
    note: String,
}

impl From<StoredCheckpoint> for CheckpointView {
    fn from(checkpoint: StoredCheckpoint) -> Self {
        Self {
            size: checkpoint.size,
            root: checkpoint.root.to_hex(),
            time: checkpoint.time,
            note: checkpoint.note,
        }
    }
}

/// Returns signed checkpoints larger than `after`, smallest first, for witnesses.
#[utoipa::path(
    get,
    path = "/api/v1/ledger/checkpoints",
    tag = "ledger",
    params(CheckpointsParams),
    responses(
        (status = "2XX", description = "Signed checkpoints.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed, or the ledger is not running.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn checkpoints(
    state: SharedState,
    ApiQuery(params): ApiQuery<CheckpointsParams>,
) -> Result<Json<Vec<CheckpointView>>, ApiError> {
    let after = parse_u64("after", params.after.as_deref())?.unwrap_or(0);
    let limit = parse_limit(params.limit.as_deref(), LIST_PAGE)?;
    let list = state.store.ledger_checkpoints(after, limit).await?;
    Ok(Json(list.into_iter().map(CheckpointView::from).collect()))
}

#[derive(Debug, Serialize)]
pub(super) struct KeyView {
    origin: String,
    hash: &'static str,
    signature: &'static str,
    verifier_key: String,
    witnesses: Vec<String>,
}

fn ledger_public(state: &SharedState) -> Result<&LedgerPublic, ApiError> {
    state
        .ledger
        .as_deref()
        .ok_or_else(|| ApiError::internal("the ledger signer is not running in this process"))
}

/// Returns the log's origin, hash function and verifier key.
#[utoipa::path(
    get,
    path = "/api/v1/ledger/key",
    tag = "ledger",
    responses(
        (status = "2XX", description = "The ledger's public key.", body = super::openapi::JsonValue),
        (status = "4XX", description = "The request is invalid or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed, or the ledger is not running.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn key(state: SharedState) -> Result<Json<KeyView>, ApiError> {
    let ledger = ledger_public(&state)?;
    Ok(Json(KeyView {
        origin: ledger.origin.clone(),
        hash: ledger.hash.name(),
        signature: ledger.verifier_key.algorithm().name(),
        verifier_key: ledger.verifier_key.to_string(),
        witnesses: ledger.witnesses.iter().map(ToString::to_string).collect(),
    }))
}

/// Adds witness cosignatures to a stored checkpoint.
///
/// The body is the checkpoint's signed note with one or more cosignature
/// lines added. The log's signature and at least one cosignature of a
/// configured witness must verify, and the checkpoint must be one the log
/// stored. Returns the stored note with the new cosignatures.
#[utoipa::path(
    post,
    path = "/api/v1/ledger/cosignature",
    tag = "ledger",
    request_body(content = String, content_type = "text/plain"),
    responses(
        (status = "2XX", description = "The cosigned checkpoint."),
        (status = "4XX", description = "The request is invalid or names a record that does not exist.", body = crate::error::ErrorBody),
        (status = "5XX", description = "The server or its store failed, or the ledger is not running.", body = crate::error::ErrorBody),
    )
)]
pub(super) async fn cosign(state: SharedState, body: String) -> Result<Response, ApiError> {
    let ledger = ledger_public(&state)?;
    if ledger.witnesses.is_empty() {
        return Err(ApiError::invalid(
            "no witness keys are configured: add the witness's verifier key to [ledger] witnesses",
        ));
    }
    let verified = ledger
        .checkpoint_verifier(1)
        .verify(&body)
        .map_err(|error| {
            ApiError::invalid(format!(
                "invalid cosigned checkpoint: {error}; send the signed note from \
             GET /api/v1/ledger/checkpoint with the witness's cosignature line added"
            ))
        })?;
    let stored = state
        .store
        .ledger_checkpoints(verified.size().saturating_sub(1), 1)
        .await?
        .into_iter()
        .find(|checkpoint| checkpoint.size == verified.size())
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no ledger checkpoint of size {} is stored",
                verified.size()
            ))
        })?;
    if stored.root != *verified.root() {
        return Err(ApiError::conflict(format!(
            "the cosigned root of size {} differs from the one this log signed",
            verified.size()
        )));
    }
    let merged = merge_cosignatures(&stored.note, &body, verified.cosignatures())?;
    state
        .store
        .replace_ledger_checkpoint_note(stored.size, &merged)
        .await?;
    tracing::info!(
        size = stored.size,
        witnesses = verified.cosignatures().len(),
        "ledger checkpoint cosigned"
    );
    Ok(note_response(merged))
}

/// Appends to `stored` the signature lines of `incoming` that belong to a
/// verified cosignature and are not in `stored` yet.
fn merge_cosignatures(
    stored: &str,
    incoming: &str,
    cosignatures: &[oversight_ledger::Cosignature],
) -> Result<String, ApiError> {
    let parse = |note: &str| {
        Note::parse(note).map_err(|error| ApiError::internal(format!("stored note: {error}")))
    };
    let stored_note = parse(stored)?;
    let incoming_note = parse(incoming)?;
    let verified = |signature: &NoteSignature| {
        cosignatures.iter().any(|cosignature| {
            cosignature.name == signature.name && cosignature.key_id == signature.key_id
        })
    };
    let mut merged = stored.to_owned();
    for signature in incoming_note.signatures() {
        if verified(signature) && !stored_note.signatures().contains(signature) {
            merged.push_str(&signature.to_line());
            merged.push('\n');
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use jiff::tz::TimeZone;
    use oversight_core::ManualClock;
    use oversight_ledger::{
        Hash, Hasher, SignatureAlgorithm, SignerKey, VerifiedCheckpoint, verify_consistency,
        verify_inclusion,
    };
    use oversight_store::{NewLedgerEntry, Store};
    use oversight_store_sqlite::{SqliteOptions, SqliteStore};
    use serde_json::json;
    use tempfile::TempDir;
    use tower::ServiceExt;

    use super::super::{AppState, HttpLimits, router};
    use crate::ledger::{Checkpointer, LedgerPublic, LedgerSettings};
    use crate::telemetry;

    const ORIGIN: &str = "test.example/ledger";

    struct Fixture {
        _dir: TempDir,
        store: Arc<SqliteStore>,
        checkpointer: Checkpointer,
        public: Arc<LedgerPublic>,
        witness: SignerKey,
        app: Router,
        /// The `Authorization` header of a system administrator's API token.
        authorization: String,
    }

    impl Fixture {
        /// Creates a ledger of `entries` entries, at least 2: the records of
        /// the administrator's account and token, then `test:INDEX` entries.
        async fn new(entries: u64) -> Self {
            let dir = tempfile::tempdir().expect("temporary directory");
            let store = Arc::new(
                SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open store"),
            );
            let authorization = crate::api::tests::admin_token(
                &store,
                "2026-12-04T08:00:00Z".parse().expect("time"),
            )
            .await;
            let recorded = store.ledger_head().await.expect("ledger head").size;
            assert!(entries >= recorded, "the fixture needs {recorded} entries");
            let batch: Vec<NewLedgerEntry> = (recorded..entries)
                .map(|number| {
                    NewLedgerEntry::new(
                        "test.append",
                        format!("test:{number}"),
                        "engine",
                        json!({"n": number}),
                    )
                })
                .collect();
            store.append_ledger(batch).await.expect("append");
            let key = SignerKey::generate(ORIGIN, SignatureAlgorithm::Ed25519).expect("log key");
            let witness =
                SignerKey::generate("witness.example/w1", SignatureAlgorithm::Ed25519Cosignature)
                    .expect("witness key");
            let settings = LedgerSettings {
                origin: ORIGIN.to_owned(),
                hash: None,
                signature: SignatureAlgorithm::Ed25519,
                checkpoint_interval: Duration::from_secs(10),
                checkpoint_entries: 1000,
                witnesses: vec![witness.verifier_key().clone()],
            };
            let public = Arc::new(LedgerPublic {
                origin: ORIGIN.to_owned(),
                hash: Hasher::Sha256,
                verifier_key: key.verifier_key().clone(),
                witnesses: settings.witnesses.clone(),
            });
            let checkpointer = Checkpointer::new(store.clone(), key, &settings);
            let state = AppState {
                store: store.clone(),
                clock: Arc::new(ManualClock::new(
                    "2026-12-04T08:00:00Z".parse().expect("time"),
                )),
                time_zone: TimeZone::UTC,
                online_intervals: 3,
                metrics: telemetry::metrics_handle(),
                rules: None,
                alert_events: None,
                tasks: None,
                ledger: Some(public.clone()),
                auth: crate::auth::AuthConfig::default(),
                oidc: None,
                notify: Arc::default(),
                login_gate: Arc::default(),
                name_key: crate::name_key::NameKey::random(),
            };
            let limits = HttpLimits {
                body_limit_bytes: 65536,
                request_timeout: Duration::from_secs(5),
                public_rate: super::super::PublicRateLimit::default(),
            };
            Self {
                _dir: dir,
                store,
                checkpointer,
                public,
                witness,
                app: router(state, limits),
                authorization,
            }
        }

        async fn send(&self, method: Method, uri: &str, body: String) -> (StatusCode, String) {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .header(axum::http::header::AUTHORIZATION, &self.authorization)
                .body(Body::from(body))
                .expect("request");
            let response = self.app.clone().oneshot(request).await.expect("response");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            (
                status,
                String::from_utf8(bytes.to_vec()).expect("UTF-8 body"),
            )
        }

        async fn get(&self, uri: &str) -> (StatusCode, String) {
            self.send(Method::GET, uri, String::new()).await
        }

        async fn get_json(&self, uri: &str) -> serde_json::Value {
            let (status, body) = self.get(uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
            serde_json::from_str(&body).expect("JSON body")
        }

        async fn verified_checkpoint(&self) -> VerifiedCheckpoint {
            let (status, note) = self.get("/api/v1/ledger/checkpoint").await;
            assert_eq!(status, StatusCode::OK, "{note}");
            self.public
                .checkpoint_verifier(0)
                .verify(&note)
                .expect("checkpoint verifies")
        }
    }

    fn hashes(value: &serde_json::Value) -> Vec<Hash> {
        value
            .as_array()
            .expect("array of hashes")
            .iter()
            .map(|hash| Hash::from_hex(hash.as_str().expect("hex string")).expect("valid hex"))
            .collect()
    }

    #[tokio::test]
    async fn proofs_verify_against_checkpoint() {
        let fixture = Fixture::new(3).await;
        fixture.checkpointer.sign_head().await.expect("sign size 3");
        let small = fixture.verified_checkpoint().await;
        fixture
            .store
            .append_ledger(vec![NewLedgerEntry::new(
                "test.more",
                "test:3",
                "engine",
                json!({}),
            )])
            .await
            .expect("append");
        fixture.checkpointer.sign_head().await.expect("sign size 4");
        let large = fixture.verified_checkpoint().await;
        assert_eq!(small.size(), 3);
        assert_eq!(large.size(), 4);

        let entry = fixture.get_json("/api/v1/ledger/entries/2").await;
        assert_eq!(entry["subject"], "test:2");
        let proof = fixture
            .get_json("/api/v1/ledger/proof/inclusion?index=2&size=4")
            .await;
        let leaf = Hash::from_hex(entry["leaf_hash"].as_str().expect("hex")).expect("hash");
        assert_eq!(proof["leaf_hash"], entry["leaf_hash"]);
        verify_inclusion(
            Hasher::Sha256,
            2,
            4,
            &leaf,
            &hashes(&proof["path"]),
            large.root(),
        )
        .expect("inclusion proof verifies");

        let proof = fixture
            .get_json("/api/v1/ledger/proof/consistency?first=3&second=4")
            .await;
        verify_consistency(
            Hasher::Sha256,
            3,
            4,
            small.root(),
            large.root(),
            &hashes(&proof["path"]),
        )
        .expect("consistency proof verifies");

        let page = fixture
            .get_json("/api/v1/ledger/entries?from=1&limit=2")
            .await;
        assert_eq!(page["items"].as_array().expect("items").len(), 2);
        assert_eq!(page["next_from"], 3);
        let listed = fixture.get_json("/api/v1/ledger/checkpoints?after=3").await;
        assert_eq!(listed.as_array().expect("list").len(), 1);
        assert_eq!(listed[0]["size"], 4);
        let key = fixture.get_json("/api/v1/ledger/key").await;
        assert_eq!(key["verifier_key"], fixture.public.verifier_key.to_string());
        assert_eq!(key["hash"], "sha256");
    }

    #[tokio::test]
    async fn proof_sizes_rejected_with_400() {
        let fixture = Fixture::new(5).await;
        let cases = [
            (
                "/api/v1/ledger/proof/inclusion?index=0&size=0",
                "tree size 0",
            ),
            ("/api/v1/ledger/proof/inclusion?index=5&size=5", "index 5"),
            (
                "/api/v1/ledger/proof/inclusion?index=1&size=6",
                "beyond the ledger",
            ),
            (
                "/api/v1/ledger/proof/inclusion?index=1",
                "missing parameter size",
            ),
            (
                "/api/v1/ledger/proof/inclusion?index=-1&size=2",
                "whole number",
            ),
            (
                "/api/v1/ledger/proof/consistency?first=0&second=3",
                "first tree size 0",
            ),
            (
                "/api/v1/ledger/proof/consistency?first=4&second=3",
                "4 is larger",
            ),
            (
                "/api/v1/ledger/proof/consistency?first=1&second=6",
                "beyond the ledger",
            ),
            ("/api/v1/ledger/proof/consistency?first=1&second=2&x=1", "x"),
            ("/api/v1/ledger/entries/abc", "whole number"),
        ];
        for (uri, expected) in cases {
            let (status, body) = fixture.get(uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert!(body.contains(expected), "{uri}: {body}");
        }
        let (status, body) = fixture.get("/api/v1/ledger/entries/5").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, body) = fixture.get("/api/v1/ledger/checkpoint").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "no checkpoint yet: {body}");
    }

    #[tokio::test]
    async fn cosignature_is_verified_and_stored() {
        let fixture = Fixture::new(2).await;
        fixture.checkpointer.sign_head().await.expect("sign");
        let checkpoint = fixture.verified_checkpoint().await;
        let cosigned = checkpoint.cosign(&fixture.witness, 1_764_806_400);
        let (status, body) = fixture
            .send(Method::POST, "/api/v1/ledger/cosignature", cosigned.clone())
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, cosigned);
        let (_, stored) = fixture.get("/api/v1/ledger/checkpoint").await;
        let verified = fixture
            .public
            .checkpoint_verifier(1)
            .verify(&stored)
            .expect("stored note carries the cosignature");
        assert_eq!(verified.cosignatures().len(), 1);

        let stranger =
            SignerKey::generate("stranger.example/w", SignatureAlgorithm::Ed25519Cosignature)
                .expect("key");
        let forged = checkpoint.cosign(&stranger, 1_764_806_400);
        let (status, body) = fixture
            .send(Method::POST, "/api/v1/ledger/cosignature", forged)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains("invalid cosigned checkpoint"), "{body}");

        let (status, body) = fixture
            .send(
                Method::POST,
                "/api/v1/ledger/cosignature",
                "garbage".to_owned(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
}
