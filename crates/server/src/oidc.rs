//! OpenID Connect single sign-on: the authorization code flow with PKCE.
//!
//! The protocol is the `openidconnect` crate's: discovery, the authorization
//! URL with PKCE (S256), `state` and `nonce`, the code exchange and the ID
//! token checks against the provider's JWKS. This module keeps the pending
//! logins, the settings and the error messages.
//!
//! [`Oidc::start`] creates a pending login and returns the provider's
//! authorization URL. [`Oidc::finish`] takes the `state` and `code` of the
//! redirect back, exchanges the code, checks the ID token's RS256 signature,
//! issuer, audience, expiry and nonce, and returns the Oversight login name
//! it names. Mapping that name to an account, and the session, are the API's
//! part.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields,
    IdTokenVerifier, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, SignatureVerificationError, StandardErrorResponse,
    StandardTokenResponse, TokenResponse as _,
};
use oversight_auth::Role;
use oversight_core::Secret;
use serde::{Deserialize, Serialize};

/// How long a started login waits for the provider's redirect back.
const PENDING_LIFETIME: SignedDuration = SignedDuration::from_mins(10);
/// Pending logins kept at once; more are rejected until older ones expire,
/// so that anonymous requests cannot grow the map without bound.
const MAX_PENDING: usize = 10_000;
/// Clock difference allowed between this server and the provider when
/// checking `exp`.
const LEEWAY: SignedDuration = SignedDuration::from_secs(60);
/// Length of the random `state` and `nonce`, in bytes before base64url.
const RANDOM_BYTES: u32 = 32;
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
    /// The provider's name on the login page's button, "Sign in with
    /// NAME". Default: the issuer URL's host name.
    #[serde(default)]
    pub provider_name: Option<String>,
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
}

/// A login that was sent to the provider and has not come back yet.
#[derive(Debug)]
struct PendingLogin {
    nonce: Nonce,
    code_verifier: PkceCodeVerifier,
    started_at: Timestamp,
}

/// The ID token claims beyond the standard ones, kept so that
/// `username_claim` can name any claim the provider sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OtherClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

type IdTokenClaims = openidconnect::IdTokenClaims<OtherClaims, CoreGenderClaim>;

type TokenResponse = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type TokenError = RequestTokenError<
    openidconnect::HttpClientError<reqwest::Error>,
    StandardErrorResponse<CoreErrorResponseType>,
>;

/// The `openidconnect` client for a discovered provider: the authorization
/// endpoint is set, the token and user info endpoints are what the discovery
/// document lists.
type Client = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The sign-on client: configuration, HTTP client and pending logins.
#[derive(Debug)]
pub struct Oidc {
    config: OidcConfig,
    issuer: IssuerUrl,
    redirect_url: RedirectUrl,
    http: reqwest::Client,
    pending: Mutex<HashMap<String, PendingLogin>>,
    metadata: tokio::sync::OnceCell<CoreProviderMetadata>,
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
        if config
            .provider_name
            .as_ref()
            .is_some_and(|name| name.trim().is_empty())
        {
            return Err(OidcError::Config {
                key: "provider_name",
                value: String::new(),
                fix: "set the name shown on the login button, or remove the key to show the \
                      issuer's host name",
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
        let issuer = IssuerUrl::new(config.issuer_url.clone()).map_err(|_| OidcError::Config {
            key: "issuer_url",
            value: config.issuer_url.clone(),
            fix: "expected an http:// or https:// URL",
        })?;
        let redirect_url =
            RedirectUrl::new(config.redirect_url.clone()).map_err(|_| OidcError::Config {
                key: "redirect_url",
                value: config.redirect_url.clone(),
                fix: "expected an http:// or https:// URL",
            })?;
        // No redirects: a provider endpoint that redirects elsewhere is an
        // error, so that requests carrying the code and the client secret go
        // only to the URLs of the discovery document.
        let http = reqwest::Client::builder()
            .timeout(PROVIDER_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| OidcError::Provider(error_chain(&error)))?;
        Ok(Self {
            config,
            issuer,
            redirect_url,
            http,
            pending: Mutex::new(HashMap::new()),
            metadata: tokio::sync::OnceCell::new(),
        })
    }

    /// Returns the settings.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Returns the provider's name for the login page: `provider_name`, or
    /// the issuer URL's host name.
    pub fn provider_name(&self) -> String {
        match &self.config.provider_name {
            Some(name) => name.trim().to_owned(),
            None => self.issuer.url().host_str().unwrap_or_default().to_owned(),
        }
    }

    /// Fetches the discovery document once. The crate rejects a document
    /// whose `issuer` differs from the configured issuer URL.
    async fn metadata(&self) -> Result<&CoreProviderMetadata, OidcError> {
        self.metadata
            .get_or_try_init(|| async {
                CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
                    .await
                    .map_err(|error| {
                        OidcError::Provider(format!(
                            "discovery at {}/.well-known/openid-configuration failed: {}",
                            self.config.issuer_url.trim_end_matches('/'),
                            error_chain(&error)
                        ))
                    })
            })
            .await
    }

    fn client(&self, metadata: CoreProviderMetadata) -> Client {
        Client::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(
                self.config.client_secret.expose().clone(),
            )),
        )
        .set_redirect_uri(self.redirect_url.clone())
    }

