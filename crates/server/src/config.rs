//! Configuration: one serde tree, read in layers, validated into [`Settings`].
//!
//! Layers, each overriding the one before:
//!
//! 1. the defaults of [`Config::default`];
//! 2. the TOML file given with `--config FILE` (it must exist);
//! 3. environment variables `OVERSIGHT_<KEY>`, with `__` between nested keys
//!    (`OVERSIGHT_DATA_DIR`, `OVERSIGHT_HTTP__LISTEN`, `OVERSIGHT_RULES__MISSING_AFTER_INTERVALS`);
//! 4. command-line flags ([`ConfigOverrides`]).
//!
//! Unknown keys are rejected in the file and in the environment. An
//! environment variable whose first key is not a section of [`Config`] (such
//! as `OVERSIGHT_BIN`) is ignored, so that other tools can share the prefix.

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use jiff::tz::{Offset, TimeZone};
use oversight_ledger::{Hasher, SignatureAlgorithm, VerifierKey};
use oversight_notify::NotifyConfig;
use oversight_rules::RulesConfig;
use oversight_source_hj212::Hj212Config;
use oversight_store_sqlite::{SqliteOptions, Synchronous};
use oversight_tasks::{Engine, FirstViolationList, Holidays, TasksConfig};
use oversight_tls::{TlsConfig, TlsFiles};
use serde::{Deserialize, Serialize};

use crate::api::{HttpLimits, PublicRateLimit};
use crate::auth::AuthConfig;
use crate::guard::HostAllowList;
use crate::ledger::LedgerSettings;
use crate::listener::ListenerLimits;

/// The environment variable prefix.
pub const ENV_PREFIX: &str = "OVERSIGHT_";

/// The configuration tree as read from defaults, file, environment and flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory of the database and other state; created if missing.
    /// Default `./oversight-data`.
    pub data_dir: PathBuf,
    /// Local time as a fixed UTC offset such as `+08:00`. The summary's
    /// "readings today" counts from local midnight. Default `+08:00` (China
    /// Standard Time).
    pub time_zone: String,
    /// The HTTP API and dashboard.
    pub http: HttpConfig,
    /// The HJ 212 TCP listener.
    pub hj212: Hj212Config,
    /// The early-warning rules.
    pub rules: RulesConfig,
    /// The SQLite store.
    pub store: StoreConfig,
    /// Supervision tasks.
    pub tasks: TasksServerConfig,
    /// Logging.
    pub log: LogConfig,
    /// The tamper-evident ledger.
    pub ledger: LedgerConfig,
    /// Logins, sessions and API tokens.
    pub auth: AuthConfig,
    /// Reminders for alerts: channels, recipients and routes.
    pub notify: NotifyConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./oversight-data"),
            time_zone: "+08:00".to_owned(),
            http: HttpConfig::default(),
            hj212: Hj212Config::default(),
            rules: RulesConfig::default(),
            store: StoreConfig::default(),
            tasks: TasksServerConfig::default(),
            log: LogConfig::default(),
            ledger: LedgerConfig::default(),
            auth: AuthConfig::default(),
            notify: NotifyConfig::default(),
        }
    }
}

/// Settings of the ledger and its signed checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerConfig {
    /// Hash function of the Merkle tree: `sha256` or `sm3`. It is fixed when
    /// the first entry is appended. Default: the one recorded in the data
    /// directory, and `sha256` for a new ledger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<Hasher>,
    /// Signature algorithm of the checkpoint key generated on first start:
    /// `ed25519` or `sm2`. Default `ed25519`.
    pub signature: SignatureAlgorithm,
    /// Identity of the log in its checkpoints and the name of its key, such
    /// as `oversight.example.gov.cn/ledger`. Default `oversight.local/ledger`.
    pub origin: String,
    /// Maximum time, in seconds, a new entry waits for a signed checkpoint. Default 10.
    pub checkpoint_interval_secs: u64,
    /// Number of new entries that trigger a checkpoint before the interval
    /// ends. Default 1000.
    pub checkpoint_entries: u64,
    /// Verifier keys of witnesses whose cosignatures are accepted, in the
    /// signed-note format `name+keyid+base64`. Default none.
    pub witnesses: Vec<String>,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self {
            hash: None,
            signature: SignatureAlgorithm::Ed25519,
            origin: "oversight.local/ledger".to_owned(),
            checkpoint_interval_secs: 10,
            checkpoint_entries: 1000,
            witnesses: Vec::new(),
        }
    }
}

