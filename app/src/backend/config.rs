//! Configuration: an optional TOML file, then `CUPULA_*` environment variables, which win.

use super::client_ip::IpNetwork;
use super::secret_key::SecretKey;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The settings of one running portal.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the HTTP server listens.
    pub listen: SocketAddr,
    /// Holds the SQLite database (by default) and uploaded files.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// The public address of the portal, used in links sent by e-mail and to check `Origin`.
    pub base_url: url::Url,
    /// Where the built site (pkg/, assets) lives; found next to the binary when not set.
    pub site_root: Option<PathBuf>,
    /// A session ends after this long without a request.
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in, however active.
    pub session_absolute_timeout: Duration,
    /// Log lines as JSON (for log collectors) instead of text.
    pub log_json: bool,
    /// How long after a request is done its client may still reopen it.
    pub reopen_window: Duration,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers name the client.
    pub trusted_proxies: Vec<IpNetwork>,
    /// No request may take longer, reading its body included.
    pub request_time_limit: Duration,
    /// Seals e-mailed links in the outbox. When not configured, `serve` fills it in from
    /// `secret_key_file()`, creating the file on its first start.
    pub secret_key: Option<SecretKey>,
    /// The largest file that may be attached, in bytes.
    pub max_file_bytes: u64,
    /// What the files committed at once (a message, a request, an API call) may add up to.
    pub max_request_files_bytes: u64,
    /// What the files of one client organization may add up to.
    pub organization_quota_bytes: u64,
    /// Files in an S3-compatible bucket (several servers share it); `None`: in the data directory.
    pub s3: Option<S3Settings>,
    /// The longest voice comment accepted.
    pub max_voice_duration: Duration,
    /// An OpenAI-compatible speech server that transcribes voice comments; `None`: voice
    /// comments keep their audio and say that transcription is unavailable.
    pub transcription: Option<TranscriptionSettings>,
    /// The built-in engine's model (a whisper.cpp ggml file), used when no speech server is
    /// configured; `None` (unset, or `off`): no built-in engine.
    pub speech_model: Option<PathBuf>,
    /// At most this many threads for one transcription by the built-in engine; `None`: the
    /// machine's cores, shared among the jobs running.
    pub speech_threads: Option<usize>,
    /// The mail server e-mails go through; `None`: they are written as `.eml` files under
    /// `data_dir/mail` (`mail_dir`).
    pub smtp: Option<SmtpSettings>,
    /// The sender of every e-mail, `Name <address>` or an address.
    pub mail_from: String,
    /// Where the SMTP listener for replies by e-mail listens (`CUPULA_INBOUND_SMTP_LISTEN`);
    /// `None`: notifications are not answerable by e-mail. The mail server that receives
    /// `mail_from`'s domain forwards the tagged reply addresses (`local+tag@domain`) here.
    pub inbound_smtp_listen: Option<SocketAddr>,
}

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text (`smtp://`): a relay on the same host or network only.
    Plain,
    /// Plain, then upgraded by STARTTLS, which must succeed (`smtp://…?tls=starttls`).
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Tls,
}

/// `CUPULA_SMTP_URL`: `smtp://host:port`, `smtp://host?tls=starttls`,
/// `smtps://user:password@host:465`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Both or neither.
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Never prints the password.
impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Where voice comments are transcribed: `POST {url}/v1/audio/transcriptions`.
#[derive(Clone, PartialEq, Eq)]
pub struct TranscriptionSettings {
    /// `http://127.0.0.1:8000` for a speech server nearby (its `/v1/...` is added).
    pub url: url::Url,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<String>,
    /// The server's model name, such as `whisper-1`.
    pub model: String,
}

/// Never prints the key.
impl std::fmt::Debug for TranscriptionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TranscriptionSettings")
            .field("url", &self.url.as_str())
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// Where files live on S3-compatible object storage.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// `https://s3.eu-west-1.amazonaws.com`, or `http://127.0.0.1:9000` for a server nearby.
    pub endpoint: url::Url,
    pub bucket: String,
    pub region: String,
    /// Both or neither; without them the machine's own credentials (an instance role) are used.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Keys begin with it (`cupula/…`), so that one bucket may hold other things too.
    pub prefix: String,
}

