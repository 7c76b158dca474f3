//! OpenID Connect single sign-on: the authorization code flow with PKCE.
//!
//! [`Oidc::start`] creates a pending login with a random `state`, `nonce`
//! and PKCE verifier and returns the provider's authorization URL.
//! [`Oidc::finish`] takes the `state` and `code` of the redirect back,
//! exchanges the code at the provider's token endpoint, checks the ID
//! token's signature against the provider's JWKS, its issuer, audience,
//! expiry and nonce, and returns the Oversight login name it names. Mapping
//! that name to an account, and the session, are the API's part.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oversight_auth::Role;
use oversight_auth::secret::{self, constant_time_eq};
use oversight_core::Secret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a started login waits for the provider's redirect back.
const PENDING_LIFETIME: SignedDuration = SignedDuration::from_mins(10);
/// Pending logins kept at once; more are rejected until older ones expire,
/// so that anonymous requests cannot grow the map without bound.
const MAX_PENDING: usize = 10_000;
/// Clock difference allowed between this server and the provider when
/// checking `exp`, `nbf` and `iat`, in seconds.
const LEEWAY_SECS: u64 = 60;
/// Time limit of each request to the provider.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of OpenID Connect sign-on, the `[auth.oidc]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL; `/.well-known/openid-configuration` below
    /// it must name the same issuer.
    pub issuer_url: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret registered at the provider, sent with HTTP Basic
    /// authentication to the token endpoint.
    pub client_secret: Secret<String>,
    /// This server's callback URL as registered at the provider, ending in
    /// `/api/v1/auth/oidc/callback`.
    pub redirect_url: String,
    /// The ID token claim that contains the Oversight login name. Default
    /// `preferred_username`.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// Claim values mapped to Oversight login names; a value not listed is
    /// used as the login name itself. Default empty.
    #[serde(default)]
    pub usernames: BTreeMap<String, String>,
    /// Roles whose accounts may sign on. Default every role but
    /// `system_admin`.
    #[serde(default = "default_allowed_roles")]
    pub allowed_roles: Vec<Role>,
}

fn default_username_claim() -> String {
    "preferred_username".to_owned()
}

fn default_allowed_roles() -> Vec<Role> {
    vec![
        Role::DepartmentAdmin,
        Role::DepartmentStaff,
        Role::Inspector,
        Role::RegulatedParty,
    ]
}

/// A failed sign-on step.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// A setting of `[auth.oidc]` is invalid.
    #[error("invalid auth.oidc.{key} {value:?}: {fix}")]
    Config {
        /// The key below `auth.oidc`.
        key: &'static str,
        /// The configured value.
        value: String,
        /// The expected form of the value.
        fix: &'static str,
    },
    /// The provider could not be reached or returned something unusable.
    #[error("OpenID provider request failed: {0}")]
    Provider(String),
    /// The redirect back named no pending login, or one that expired.
    #[error("unknown or expired sign-on state; start again at /api/v1/auth/oidc/login")]
    UnknownState,
    /// Too many logins are pending.
    #[error("too many sign-ons are in progress; retry in a few minutes")]
    Busy,
    /// The ID token failed a check.
    #[error("invalid ID token: {0}")]
    InvalidToken(String),
    /// The random number generator failed.
    #[error("{0}")]
    Random(String),
}

/// A login that was sent to the provider and has not come back yet.
#[derive(Debug)]
struct PendingLogin {
    nonce: String,
    code_verifier: String,
    started_at: Timestamp,
}

/// The parts of the provider's discovery document that the flow uses.
#[derive(Debug, Clone, Deserialize)]
struct ProviderMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    id_token: String,
}

/// The sign-on client: configuration, HTTP client and pending logins.
#[derive(Debug)]
pub struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    pending: Mutex<HashMap<String, PendingLogin>>,
    metadata: tokio::sync::OnceCell<ProviderMetadata>,
}