impl LedgerConfig {
    fn validate(&self) -> Result<LedgerSettings, ConfigError> {
        if self.signature == SignatureAlgorithm::Ed25519Cosignature {
            return Err(invalid(
                "ledger.signature",
                self.signature.name(),
                "a log signs with ed25519 or sm2; ed25519-cosignature is for witnesses",
            ));
        }
        let origin_is_line = !self.origin.is_empty()
            && !self
                .origin
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '+');
        if !origin_is_line {
            return Err(invalid(
                "ledger.origin",
                &self.origin,
                "expected a non-empty name without spaces, '+' or control characters, such as \
                 oversight.example.gov.cn/ledger",
            ));
        }
        if self.checkpoint_interval_secs == 0 {
            return Err(invalid(
                "ledger.checkpoint_interval_secs",
                "0",
                "must be at least 1 second",
            ));
        }
        if self.checkpoint_entries == 0 {
            return Err(invalid(
                "ledger.checkpoint_entries",
                "0",
                "must be at least 1",
            ));
        }
        let witnesses = self
            .witnesses
            .iter()
            .map(|text| {
                VerifierKey::parse(text).map_err(|error| {
                    invalid(
                        "ledger.witnesses",
                        text,
                        &format!("{error}; expected a verifier key such as name+1234abcd+BASE64"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LedgerSettings {
            origin: self.origin.clone(),
            hash: self.hash,
            signature: self.signature,
            checkpoint_interval: Duration::from_secs(self.checkpoint_interval_secs),
            checkpoint_entries: self.checkpoint_entries,
            witnesses,
        })
    }
}

/// Settings of the HTTP listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address the HTTP API and dashboard listen on. Default `127.0.0.1:8080`;
    /// use `0.0.0.0:8080` to serve other machines.
    pub listen: SocketAddr,
    /// Largest accepted request body, in bytes. Default 1048576 (1 MiB).
    pub body_limit_bytes: usize,
    /// Time after which a request, reading its body included, is cut off
    /// with 408, in seconds. Default 30.
    pub request_timeout_secs: u64,
    /// Time a connection has to send the headers of each request, in
    /// seconds; a connection idle that long between requests is closed too.
    /// Default 10.
    pub header_timeout_secs: u64,
    /// Open connections allowed at once; more get a 503. Default 1024.
    pub max_connections: usize,
    /// Open connections allowed at once from one IP address; more get a 503.
    /// A reverse proxy on the same machine counts as one address. Default 256.
    pub max_connections_per_ip: usize,
    /// Host names and IP addresses that requests may address in their
    /// `Host` header, without port; `*` allows any. The address of `listen`
    /// is added unless it is 0.0.0.0 or `::`. A name not on the list gets a
    /// 403, which stops DNS rebinding. Default `["localhost", "127.0.0.1", "::1"]`.
    pub allowed_hosts: Vec<String>,
    /// Requests a second that one client address may send to the API
    /// without a session or API token. A request over the limit gets a 429.
    /// Default 20.
    pub public_rate_per_sec: u32,
    /// Requests without credentials that one client address may send at
    /// once before `public_rate_per_sec` applies. Default 100.
    pub public_burst: u32,
    /// HTTPS on `listen` (`[http.tls]`); session cookies are then Secure.
    /// Default none: plain HTTP.
    pub tls: TlsConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            header_timeout_secs: 10,
            max_connections: 1024,
            max_connections_per_ip: 256,
            allowed_hosts: ["localhost", "127.0.0.1", "::1"]
                .map(str::to_owned)
                .to_vec(),
            public_rate_per_sec: crate::api::DEFAULT_PUBLIC_RATE_PER_SEC,
            public_burst: crate::api::DEFAULT_PUBLIC_BURST,
            tls: TlsConfig::default(),
        }
    }
}

/// Settings of the SQLite store in `data_dir`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `full` makes each commit survive a power loss. `normal` writes faster
    /// and survives a crash of the process, but a power loss may lose the
    /// latest commits. Default `full`.
    pub synchronous: SynchronousMode,
    /// Number of read connections. Default 4.
    pub readers: usize,
    /// Page cache of each connection, in KiB. Default 65536 (64 MiB).
    pub cache_size_kib: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        let options = SqliteOptions::default();
        Self {
            synchronous: SynchronousMode::Full,
            readers: options.readers,
            cache_size_kib: options.cache_size_kib,
        }
    }
}