    /// Starts a login: returns the `state` and the provider's authorization
    /// URL to redirect the browser to.
    pub async fn start(&self, now: Timestamp) -> Result<(String, String), OidcError> {
        let client = self.client(self.metadata().await?.clone());
        let (code_challenge, code_verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                || CsrfToken::new_random_len(RANDOM_BYTES),
                || Nonce::new_random_len(RANDOM_BYTES),
            )
            .add_scope(Scope::new("profile".to_owned()))
            .add_scope(Scope::new("email".to_owned()))
            .set_pkce_challenge(code_challenge)
            .url();
        let state = state.into_secret();
        let mut pending = self.lock_pending();
        pending.retain(|_, login| !expired(login, now));
        if pending.len() >= MAX_PENDING {
            return Err(OidcError::Busy);
        }
        pending.insert(
            state.clone(),
            PendingLogin {
                nonce,
                code_verifier,
                started_at: now,
            },
        );
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
        let client = self.client(metadata.clone());
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|error| OidcError::Provider(error_chain(&error)))?
            .set_pkce_verifier(login.code_verifier)
            .request_async(&self.http)
            .await
            .map_err(|error| describe_token_error(metadata, &error))?;
        let id_token = response.id_token().ok_or_else(|| {
            OidcError::Provider(
                "the token endpoint returned no id_token; check that the client is \
                 registered for OpenID Connect with the scope openid"
                    .to_owned(),
            )
        })?;