impl Oidc {
    /// Checks the settings and creates the client. The provider is first
    /// contacted at the first login.
    pub fn new(config: OidcConfig) -> Result<Self, OidcError> {
        for (key, value) in [
            ("issuer_url", &config.issuer_url),
            ("redirect_url", &config.redirect_url),
        ] {
            let url = reqwest::Url::parse(value).ok();
            if !url.is_some_and(|url| matches!(url.scheme(), "http" | "https")) {
                return Err(OidcError::Config {
                    key,
                    value: value.clone(),
                    fix: "expected an http:// or https:// URL",
                });
            }
        }
        if config.client_id.is_empty() {
            return Err(OidcError::Config {
                key: "client_id",
                value: String::new(),
                fix: "set the client id registered at the provider",
            });
        }
        if config.username_claim.is_empty() {
            return Err(OidcError::Config {
                key: "username_claim",
                value: String::new(),
                fix: "set the claim that contains the login name, such as preferred_username",
            });
        }
        if config.allowed_roles.is_empty() {
            return Err(OidcError::Config {
                key: "allowed_roles",
                value: "[]".to_owned(),
                fix: "list at least one role, such as [\"department_staff\"]",
            });
        }
        let http = reqwest::Client::builder()
            .timeout(PROVIDER_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| OidcError::Provider(error.to_string()))?;
        Ok(Self {
            config,
            http,
            pending: Mutex::new(HashMap::new()),
            metadata: tokio::sync::OnceCell::new(),
        })
    }