/// Settings of supervision tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TasksServerConfig {
    /// The task configuration file: workflow, deadlines, departments and
    /// routing (docs/tasks.md). Default: none, which means the built-in
    /// workflow and deadlines with no departments.
    pub config_file: Option<PathBuf>,
    /// A holiday calendar in the format of crates/tasks/data/holidays-cn.toml.
    /// Default: none, which means the built-in calendar of China.
    pub holidays_file: Option<PathBuf>,
    /// The list of items eligible for no penalty on a first violation.
    /// Default: none, which means an empty list.
    pub first_violation_file: Option<PathBuf>,
    /// How often the scheduler sends due reminders and escalations, in
    /// seconds. Default 60.
    pub scheduler_interval_secs: u64,
    /// Largest evidence file accepted, in bytes. Default 52428800 (50 MiB).
    pub evidence_max_bytes: u64,
}

impl Default for TasksServerConfig {
    fn default() -> Self {
        Self {
            config_file: None,
            holidays_file: None,
            first_violation_file: None,
            scheduler_interval_secs: 60,
            evidence_max_bytes: 50 * 1024 * 1024,
        }
    }
}

impl TasksServerConfig {
    /// Reads the configured files and builds the task engine.
    fn engine(&self) -> Result<Engine, ConfigError> {
        let read = |field: &'static str, path: &Path| {
            std::fs::read_to_string(path).map_err(|error| {
                invalid(
                    field,
                    &path.display().to_string(),
                    &format!("cannot read the file: {error}"),
                )
            })
        };
        let section = |error: &dyn fmt::Display| ConfigError::Section {
            section: "tasks",
            message: error.to_string(),
        };
        let config = match &self.config_file {
            Some(path) => TasksConfig::parse(&read("tasks.config_file", path)?)
                .map_err(|error| section(&format!("{}: {error}", path.display())))?,
            None => TasksConfig::default(),
        };
        let holidays = match &self.holidays_file {
            Some(path) => Holidays::parse(&read("tasks.holidays_file", path)?)
                .map_err(|error| section(&format!("{}: {error}", path.display())))?,
            None => Holidays::china(),
        };
        let list = match &self.first_violation_file {
            Some(path) => FirstViolationList::parse(&read("tasks.first_violation_file", path)?)
                .map_err(|error| section(&format!("{}: {error}", path.display())))?,
            None => FirstViolationList::empty(),
        };
        Engine::new(config, holidays, list).map_err(|error| section(&error))
    }
}

/// `PRAGMA synchronous` as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SynchronousMode {
    /// Durable against power loss.
    Full,
    /// Durable against a process crash.
    Normal,
}

/// Settings of the log output on standard error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` for people, `json` (one object per line) for log collectors. Default `text`.
    pub format: LogFormat,
    /// A tracing filter: a level (`error`, `warn`, `info`, `debug`, `trace`)
    /// or directives such as `info,oversight_source_hj212=debug`. Default `info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Values given as command-line flags; each one set overrides every other layer.