        // NOTE: the key set is fetched for every login, so a rotated key is
        // found at once; logins are rare enough for the extra request.
        let keys = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http)
            .await
            .map_err(|error| {
                OidcError::Provider(format!(
                    "fetching the key set {} failed: {}",
                    metadata.jwks_uri().url(),
                    error_chain(&error)
                ))
            })?;
        // The default verifier accepts RS256 only. Its clock runs LEEWAY
        // behind, so that a token counts as expired only LEEWAY after `exp`.
        let verifier_time = to_chrono(now.checked_sub(LEEWAY).unwrap_or(now));
        let verifier = IdTokenVerifier::new_public_client(
            ClientId::new(self.config.client_id.clone()),
            metadata.issuer().clone(),
            keys,
        )
        .set_time_fn(move || verifier_time);
        let claims = id_token
            .claims(&verifier, &login.nonce)
            .map_err(|error| OidcError::InvalidToken(describe(&error)))?;
        self.login_name(claims)
    }

    /// Reads `username_claim` from the verified claims and maps it through
    /// `usernames`.
    fn login_name(&self, claims: &IdTokenClaims) -> Result<String, OidcError> {
        let claim = &self.config.username_claim;
        let claims = serde_json::to_value(claims).map_err(|error| {
            OidcError::InvalidToken(format!("its claims cannot be read: {error}"))
        })?;
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

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingLogin>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Describes a failed code exchange at the token endpoint.
fn describe_token_error(metadata: &CoreProviderMetadata, error: &TokenError) -> OidcError {
    let url = metadata
        .token_endpoint()
        .map_or_else(String::new, |url| url.to_string());
    let detail = match error {
        RequestTokenError::ServerResponse(response) => {
            let mut detail = format!("returned error {}", response.error());
            if let Some(description) = response.error_description() {
                detail.push_str(": ");
                detail.push_str(description);
            }
            detail
        }
        RequestTokenError::Parse(error, body) => {
            let excerpt: String = String::from_utf8_lossy(body).chars().take(200).collect();
            format!("returned an invalid response ({error}): {excerpt}")
        }
        RequestTokenError::Request(error) => format!("failed: {}", error_chain(error)),
        RequestTokenError::Other(message) => format!("failed: {message}"),
    };
    OidcError::Provider(format!("the token endpoint {url} {detail}"))
}

/// Describes why the `openidconnect` crate rejected an ID token.
fn describe(error: &ClaimsVerificationError) -> String {
    match error {
        ClaimsVerificationError::SignatureVerification(error) => match error {
            SignatureVerificationError::CryptoError(_) => {
                "its signature does not match the provider's key (JWKS)".to_owned()
            }
            SignatureVerificationError::NoMatchingKey => {
                "no key in the provider's key set (JWKS) matches its key id".to_owned()
            }
            SignatureVerificationError::DisallowedAlg(detail) => {
                format!("it is not signed with RS256: {detail}")
            }
            other => format!("its signature cannot be checked: {other}"),
        },
        ClaimsVerificationError::Expired(detail) => {
            format!("it has expired (exp is in the past): {detail}")
        }
        ClaimsVerificationError::InvalidIssuer(detail) => {
            format!("its issuer (iss) is not auth.oidc.issuer_url: {detail}")
        }
        ClaimsVerificationError::InvalidAudience(detail) => {
            format!("its audience (aud) is not auth.oidc.client_id: {detail}")
        }
        ClaimsVerificationError::InvalidNonce(detail) => {
            format!("its nonce does not match the login's: {detail}")
        }
        other => format!("it cannot be accepted: {other}"),
    }
}

/// Joins an error and its sources, because the crate's errors name the
/// failed step and keep the cause (such as a refused connection) as source.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn to_chrono(time: Timestamp) -> chrono::DateTime<chrono::Utc> {
    let nanos = u32::try_from(time.subsec_nanosecond()).unwrap_or(0);
    chrono::DateTime::from_timestamp(time.as_second(), nanos).unwrap_or_default()
}

fn expired(login: &PendingLogin, now: Timestamp) -> bool {
    login
        .started_at
        .checked_add(PENDING_LIFETIME)
        .is_ok_and(|until| until <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OidcConfig {
        OidcConfig {
            issuer_url: "https://login.example.org/realms/regulator".to_owned(),
            client_id: "oversight".to_owned(),
            client_secret: Secret::new("secret".to_owned()),
            redirect_url: "https://oversight.example.org/api/v1/auth/oidc/callback".to_owned(),
            provider_name: None,
            username_claim: default_username_claim(),
            usernames: BTreeMap::new(),
            allowed_roles: default_allowed_roles(),
        }
    }

    #[test]
    fn provider_name_defaults_to_issuer_host() {
        let oidc = Oidc::new(config()).expect("valid settings");
        assert_eq!(oidc.provider_name(), "login.example.org");
    }

    #[test]
    fn provider_name_is_trimmed() {
        let oidc = Oidc::new(OidcConfig {
            provider_name: Some(" Regulator login ".to_owned()),
            ..config()
        })
        .expect("valid settings");
        assert_eq!(oidc.provider_name(), "Regulator login");
    }

    #[test]
    fn blank_provider_name_is_rejected() {
        let error = Oidc::new(OidcConfig {
            provider_name: Some("  ".to_owned()),
            ..config()
        })
        .expect_err("a blank name");
        let message = error.to_string();
        assert!(message.contains("auth.oidc.provider_name"), "{message}");
    }

    #[test]
    fn invalid_urls_are_rejected() {
        for (key, settings) in [
            (
                "issuer_url",
                OidcConfig {
                    issuer_url: "login.example.org".to_owned(),
                    ..config()
                },
            ),
            (
                "redirect_url",
                OidcConfig {
                    redirect_url: "ftp://oversight.example.org/cb".to_owned(),
                    ..config()
                },
            ),
        ] {
            let message = Oidc::new(settings).expect_err(key).to_string();
            assert!(message.contains(key), "{message}");
            assert!(message.contains("http:// or https://"), "{message}");
        }
    }
}