    /// Returns the settings.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Fetches the discovery document once and checks that it names the
    /// configured issuer.
    async fn metadata(&self) -> Result<&ProviderMetadata, OidcError> {
        self.metadata
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.config.issuer_url.trim_end_matches('/')
                );
                let metadata: ProviderMetadata = self.get_json(&url).await?;
                if metadata.issuer != self.config.issuer_url {
                    return Err(OidcError::Provider(format!(
                        "the discovery document at {url} names issuer {:?}, not the \
                         configured auth.oidc.issuer_url {:?}",
                        metadata.issuer, self.config.issuer_url
                    )));
                }
                Ok(metadata)
            })
            .await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|error| OidcError::Provider(format!("GET {url} failed: {error}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(OidcError::Provider(format!(
                "GET {url} returned status {status}"
            )));
        }
        response.json().await.map_err(|error| {
            OidcError::Provider(format!("GET {url} returned invalid JSON: {error}"))
        })
    }

    /// Starts a login: returns the `state` and the provider's authorization
    /// URL to redirect the browser to.
    pub async fn start(&self, now: Timestamp) -> Result<(String, String), OidcError> {
        let metadata = self.metadata().await?;
        let state = random()?;
        let nonce = random()?;
        let code_verifier = random()?;
        let code_challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()));
        {
            let mut pending = self.lock_pending();
            pending.retain(|_, login| !expired(login, now));
            if pending.len() >= MAX_PENDING {
                return Err(OidcError::Busy);
            }
            pending.insert(
                state.clone(),
                PendingLogin {
                    nonce: nonce.clone(),
                    code_verifier,
                    started_at: now,
                },
            );
        }
        let mut url = reqwest::Url::parse(&metadata.authorization_endpoint).map_err(|error| {
            OidcError::Provider(format!(
                "invalid authorization_endpoint {:?}: {error}",
                metadata.authorization_endpoint
            ))
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &self.config.redirect_url)
            .append_pair("scope", "openid profile email")
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok((state, url.into()))
    }

    /// Finishes a login: exchanges `code`, checks the ID token and returns
    /// the Oversight login name it names. The pending login is used up
    /// whether or not the checks pass.
    pub async fn finish(
        &self,
        state: &str,
        code: &str,
        now: Timestamp,
    ) -> Result<String, OidcError> {
        let login = self
            .lock_pending()
            .remove(state)
            .filter(|login| !expired(login, now))
            .ok_or(OidcError::UnknownState)?;
        let metadata = self.metadata().await?;
        let id_token = self.exchange(metadata, code, &login).await?;
        let claims = self.verify(metadata, &id_token).await?;

        let nonce = claims
            .get("nonce")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        if !constant_time_eq(nonce, &login.nonce) {
            return Err(OidcError::InvalidToken(
                "its nonce does not match the login's".to_owned(),
            ));
        }
        let claim = &self.config.username_claim;
        let name = claims
            .get(claim)
            .and_then(serde_json::Value::as_str)
            .filter(|name| !name.is_empty())
            .ok_or_else(|| {
                OidcError::InvalidToken(format!(
                    "claim {claim:?} is missing; set auth.oidc.username_claim to a claim \
                     the provider sends"
                ))
            })?;
        Ok(self
            .config
            .usernames
            .get(name)
            .map_or(name, String::as_str)
            .to_owned())
    }

    /// Exchanges the authorization code for the ID token.
    async fn exchange(
        &self,
        metadata: &ProviderMetadata,
        code: &str,
        login: &PendingLogin,
    ) -> Result<String, OidcError> {
        let url = &metadata.token_endpoint;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.config.redirect_url),
            ("code_verifier", &login.code_verifier),
        ];
        let response = self
            .http
            .post(url)
            .basic_auth(
                &self.config.client_id,
                Some(self.config.client_secret.expose()),
            )
            .form(&form)
            .send()
            .await
            .map_err(|error| OidcError::Provider(format!("POST {url} failed: {error}")))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let excerpt: String = body.chars().take(200).collect();
            return Err(OidcError::Provider(format!(
                "the token endpoint {url} returned status {status}: {excerpt}"
            )));
        }
        let token: TokenResponse = response.json().await.map_err(|error| {
            OidcError::Provider(format!(
                "the token endpoint {url} returned no id_token: {error}"
            ))
        })?;
        Ok(token.id_token)
    }

    /// Checks the ID token's RS256 signature against the provider's JWKS and
    /// its issuer, audience and expiry, and returns its claims.
    async fn verify(
        &self,
        metadata: &ProviderMetadata,
        id_token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, OidcError> {
        let invalid =
            |error: jsonwebtoken::errors::Error| OidcError::InvalidToken(describe(&error));
        let header = jsonwebtoken::decode_header(id_token).map_err(invalid)?;
        // NOTE: the key set is fetched for every login, so a rotated key is
        // found at once; logins are rare enough for the extra request.
        let keys: JwkSet = self.get_json(&metadata.jwks_uri).await?;
        let jwk = match &header.kid {
            Some(kid) => keys.find(kid),
            None if keys.keys.len() == 1 => keys.keys.first(),
            None => None,
        }
        .ok_or_else(|| {
            OidcError::InvalidToken(format!(
                "no key with id {:?} in the provider's key set",
                header.kid
            ))
        })?;
        let key = DecodingKey::from_jwk(jwk).map_err(invalid)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&metadata.issuer]);
        validation.set_audience(&[&self.config.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        let data = jsonwebtoken::decode(id_token, &key, &validation).map_err(invalid)?;
        Ok(data.claims)
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingLogin>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Describes why `jsonwebtoken` rejected an ID token.
fn describe(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => {
            "its signature does not match the provider's key (JWKS)".to_owned()
        }
        ErrorKind::ExpiredSignature => "it has expired (exp is in the past)".to_owned(),
        ErrorKind::ImmatureSignature => "it is not valid yet (nbf is in the future)".to_owned(),
        ErrorKind::InvalidIssuer => "its issuer (iss) is not auth.oidc.issuer_url".to_owned(),
        ErrorKind::InvalidAudience => "its audience (aud) is not auth.oidc.client_id".to_owned(),
        ErrorKind::InvalidAlgorithm => "it is not signed with RS256".to_owned(),
        ErrorKind::MissingRequiredClaim(claim) => format!("claim {claim:?} is missing"),
        _ => format!("it cannot be decoded: {error}"),
    }
}

fn expired(login: &PendingLogin, now: Timestamp) -> bool {
    login
        .started_at
        .checked_add(PENDING_LIFETIME)
        .is_ok_and(|until| until <= now)
}

/// Returns 32 random bytes in base64url.
fn random() -> Result<String, OidcError> {
    secret::generate("")
        .map(|secret| secret.value)
        .map_err(|error| OidcError::Random(error.to_string()))
}