#[derive(Debug, Clone, Default)]
pub struct ConfigOverrides {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--http`.
    pub http_listen: Option<SocketAddr>,
    /// `--hj212`.
    pub hj212_listen: Option<SocketAddr>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
    /// `--log-level`.
    pub log_level: Option<String>,
}

/// A configuration that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A section's own validation failed.
    #[error("invalid configuration in [{section}]: {message}")]
    Section {
        /// The section, such as `hj212`.
        section: &'static str,
        /// The section's error, naming the field and the rule.
        message: String,
    },
    /// The file given with `--config` does not exist.
    #[error("configuration file {0} not found: check the path given with --config")]
    FileNotFound(PathBuf),
    /// A layer could not be parsed, or has an unknown key or a value of the wrong type.
    #[error("invalid configuration: {0}")]
    Parse(Box<figment::Error>),
    /// A value parsed but broke a rule.
    #[error("invalid configuration value {field} = {value:?}: {rule}")]
    Invalid {
        /// The dotted key, such as `http.body_limit_bytes`.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// The form a valid value has.
        rule: String,
    },
}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> Self {
        Self::Parse(Box::new(error))
    }
}

/// The validated configuration the program runs with.
#[derive(Clone)]
pub struct Settings {
    /// Directory of the database.
    pub data_dir: PathBuf,
    /// Local time.
    pub time_zone: TimeZone,
    /// HTTP listen address.
    pub http_listen: SocketAddr,
    /// Request limits.
    pub http_limits: HttpLimits,
    /// Connection limits.
    pub http_listener: ListenerLimits,
    /// Hosts that requests may address.
    pub http_allowed_hosts: HostAllowList,
    /// The certificate and key of HTTPS, or `None` for plain HTTP.
    pub http_tls: Option<TlsFiles>,
    /// The HJ 212 listener, checked by [`Hj212Config::validate`].
    pub hj212: Hj212Config,
    /// The early-warning rules.
    pub rules: RulesConfig,
    /// The store.
    pub store: SqliteOptions,
    /// Supervision tasks.
    pub tasks: TaskSettings,
    /// Logging.
    pub log: LogConfig,
    /// The ledger.
    pub ledger: LedgerSettings,
    /// Logins, sessions and API tokens.
    pub auth: AuthConfig,
    /// Reminders for alerts, checked by [`NotifyConfig::validate`].
    pub notify: NotifyConfig,
}

/// The validated task settings.
#[derive(Debug, Clone)]
pub struct TaskSettings {
    /// The task engine built from the configured files.
    pub engine: Arc<Engine>,
    /// How often the scheduler runs.
    pub scheduler_interval: Duration,
    /// Largest evidence file accepted, in bytes.
    pub evidence_max_bytes: u64,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("time_zone", &self.time_zone)
            .field("http_listen", &self.http_listen)
            .field("http_tls", &self.http_tls)
            .field("hj212", &self.hj212)
            .field("rules", &self.rules)
            .field("log", &self.log)
            .field("ledger", &self.ledger)
            .field("auth", &self.auth)
            .field("notify", &self.notify)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads every layer and returns the merged tree, unvalidated.
    pub fn read(file: Option<&Path>, overrides: &ConfigOverrides) -> Result<Self, ConfigError> {
        Ok(figment(file, overrides)?.extract()?)
    }

    /// Reads every layer and validates the result.
    pub fn load(file: Option<&Path>, overrides: &ConfigOverrides) -> Result<Settings, ConfigError> {
        Self::read(file, overrides)?.validate()
    }

    /// Checks the values that types alone do not constrain.
    pub fn validate(self) -> Result<Settings, ConfigError> {
        let time_zone = parse_offset(&self.time_zone)?;
        if self.http.body_limit_bytes == 0 {
            return Err(invalid(
                "http.body_limit_bytes",
                "0",
                "must be at least 1 byte",
            ));
        }
        if self.http.request_timeout_secs == 0 {
            return Err(invalid(
                "http.request_timeout_secs",
                "0",
                "must be at least 1 second",
            ));
        }
        let at_least_one: [(&'static str, u64); 5] = [
            ("http.header_timeout_secs", self.http.header_timeout_secs),
            ("http.max_connections", self.http.max_connections as u64),
            (
                "http.max_connections_per_ip",
                self.http.max_connections_per_ip as u64,
            ),
            (
                "http.public_rate_per_sec",
                u64::from(self.http.public_rate_per_sec),
            ),
            ("http.public_burst", u64::from(self.http.public_burst)),
        ];
        for (field, value) in at_least_one {
            if value == 0 {
                return Err(invalid(field, "0", "must be at least 1"));
            }
        }
        if self.http.allowed_hosts.is_empty() {
            return Err(invalid(
                "http.allowed_hosts",
                "[]",
                "list at least one host name, such as [\"localhost\"], or [\"*\"] for any",
            ));
        }
        let http_tls =
            self.http
                .tls
                .validate("http.tls")
                .map_err(|error| ConfigError::Section {
                    section: "http",
                    message: error.to_string(),
                })?;
        if self.store.readers == 0 {
            return Err(invalid("store.readers", "0", "must be at least 1"));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(invalid(
                "log.level",
                &self.log.level,
                "expected a level such as info or debug, or directives such as \
                 info,oversight_source_hj212=debug",
            ));
        }
        self.hj212
            .validate()
            .map_err(|error| ConfigError::Section {
                section: "hj212",
                message: error.to_string(),
            })?;
        self.rules
            .validate()
            .map_err(|error| ConfigError::Section {
                section: "rules",
                message: error.to_string(),
            })?;
        self.notify
            .validate()
            .map_err(|error| ConfigError::Section {
                section: "notify",
                message: error.to_string(),
            })?;
        if self.tasks.scheduler_interval_secs == 0 {
            return Err(invalid(
                "tasks.scheduler_interval_secs",
                "0",
                "must be at least 1 second",
            ));
        }
        if self.tasks.evidence_max_bytes == 0 {
            return Err(invalid(
                "tasks.evidence_max_bytes",
                "0",
                "must be at least 1 byte",
            ));
        }
        let task_engine = Arc::new(self.tasks.engine()?);
        let ledger = self.ledger.validate()?;
        let store = SqliteOptions {
            synchronous: match self.store.synchronous {
                SynchronousMode::Full => Synchronous::Full,
                SynchronousMode::Normal => Synchronous::Normal,
            },
            readers: self.store.readers,
            cache_size_kib: self.store.cache_size_kib,
            ledger_hash: ledger.hash,
            ..SqliteOptions::default()
        };
        Ok(Settings {
            data_dir: self.data_dir,
            time_zone,
            http_listen: self.http.listen,
            http_limits: HttpLimits {
                body_limit_bytes: self.http.body_limit_bytes,
                request_timeout: Duration::from_secs(self.http.request_timeout_secs),
                public_rate: PublicRateLimit {
                    per_second: NonZeroU32::new(self.http.public_rate_per_sec)
                        .unwrap_or(NonZeroU32::MIN),
                    burst: NonZeroU32::new(self.http.public_burst).unwrap_or(NonZeroU32::MIN),
                },
            },
            http_listener: ListenerLimits {
                header_timeout: Duration::from_secs(self.http.header_timeout_secs),
                max_connections: self.http.max_connections,
                max_connections_per_ip: self.http.max_connections_per_ip,
                shutdown_grace: SHUTDOWN_GRACE,
            },
            http_allowed_hosts: allowed_hosts(&self.http),
            auth: AuthConfig {
                secure_cookies: self.auth.secure_cookies || http_tls.is_some(),
                ..self.auth
            },
            http_tls,
            hj212: self.hj212,
            rules: self.rules,
            store,
            tasks: TaskSettings {
                engine: task_engine,
                scheduler_interval: Duration::from_secs(self.tasks.scheduler_interval_secs),
                evidence_max_bytes: self.tasks.evidence_max_bytes,
            },
            log: self.log,
            ledger,
            notify: self.notify,
        })
    }
}

/// Time open HTTP connections get to finish after shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Returns the configured hosts plus the listen address, when it is a specific one.
fn allowed_hosts(http: &HttpConfig) -> HostAllowList {
    let mut hosts = http.allowed_hosts.clone();
    let ip = http.listen.ip();
    if !ip.is_unspecified() {
        hosts.push(ip.to_string());
    }
    HostAllowList::new(&hosts)
}

/// Builds the layered provider.
fn figment(file: Option<&Path>, overrides: &ConfigOverrides) -> Result<Figment, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(file) = file {
        if !file.is_file() {
            return Err(ConfigError::FileNotFound(file.to_owned()));
        }
        figment = figment.merge(Toml::file_exact(file));
    }
    figment = figment.merge(
        Env::prefixed(ENV_PREFIX)
            .split("__")
            .filter(|key| is_config_section(key.as_str())),
    );
    if let Some(data_dir) = &overrides.data_dir {
        figment = figment.merge(Serialized::default("data_dir", data_dir));
    }
    if let Some(listen) = overrides.http_listen {
        figment = figment.merge(Serialized::default("http.listen", listen));
    }
    if let Some(listen) = overrides.hj212_listen {
        figment = figment.merge(Serialized::default("hj212.listen", listen));
    }
    if let Some(format) = overrides.log_format {
        figment = figment.merge(Serialized::default("log.format", format));
    }
    if let Some(level) = &overrides.log_level {
        figment = figment.merge(Serialized::default("log.level", level));
    }
    Ok(figment)
}

/// The top-level keys of [`Config`]; environment variables for other keys are ignored.
const SECTIONS: &[&str] = &[
    "data_dir",
    "time_zone",
    "http",
    "hj212",
    "rules",
    "store",
    "tasks",
    "log",
    "ledger",
    "auth",
    "notify",
];

fn is_config_section(key: &str) -> bool {
    let first = key.split('.').next().unwrap_or(key);
    SECTIONS
        .iter()
        .any(|section| first.eq_ignore_ascii_case(section))
}

fn parse_offset(value: &str) -> Result<TimeZone, ConfigError> {
    let rule = "expected a fixed UTC offset such as +08:00 or -05:30";
    let bad = || invalid("time_zone", value, rule);
    let (sign, rest) = match value.trim().split_at_checked(1) {
        Some(("+", rest)) => (1, rest),
        Some(("-", rest)) => (-1, rest),
        _ => return Err(bad()),
    };
    let (hours, minutes) = rest.split_once(':').ok_or_else(bad)?;
    let hours: i32 = hours.parse().map_err(|_| bad())?;
    let minutes: i32 = minutes.parse().map_err(|_| bad())?;
    if !(0..=14).contains(&hours) || !(0..60).contains(&minutes) {
        return Err(bad());
    }
    let seconds = sign * (hours * 3600 + minutes * 60);
    let offset = Offset::from_seconds(seconds).map_err(|_| bad())?;
    Ok(TimeZone::fixed(offset))
}

fn invalid(field: &'static str, value: &str, rule: &str) -> ConfigError {
    ConfigError::Invalid {
        field,
        value: value.to_owned(),
        rule: rule.to_owned(),
    }
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment's Jail fixes the closure's error type"
)]
mod tests {
    use figment::Jail;

    use super::*;

    fn load_in(jail: &Jail, file: Option<&str>, overrides: &ConfigOverrides) -> Settings {
        let path = file.map(|name| jail.directory().join(name));
        Config::load(path.as_deref(), overrides).expect("configuration is valid")
    }

    #[test]
    fn defaults_are_valid() {
        Jail::expect_with(|jail| {
            let settings = load_in(jail, None, &ConfigOverrides::default());
            assert_eq!(settings.http_listen.to_string(), "127.0.0.1:8080");
            assert_eq!(settings.data_dir, PathBuf::from("./oversight-data"));
            assert_eq!(settings.log.format, LogFormat::Text);
            assert_eq!(settings.rules.missing_after_intervals, 3);
            Ok(())
        });
    }

    #[test]
    fn layers_override_in_order() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "oversight.toml",
                r#"
                data_dir = "/from/file"
                time_zone = "+07:00"
                [http]
                listen = "127.0.0.1:1001"
                [log]
                level = "debug"
                format = "json"
                "#,
            )?;
            // The environment overrides the file ...
            jail.set_env("OVERSIGHT_HTTP__LISTEN", "127.0.0.1:1002");
            jail.set_env("OVERSIGHT_DATA_DIR", "/from/env");
            jail.set_env("OVERSIGHT_RULES__MISSING_AFTER_INTERVALS", "5");
            // ... and flags override the environment.
            let overrides = ConfigOverrides {
                data_dir: Some(PathBuf::from("/from/flag")),
                ..ConfigOverrides::default()
            };
            let settings = load_in(jail, Some("oversight.toml"), &overrides);
            assert_eq!(settings.data_dir, PathBuf::from("/from/flag"));
            assert_eq!(settings.http_listen.to_string(), "127.0.0.1:1002");
            assert_eq!(settings.rules.missing_after_intervals, 5);
            assert_eq!(settings.log.level, "debug");
            assert_eq!(settings.log.format, LogFormat::Json);
            let offset = settings.time_zone.to_fixed_offset().expect("fixed offset");
            assert_eq!(offset.seconds(), 7 * 3600);

            let overrides = ConfigOverrides {
                http_listen: Some("127.0.0.1:1003".parse().expect("literal address")),
                ..ConfigOverrides::default()
            };
            let settings = load_in(jail, Some("oversight.toml"), &overrides);
            assert_eq!(settings.http_listen.to_string(), "127.0.0.1:1003");
            assert_eq!(settings.data_dir, PathBuf::from("/from/env"));
            Ok(())
        });
    }

    #[test]
    fn unknown_key_in_file_is_rejected() {
        Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[http]\nlisten_on = \"127.0.0.1:1\"\n")?;
            let path = jail.directory().join("bad.toml");
            let error = Config::load(Some(&path), &ConfigOverrides::default()).unwrap_err();
            assert!(error.to_string().contains("listen_on"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn unknown_nested_env_is_rejected() {
        Jail::expect_with(|jail| {
            jail.set_env("OVERSIGHT_HTTP__LISTN", "127.0.0.1:1");
            let error = Config::load(None, &ConfigOverrides::default()).unwrap_err();
            assert!(error.to_string().contains("listn"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn foreign_env_is_ignored() {
        Jail::expect_with(|jail| {
            jail.set_env("OVERSIGHT_BIN", "/usr/bin/oversight");
            assert!(Config::load(None, &ConfigOverrides::default()).is_ok());
            Ok(())
        });
    }

    #[test]
    fn public_rate_from_env() {
        Jail::expect_with(|jail| {
            jail.set_env("OVERSIGHT_HTTP__PUBLIC_RATE_PER_SEC", "5");
            jail.set_env("OVERSIGHT_HTTP__PUBLIC_BURST", "7");
            let settings = Config::load(None, &ConfigOverrides::default()).unwrap();
            let rate = settings.http_limits.public_rate;
            assert_eq!(rate.per_second.get(), 5);
            assert_eq!(rate.burst.get(), 7);
            Ok(())
        });
    }

    #[test]
    fn missing_file_is_an_error() {
        let error = Config::load(
            Some(Path::new("/nonexistent/o.toml")),
            &ConfigOverrides::default(),
        )
        .unwrap_err();
        assert!(matches!(error, ConfigError::FileNotFound(_)), "{error}");
    }

    #[test]
    fn invalid_values_name_the_field() {
        type Change = fn(&mut Config);
        let cases: [(Change, &str); 6] = [
            (
                |config| config.time_zone = "Asia/Shanghai".into(),
                "time_zone",
            ),
            (
                |config| config.http.body_limit_bytes = 0,
                "http.body_limit_bytes",
            ),
            (
                |config| config.http.public_rate_per_sec = 0,
                "http.public_rate_per_sec",
            ),
            (|config| config.http.public_burst = 0, "http.public_burst"),
            (|config| config.log.level = "loud[".into(), "log.level"),
            (
                |config| config.rules.missing_after_intervals = 0,
                "missing_after_intervals",
            ),
        ];
        for (change, field) in cases {
            let mut config = Config::default();
            change(&mut config);
            let error = config.validate().unwrap_err();
            assert!(error.to_string().contains(field), "{field}: {error}");
        }
    }

    #[test]
    fn offsets_parse() {
        assert!(parse_offset("+08:00").is_ok());
        assert!(parse_offset("-05:30").is_ok());
        for bad in ["08:00", "+8", "+15:00", "+08:60", "UTC"] {
            assert!(parse_offset(bad).is_err(), "{bad}");
        }
    }
}