/// Never prints the secret.
impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint.as_str())
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// A configuration problem, told in one line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {reason}")]
    UnreadableFile { path: String, reason: String },
    #[error("the configuration file {path} is not valid: {reason}")]
    InvalidFile { path: String, reason: String },
    #[error("{name} must be an address and port such as 127.0.0.1:3000, not {value:?}")]
    InvalidListen { name: &'static str, value: String },
    #[error("{name} must start with sqlite:// or postgres://, not {value:?}")]
    InvalidDatabaseUrl { name: &'static str, value: String },
    #[error("{name} must be an http:// or https:// address such as https://soporte.example.org, not {value:?}")]
    InvalidBaseUrl { name: &'static str, value: String },
    #[error("{name} must be a whole number of minutes, not {value:?}")]
    InvalidMinutes { name: &'static str, value: String },
    #[error("{name} must be a whole number of days, not {value:?}")]
    InvalidDays { name: &'static str, value: String },
    #[error("{name} must be a whole number of bytes, not {value:?}")]
    InvalidBytes { name: &'static str, value: String },
    #[error("{name} must be a whole number of seconds, not {value:?}")]
    InvalidSeconds { name: &'static str, value: String },
    #[error(
        "{name} must list IP addresses or networks such as 10.0.0.1, 172.16.0.0/12, not {value:?}"
    )]
    InvalidTrustedProxy { name: &'static str, value: String },
    /// The value is a secret: never repeated in the message.
    #[error("{name} must be a 256-bit key: 64 hexadecimal characters or base64 (e.g. `openssl rand -hex 32`)")]
    InvalidSecretKey { name: &'static str },
    #[error("{name} must be an http:// or https:// address such as https://s3.eu-west-1.amazonaws.com, not {value:?}")]
    InvalidS3Endpoint { name: &'static str, value: String },
    #[error("{missing} must be set together with {given}")]
    IncompleteS3 {
        given: &'static str,
        missing: &'static str,
    },
    #[error("{name} must be a bucket name such as cupula-files, not {value:?}")]
    InvalidS3Bucket { name: &'static str, value: String },
    #[error("{name} must be an http:// or https:// address such as http://127.0.0.1:8000, not {value:?}")]
    InvalidTranscriptionUrl { name: &'static str, value: String },
    #[error("{name} names {value:?}, which is not a file (set it to off to transcribe without the built-in engine)")]
    MissingSpeechModel { name: &'static str, value: String },
    #[error("{name} must be a whole number of threads, at least 1, not {value:?}")]
    InvalidThreads { name: &'static str, value: String },
    /// The value may hold a password: never repeated in the message.
    #[error("{name} must be a mail server address such as smtp://127.0.0.1:25, smtp://mail.example.org:587?tls=starttls or smtps://user:password@mail.example.org:465")]
    InvalidSmtpUrl { name: &'static str },
    #[error("{name} must be an e-mail address such as soporte@example.org or Soporte <soporte@example.org>, not {value:?}")]
    InvalidMailFrom { name: &'static str, value: String },
    #[error("{name} must be a key prefix such as cupula or files/cupula (no empty, \".\" or \"..\" parts), not {value:?}")]
    InvalidS3Prefix { name: &'static str, value: String },
}

/// The keys of the configuration file; each matches an environment variable `CUPULA_<KEY>`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    base_url: Option<String>,
    site_root: Option<PathBuf>,
    session_idle_minutes: Option<u64>,
    session_absolute_minutes: Option<u64>,
    log_json: Option<bool>,
    reopen_days: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
    request_timeout_seconds: Option<u64>,
    secret_key: Option<String>,
    max_file_bytes: Option<u64>,
    max_request_files_bytes: Option<u64>,
    organization_quota_bytes: Option<u64>,
    s3_endpoint: Option<String>,
    s3_bucket: Option<String>,
    s3_region: Option<String>,
    s3_access_key_id: Option<String>,
    s3_secret_access_key: Option<String>,
    s3_prefix: Option<String>,
    max_voice_seconds: Option<u64>,
    transcription_url: Option<String>,
    transcription_api_key: Option<String>,
    transcription_model: Option<String>,
    speech_model: Option<String>,
    speech_threads: Option<u64>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    inbound_smtp_listen: Option<String>,
}

impl Config {
    /// Reads the optional file, then the environment through `env` (a lookup, so tests need not
    /// touch the process environment).
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let from_file = match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| ConfigError::UnreadableFile {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::InvalidFile {
                    path: path.display().to_string(),
                    reason: e.message().to_string(),
                })?
            }
            None => FileConfig::default(),
        };
        let env = |key: &str| env(key).filter(|v| !v.trim().is_empty());

        let (listen_name, listen_value) = match env("CUPULA_LISTEN") {
            Some(v) => ("CUPULA_LISTEN", v),
            None => (
                "listen",
                from_file.listen.unwrap_or_else(|| "127.0.0.1:3000".into()),
            ),
        };
        let listen =
            listen_value
                .trim()
                .parse::<SocketAddr>()
                .map_err(|_| ConfigError::InvalidListen {
                    name: listen_name,
                    value: listen_value.clone(),
                })?;

        let data_dir = env("CUPULA_DATA_DIR")
            .map(PathBuf::from)
            .or(from_file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));

        let (db_name, database_url) = match env("CUPULA_DATABASE_URL") {
            Some(v) => ("CUPULA_DATABASE_URL", v),
            None => match from_file.database_url {
                Some(v) => ("database_url", v),
                None => (
                    "database_url",
                    format!("sqlite://{}", data_dir.join("cupula.db").display()),
                ),
            },
        };
        let database_url = database_url.trim().to_string();
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::InvalidDatabaseUrl {
                name: db_name,
                value: database_url,
            });
        }

        let (base_name, base_value) = match env("CUPULA_BASE_URL") {
            Some(v) => ("CUPULA_BASE_URL", v),
            None => (
                "base_url",
                from_file
                    .base_url
                    .unwrap_or_else(|| format!("http://{listen}")),
            ),
        };
        let base_url = url::Url::parse(base_value.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or(ConfigError::InvalidBaseUrl {
                name: base_name,
                value: base_value.clone(),
            })?;

        let minutes = |key: &'static str, file_value: Option<u64>, default: u64| {
            match env(key) {
                Some(v) => v.trim().parse::<u64>().ok().filter(|m| *m > 0).ok_or(
                    ConfigError::InvalidMinutes {
                        name: key,
                        value: v,
                    },
                ),
                None => Ok(file_value.unwrap_or(default)),
            }
            .map(|m| Duration::from_secs(m * 60))
        };

        let reopen_days = match env("CUPULA_REOPEN_DAYS") {
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .ok_or(ConfigError::InvalidDays {
                    name: "CUPULA_REOPEN_DAYS",
                    value: v,
                })?,
            None => from_file.reopen_days.unwrap_or(14),
        };

        let request_timeout_seconds = match env("CUPULA_REQUEST_TIMEOUT_SECONDS") {
            Some(v) => v.trim().parse::<u64>().ok().filter(|s| *s > 0).ok_or(
                ConfigError::InvalidSeconds {
                    name: "CUPULA_REQUEST_TIMEOUT_SECONDS",
                    value: v,
                },
            )?,
            None => from_file.request_timeout_seconds.unwrap_or(30),
        };

        let bytes =
            |key: &'static str, file_value: Option<u64>, default: u64| match env(key) {
                Some(v) => v.trim().parse::<u64>().ok().filter(|b| *b > 0).ok_or(
                    ConfigError::InvalidBytes {
                        name: key,
                        value: v,
                    },
                ),
                None => Ok(file_value.unwrap_or(default)),
            };
        const GIB: u64 = 1024 * 1024 * 1024;
        let max_file_bytes = bytes("CUPULA_MAX_FILE_BYTES", from_file.max_file_bytes, 2 * GIB)?;
        let max_request_files_bytes = bytes(
            "CUPULA_MAX_REQUEST_FILES_BYTES",
            from_file.max_request_files_bytes,
            4 * GIB,
        )?;
        let organization_quota_bytes = bytes(
            "CUPULA_ORGANIZATION_QUOTA_BYTES",
            from_file.organization_quota_bytes,
            20 * GIB,
        )?;

        let (proxies_name, proxies): (&'static str, Vec<String>) =
            match env("CUPULA_TRUSTED_PROXIES") {
                Some(v) => (
                    "CUPULA_TRUSTED_PROXIES",
                    v.split(',').map(str::to_string).collect(),
                ),
                None => (
                    "trusted_proxies",
                    from_file.trusted_proxies.unwrap_or_default(),
                ),
            };
        let trusted_proxies = proxies
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                p.parse::<IpNetwork>()
                    .map_err(|_| ConfigError::InvalidTrustedProxy {
                        name: proxies_name,
                        value: p.trim().to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let secret_key = match env("CUPULA_SECRET_KEY") {
            Some(v) => Some(("CUPULA_SECRET_KEY", v)),
            None => from_file.secret_key.map(|v| ("secret_key", v)),
        }
        .map(|(name, value)| SecretKey::parse(&value).ok_or(ConfigError::InvalidSecretKey { name }))
        .transpose()?;

        // Each S3 or transcription setting with the name it was given by (the variable, or the
        // file's key).
        let setting = |key: &'static str, file_key: &'static str, file_value: Option<String>| {
            match env(key) {
                Some(v) => Some((key, v.trim().to_string())),
                None => file_value
                    .map(|v| (file_key, v.trim().to_string()))
                    .filter(|(_, v)| !v.is_empty()),
            }
        };
        let s3 = s3_settings(
            setting("CUPULA_S3_ENDPOINT", "s3_endpoint", from_file.s3_endpoint),
            setting("CUPULA_S3_BUCKET", "s3_bucket", from_file.s3_bucket),
            setting("CUPULA_S3_REGION", "s3_region", from_file.s3_region),
            setting(
                "CUPULA_S3_ACCESS_KEY_ID",
                "s3_access_key_id",
                from_file.s3_access_key_id,
            ),
            setting(
                "CUPULA_S3_SECRET_ACCESS_KEY",
                "s3_secret_access_key",
                from_file.s3_secret_access_key,
            ),
            setting("CUPULA_S3_PREFIX", "s3_prefix", from_file.s3_prefix),
        )?;

        let max_voice_seconds = match env("CUPULA_MAX_VOICE_SECONDS") {
            Some(v) => v.trim().parse::<u64>().ok().filter(|s| *s > 0).ok_or(
                ConfigError::InvalidSeconds {
                    name: "CUPULA_MAX_VOICE_SECONDS",
                    value: v,
                },
            )?,
            None => from_file.max_voice_seconds.unwrap_or(300),
        };
        let transcription = transcription_settings(
            setting(
                "CUPULA_TRANSCRIPTION_URL",
                "transcription_url",
                from_file.transcription_url,
            ),
            setting(
                "CUPULA_TRANSCRIPTION_API_KEY",
                "transcription_api_key",
                from_file.transcription_api_key,
            ),
            setting(
                "CUPULA_TRANSCRIPTION_MODEL",
                "transcription_model",
                from_file.transcription_model,
            ),
        )?;

        let speech_model = match env("CUPULA_SPEECH_MODEL") {
            Some(v) => Some(("CUPULA_SPEECH_MODEL", v)),
            None => from_file.speech_model.map(|v| ("speech_model", v)),
        };
        let speech_model = match speech_model {
            None => None,
            Some((_, v)) if v.trim().eq_ignore_ascii_case("off") => None,
            Some((name, v)) => {
                let path = PathBuf::from(v.trim());
                if !path.is_file() {
                    return Err(ConfigError::MissingSpeechModel { name, value: v });
                }
                Some(path)
            }
        };

        let speech_threads = match env("CUPULA_SPEECH_THREADS") {
            Some(v) => Some(v.trim().parse::<u64>().ok().filter(|n| *n > 0).ok_or(
                ConfigError::InvalidThreads {
                    name: "CUPULA_SPEECH_THREADS",
                    value: v,
                },
            )?),
            None => from_file.speech_threads.filter(|n| *n > 0),
        }
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let smtp = setting("CUPULA_SMTP_URL", "smtp_url", from_file.smtp_url)
            .map(|(name, value)| smtp_settings(&value).ok_or(ConfigError::InvalidSmtpUrl { name }))
            .transpose()?;
        let mail_from = match setting("CUPULA_MAIL_FROM", "mail_from", from_file.mail_from) {
            Some((name, value)) => {
                if value.parse::<lettre::message::Mailbox>().is_err() {
                    return Err(ConfigError::InvalidMailFrom { name, value });
                }
                value
            }
            None => default_mail_from(&base_url),
        };
        let inbound_smtp_listen = setting(
            "CUPULA_INBOUND_SMTP_LISTEN",
            "inbound_smtp_listen",
            from_file.inbound_smtp_listen,
        )
        .map(|(name, value)| {
            value
                .parse::<SocketAddr>()
                .map_err(|_| ConfigError::InvalidListen { name, value })
        })
        .transpose()?;

        Ok(Config {
            inbound_smtp_listen,
            listen,
            data_dir,
            database_url,
            base_url,
            site_root: env("CUPULA_SITE_ROOT")
                .map(PathBuf::from)
                .or(from_file.site_root),
            // A working day of inactivity, and at most a month between sign-ins.
            session_idle_timeout: minutes(
                "CUPULA_SESSION_IDLE_MINUTES",
                from_file.session_idle_minutes,
                12 * 60,
            )?,
            session_absolute_timeout: minutes(
                "CUPULA_SESSION_ABSOLUTE_MINUTES",
                from_file.session_absolute_minutes,
                30 * 24 * 60,
            )?,
            log_json: env("CUPULA_LOG_JSON")
                .map(|v| matches!(v.trim(), "1" | "true" | "yes"))
                .or(from_file.log_json)
                .unwrap_or(false),
            reopen_window: Duration::from_secs(reopen_days * 24 * 3600),
            trusted_proxies,
            request_time_limit: Duration::from_secs(request_timeout_seconds),
            secret_key,
            max_file_bytes,
            max_request_files_bytes,
            organization_quota_bytes,
            s3,
            max_voice_duration: Duration::from_secs(max_voice_seconds),
            transcription,
            speech_model,
            speech_threads,
            smtp,
            mail_from,
        })
    }

    /// Where e-mails are written when no mail server is configured.
    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    /// Where the secret key is kept when it is not configured.
    pub fn secret_key_file(&self) -> PathBuf {
        self.data_dir.join("secret.key")
    }

    /// Whether cookies may carry `Secure` and the `__Host-` prefix.
    pub fn is_https(&self) -> bool {
        self.base_url.scheme() == "https"
    }

    /// The origin (`scheme://host[:port]`) that browsers send in `Origin` for this portal.
    pub fn origin(&self) -> String {
        self.base_url.origin().ascii_serialization()
    }
}

type Setting = Option<(&'static str, String)>;

/// The mail server named by an `smtp://` or `smtps://` address; `None` when it is not one.
fn smtp_settings(value: &str) -> Option<SmtpSettings> {
    let url = url::Url::parse(value).ok()?;
    let host = url.host_str().filter(|h| !h.is_empty())?.to_string();
    let mut starttls = false;
    for (key, v) in url.query_pairs() {
        match (key.as_ref(), v.as_ref()) {
            ("tls", "starttls") => starttls = true,
            ("tls", "none") => starttls = false,
            _ => return None,
        }
    }
    let (security, default_port) = match (url.scheme(), starttls) {
        ("smtp", false) => (SmtpSecurity::Plain, 25),
        ("smtp", true) => (SmtpSecurity::StartTls, 587),
        ("smtps", false) => (SmtpSecurity::Tls, 465),
        _ => return None,
    };
    let decoded = |part: &str| percent_decoded(part).filter(|p| !p.is_empty());
    let username = decoded(url.username());
    let password = url.password().and_then(decoded);
    if username.is_some() != password.is_some() || !matches!(url.path(), "" | "/") {
        return None;
    }
    Some(SmtpSettings {
        host,
        port: url.port().unwrap_or(default_port),
        security,
        username,
        password,
    })
}

/// A URL's user or password part, percent-decoded; `None` when it is not UTF-8.
fn percent_decoded(part: &str) -> Option<String> {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

/// `Cúpula <no-reply@host>` for the portal's host (`localhost` when it is an IP address, which
/// is no mail domain).
fn default_mail_from(base_url: &url::Url) -> String {
    let host = match base_url.host() {
        Some(url::Host::Domain(domain)) => domain.to_string(),
        _ => "localhost".to_string(),
    };
    format!("Cúpula <no-reply@{host}>")
}

/// The speech server, when its address is set; the model defaults to `whisper-1`, the name
/// OpenAI-compatible servers answer to.
fn transcription_settings(
    url: Setting,
    api_key: Setting,
    model: Setting,
) -> Result<Option<TranscriptionSettings>, ConfigError> {
    let Some((name, value)) = url.filter(|(_, v)| !v.is_empty()) else {
        return Ok(None);
    };
    let url = url::Url::parse(&value)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or(ConfigError::InvalidTranscriptionUrl { name, value })?;
    Ok(Some(TranscriptionSettings {
        url,
        api_key: api_key.map(|(_, v)| v).filter(|v| !v.is_empty()),
        model: model
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "whisper-1".to_string()),
    }))
}

/// The object storage settings: none without an endpoint and a bucket (files stay in the data
/// directory); either one alone, or a key without its secret, is a mistake worth stopping for.
fn s3_settings(
    endpoint: Setting,
    bucket: Setting,
    region: Setting,
    access_key_id: Setting,
    secret_access_key: Setting,
    prefix: Setting,
) -> Result<Option<S3Settings>, ConfigError> {
    let (endpoint, bucket) = match (endpoint, bucket) {
        (None, None) => return Ok(None),
        (Some((given, _)), None) => {
            return Err(ConfigError::IncompleteS3 {
                given,
                missing: "CUPULA_S3_BUCKET (or s3_bucket)",
            })
        }
        (None, Some((given, _))) => {
            return Err(ConfigError::IncompleteS3 {
                given,
                missing: "CUPULA_S3_ENDPOINT (or s3_endpoint)",
            })
        }
        (Some(endpoint), Some(bucket)) => (endpoint, bucket),
    };
    let (endpoint_name, endpoint_value) = endpoint;
    let endpoint_url = url::Url::parse(&endpoint_value)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or(ConfigError::InvalidS3Endpoint {
            name: endpoint_name,
            value: endpoint_value.clone(),
        })?;
    let (bucket_name, bucket) = bucket;
    // S3's rule for bucket names: 3 to 63 lower-case letters, digits, dots and hyphens.
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !valid_bucket {
        return Err(ConfigError::InvalidS3Bucket {
            name: bucket_name,
            value: bucket,
        });
    }
    let (access_key_id, secret_access_key) = match (access_key_id, secret_access_key) {
        (None, None) => (None, None),
        (Some((given, _)), None) => {
            return Err(ConfigError::IncompleteS3 {
                given,
                missing: "CUPULA_S3_SECRET_ACCESS_KEY (or s3_secret_access_key)",
            })
        }
        (None, Some((given, _))) => {
            return Err(ConfigError::IncompleteS3 {
                given,
                missing: "CUPULA_S3_ACCESS_KEY_ID (or s3_access_key_id)",
            })
        }
        (Some((_, key)), Some((_, secret))) => (Some(key), Some(secret)),
    };
    let prefix = match prefix {
        None => String::new(),
        Some((name, value)) => {
            let trimmed = value.trim_matches('/');
            let valid = trimmed.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            });
            if !valid {
                return Err(ConfigError::InvalidS3Prefix { name, value });
            }
            trimmed.to_string()
        }
    };
    Ok(Some(S3Settings {
        endpoint: endpoint_url,
        bucket,
        region: region
            .map(|(_, v)| v)
            .unwrap_or_else(|| "us-east-1".to_string()),
        access_key_id,
        secret_access_key,
        prefix,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_give_a_local_sqlite_portal() {
        let config = Config::load(None, env_of(&[])).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.database_url, "sqlite://data/cupula.db");
        assert_eq!(config.base_url.as_str(), "http://127.0.0.1:3000/");
        assert_eq!(config.origin(), "http://127.0.0.1:3000");
        assert!(!config.is_https());
        assert_eq!(config.session_idle_timeout, Duration::from_secs(12 * 3600));
        assert_eq!(config.reopen_window, Duration::from_secs(14 * 24 * 3600));
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cupula.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:8080\"\ndata_dir = \"/srv/cupula\"\nbase_url = \"https://soporte.obs.es\"\n",
        )
        .unwrap();
        let config =
            Config::load(Some(&file), env_of(&[("CUPULA_LISTEN", "127.0.0.1:9000")])).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(config.data_dir, PathBuf::from("/srv/cupula"));
        assert_eq!(config.database_url, "sqlite:///srv/cupula/cupula.db");
        assert!(config.is_https());
        assert_eq!(config.origin(), "https://soporte.obs.es");
    }

    #[test]
    fn bad_values_give_one_line_errors_naming_the_setting() {
        let err = Config::load(None, env_of(&[("CUPULA_LISTEN", "localhost")])).unwrap_err();
        assert_eq!(
            err,
            ConfigError::InvalidListen {
                name: "CUPULA_LISTEN",
                value: "localhost".into()
            }
        );
        for (key, value) in [
            ("CUPULA_LISTEN", "localhost"),
            ("CUPULA_DATABASE_URL", "mysql://x"),
            ("CUPULA_BASE_URL", "ftp://x"),
            ("CUPULA_SESSION_IDLE_MINUTES", "-3"),
            ("CUPULA_SESSION_ABSOLUTE_MINUTES", "0"),
            ("CUPULA_REOPEN_DAYS", "two weeks"),
        ] {
            let err = Config::load(None, env_of(&[(key, value)])).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(key), "{message} does not name {key}");
            assert!(!message.contains('\n'), "{message:?} spans lines");
        }
    }

    #[test]
    fn file_problems_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        assert!(matches!(
            Config::load(Some(&missing), env_of(&[])),
            Err(ConfigError::UnreadableFile { .. })
        ));
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let err = Config::load(Some(&file), env_of(&[])).unwrap_err();
        assert!(matches!(err, ConfigError::InvalidFile { .. }), "{err}");
    }

    #[test]
    fn trusted_proxies_come_from_the_environment_or_the_file() {
        let config = Config::load(
            None,
            env_of(&[("CUPULA_TRUSTED_PROXIES", "10.0.0.1, 172.16.0.0/12")]),
        )
        .unwrap();
        assert_eq!(config.trusted_proxies.len(), 2);
        assert!(config.trusted_proxies[1].contains("172.20.1.1".parse().unwrap()));
        assert!(Config::load(None, env_of(&[]))
            .unwrap()
            .trusted_proxies
            .is_empty());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cupula.toml");
        std::fs::write(&file, "trusted_proxies = [\"::1\"]\n").unwrap();
        let config = Config::load(Some(&file), env_of(&[])).unwrap();
        assert!(config.trusted_proxies[0].contains("::1".parse().unwrap()));
        let err =
            Config::load(None, env_of(&[("CUPULA_TRUSTED_PROXIES", "proxy.lan")])).unwrap_err();
        assert!(err.to_string().contains("CUPULA_TRUSTED_PROXIES"), "{err}");
    }

    #[test]
    fn a_secret_key_comes_from_the_environment_or_the_file_and_is_never_echoed() {
        let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let config = Config::load(None, env_of(&[("CUPULA_SECRET_KEY", hex_key)])).unwrap();
        assert_eq!(config.secret_key, SecretKey::parse(hex_key));
        assert!(config.secret_key.is_some());
        assert_eq!(Config::load(None, env_of(&[])).unwrap().secret_key, None);
        assert_eq!(
            Config::load(None, env_of(&[])).unwrap().secret_key_file(),
            PathBuf::from("data/secret.key")
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cupula.toml");
        std::fs::write(&file, format!("secret_key = \"{hex_key}\"\n")).unwrap();
        let config = Config::load(Some(&file), env_of(&[])).unwrap();
        assert_eq!(config.secret_key, SecretKey::parse(hex_key));
        let err =
            Config::load(None, env_of(&[("CUPULA_SECRET_KEY", "hunter2-too-short")])).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("CUPULA_SECRET_KEY"), "{message}");
        assert!(!message.contains("hunter2"), "{message} repeats the secret");
    }

    #[test]
    fn file_limits_come_from_the_environment_or_the_file() {
        const GIB: u64 = 1024 * 1024 * 1024;
        let config = Config::load(None, env_of(&[])).unwrap();
        assert_eq!(config.max_file_bytes, 2 * GIB);
        assert_eq!(config.max_request_files_bytes, 4 * GIB);
        assert_eq!(config.organization_quota_bytes, 20 * GIB);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cupula.toml");
        std::fs::write(
            &file,
            "max_file_bytes = 1000\nmax_request_files_bytes = 3000\norganization_quota_bytes = 9000\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            env_of(&[("CUPULA_ORGANIZATION_QUOTA_BYTES", "5000")]),
        )
        .unwrap();
        assert_eq!(config.max_file_bytes, 1000);
        assert_eq!(config.max_request_files_bytes, 3000);
        assert_eq!(config.organization_quota_bytes, 5000);
        for key in [
            "CUPULA_MAX_FILE_BYTES",
            "CUPULA_MAX_REQUEST_FILES_BYTES",
            "CUPULA_ORGANIZATION_QUOTA_BYTES",
        ] {
            for bad in ["0", "2 GiB", "-1"] {
                let err = Config::load(None, env_of(&[(key, bad)])).unwrap_err();
                assert_eq!(
                    err,
                    ConfigError::InvalidBytes {
                        name: key,
                        value: bad.into()
                    }
                );
            }
        }
    }

    #[test]
    fn voice_limits_and_the_speech_server_come_from_the_environment_or_the_file() {
        let config = Config::load(None, env_of(&[])).unwrap();
        assert_eq!(config.max_voice_duration, Duration::from_secs(300));
        assert_eq!(config.transcription, None);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cupula.toml");
        std::fs::write(
            &file,
            "max_voice_seconds = 120
transcription_url = \"http://10.0.0.5:8000\"\ntranscription_api_key = \"sk-secreta\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), env_of(&[])).unwrap();
        assert_eq!(config.max_voice_duration, Duration::from_secs(120));
        let speech = config.transcription.clone().unwrap();
        assert_eq!(speech.url.as_str(), "http://10.0.0.5:8000/");
        assert_eq!(speech.api_key.as_deref(), Some("sk-secreta"));
        assert_eq!(speech.model, "whisper-1");
        assert!(
            !format!("{config:?}").contains("sk-secreta"),
            "the key is never printed"
        );
        let config = Config::load(
            Some(&file),
            env_of(&[
                ("CUPULA_MAX_VOICE_SECONDS", "60"),
                ("CUPULA_TRANSCRIPTION_MODEL", "whisper-large-v3"),
            ]),
        )
        .unwrap();
        assert_eq!(config.max_voice_duration, Duration::from_secs(60));
        assert_eq!(config.transcription.unwrap().model, "whisper-large-v3");
        let err = Config::load(None, env_of(&[("CUPULA_MAX_VOICE_SECONDS", "5 min")])).unwrap_err();
        assert!(
            err.to_string().contains("CUPULA_MAX_VOICE_SECONDS"),
            "{err}"
        );
        let err =
            Config::load(None, env_of(&[("CUPULA_TRANSCRIPTION_URL", "ftp://voz")])).unwrap_err();
        assert!(
            err.to_string().contains("CUPULA_TRANSCRIPTION_URL"),
            "{err}"
        );
    }

    #[test]
    fn the_built_in_speech_model_is_a_file_or_off() {
        assert_eq!(Config::load(None, env_of(&[])).unwrap().speech_model, None);
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("whisper-base-q8_0.bin");
        std::fs::write(&model, b"ggml").unwrap();
        let model_text = model.display().to_string();
        let config = Config::load(None, env_of(&[("CUPULA_SPEECH_MODEL", &model_text)])).unwrap();
        assert_eq!(config.speech_model.as_deref(), Some(model.as_path()));
        for off in ["off", "OFF"] {
            let config = Config::load(None, env_of(&[("CUPULA_SPEECH_MODEL", off)])).unwrap();
            assert_eq!(config.speech_model, None);
        }
        let file = dir.path().join("cupula.toml");
        std::fs::write(&file, format!("speech_model = {model_text:?}\n")).unwrap();
        let config = Config::load(Some(&file), env_of(&[])).unwrap();
        assert_eq!(config.speech_model.as_deref(), Some(model.as_path()));
        // The environment wins, `off` included.
        let config = Config::load(Some(&file), env_of(&[("CUPULA_SPEECH_MODEL", "off")])).unwrap();
        assert_eq!(config.speech_model, None);
        let missing = dir.path().join("nope.bin").display().to_string();
        let err = Config::load(None, env_of(&[("CUPULA_SPEECH_MODEL", &missing)]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CUPULA_SPEECH_MODEL") && err.contains("nope.bin"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err:?} spans lines");
        std::fs::write(&file, "speech_model = \"/nowhere/model.bin\"\n").unwrap();
        let err = Config::load(Some(&file), env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("speech_model"), "{err}");
    }

    #[test]
    fn the_speech_engine_threads_are_a_whole_number_or_the_cores() {
        assert_eq!(
            Config::load(None, env_of(&[])).unwrap().speech_threads,
            None
        );
        let one = Config::load(None, env_of(&[("CUPULA_SPEECH_THREADS", "1")])).unwrap();
        assert_eq!(one.speech_threads, Some(1));
        for wrong in ["0", "two", "-1"] {
            let err = Config::load(None, env_of(&[("CUPULA_SPEECH_THREADS", wrong)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("CUPULA_SPEECH_THREADS"), "{wrong}: {err}");
        }
    }

    #[test]
    fn object_storage_is_configured_by_endpoint_bucket_and_credentials() {
        assert_eq!(Config::load(None, env_of(&[])).unwrap().s3, None);
        let config = Config::load(
            None,
            env_of(&[
                ("CUPULA_S3_ENDPOINT", "http://127.0.0.1:9000"),
                ("CUPULA_S3_BUCKET", "cupula-files"),
                ("CUPULA_S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("CUPULA_S3_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"),
                ("CUPULA_S3_PREFIX", "/obs/cupula/"),
            ]),
        )
        .unwrap();
        let s3 = config.s3.unwrap();
        assert_eq!(s3.endpoint.as_str(), "http://127.0.0.1:9000/");
        assert_eq!(s3.bucket, "cupula-files");
        assert_eq!(s3.region, "us-east-1");
        assert_eq!(s3.access_key_id.as_deref(), Some("AKIDEXAMPLE"));
        assert_eq!(s3.secret_access_key.as_deref(), Some("wJalrXUtnFEMI"));
        assert_eq!(s3.prefix, "obs/cupula");
        assert!(!format!("{s3:?}").contains("wJalrXUtnFEMI"), "{s3:?}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cupula.toml");
        std::fs::write(
            &file,
            "s3_endpoint = \"https://s3.eu-west-1.amazonaws.com\"\ns3_bucket = \"obs-files\"\ns3_region = \"eu-west-1\"\n",
        )
        .unwrap();
        let s3 = Config::load(Some(&file), env_of(&[("CUPULA_S3_BUCKET", "other-files")]))
            .unwrap()
            .s3
            .unwrap();
        assert_eq!(
            (s3.endpoint.as_str(), s3.bucket.as_str(), s3.region.as_str()),
            (
                "https://s3.eu-west-1.amazonaws.com/",
                "other-files",
                "eu-west-1"
            )
        );
        assert_eq!((s3.access_key_id, s3.prefix.as_str()), (None, ""));

        for (pairs, named) in [
            (
                vec![("CUPULA_S3_ENDPOINT", "http://127.0.0.1:9000")],
                "CUPULA_S3_BUCKET",
            ),
            (
                vec![("CUPULA_S3_BUCKET", "cupula-files")],
                "CUPULA_S3_ENDPOINT",
            ),
            (
                vec![
                    ("CUPULA_S3_ENDPOINT", "s3.amazonaws.com"),
                    ("CUPULA_S3_BUCKET", "cupula-files"),
                ],
                "CUPULA_S3_ENDPOINT",
            ),
            (
                vec![
                    ("CUPULA_S3_ENDPOINT", "http://127.0.0.1:9000"),
                    ("CUPULA_S3_BUCKET", "Mis Archivos"),
                ],
                "CUPULA_S3_BUCKET",
            ),
            (
                vec![
                    ("CUPULA_S3_ENDPOINT", "http://127.0.0.1:9000"),
                    ("CUPULA_S3_BUCKET", "cupula-files"),
                    ("CUPULA_S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ],
                "CUPULA_S3_SECRET_ACCESS_KEY",
            ),
            (
                vec![
                    ("CUPULA_S3_ENDPOINT", "http://127.0.0.1:9000"),
                    ("CUPULA_S3_BUCKET", "cupula-files"),
                    ("CUPULA_S3_PREFIX", "a/../b"),
                ],
                "CUPULA_S3_PREFIX",
            ),
        ] {
            let err = Config::load(None, env_of(&pairs)).unwrap_err().to_string();
            assert!(err.contains(named), "{err} does not name {named}");
            assert!(!err.contains('\n'), "{err:?} spans lines");
        }
    }

    #[test]
    fn postgres_urls_are_accepted() {
        let config = Config::load(
            None,
            env_of(&[("CUPULA_DATABASE_URL", "postgres://cupula@localhost/cupula")]),
        )
        .unwrap();
        assert_eq!(config.database_url, "postgres://cupula@localhost/cupula");
    }
}
