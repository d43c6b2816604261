//! Configuration from the environment.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clinic_adapters::crypto::EnvelopeCipher;

/// A secret that never prints (`Debug` shows `<redacted>`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where the keys that seal health data come from.
#[derive(Clone)]
pub enum KeySource {
    /// `CLINIC_ENCRYPTION_KEYS`: `id:hex` pairs, the first current (production: from a
    /// secret manager).
    Configured(String),
    /// A development key file outside the data directory, created on first start.
    DevFile(PathBuf),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Configured(_) => f.write_str("Configured(<redacted>)"),
            Self::DevFile(p) => f.debug_tuple("DevFile").field(p).finish(),
        }
    }
}

/// What the server needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen (`CLINIC_LISTEN`, default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// The database (`CLINIC_DATABASE_URL`, default `sqlite://clinic.db` in the working
    /// directory; `postgres://…` for PostgreSQL).
    pub database_url: String,
    /// The encryption keys.
    pub keys: KeySource,
    /// The key that signs audit-chain checkpoints (`CLINIC_AUDIT_KEY`, 64 hex digits), or
    /// the development file it is kept in (`audit-key` beside the development key file).
    pub audit_key: KeySource,
    /// How often the background jobs run (`CLINIC_JOB_INTERVAL_SECS`, default 3600).
    pub job_interval: std::time::Duration,
    /// The key access tokens are signed with (`CLINIC_JWT_SECRET`, at least 32
    /// characters), or the development file it is kept in (`jwt-key` beside the development
    /// key file).
    pub jwt_key: KeySource,
    /// Browser origins the API answers cross-origin (`CLINIC_CORS_ORIGINS`, comma
    /// separated, such as `https://app.harbour.example`); none by default.
    pub cors_origins: Vec<String>,
    /// The bearer token a Prometheus scraper sends to `GET /metrics`
    /// (`CLINIC_METRICS_TOKEN`, at least 32 characters).
    pub metrics_token: Option<Secret>,
    /// Whether a caller on this machine reads `GET /metrics` without the token
    /// (`CLINIC_METRICS_LOOPBACK=true`; off by default: a reverse proxy on the same host
    /// makes every request come from loopback, and would publish the metrics).
    pub metrics_loopback: bool,
    /// Payments, email, messages, video and document storage.
    pub providers: crate::providers::ProviderSettings,
}

/// A configuration value that is present but unusable; names the variable, never a secret.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    /// The variable.
    pub key: &'static str,
    /// What is wrong.
    pub problem: String,
}

impl Config {
    /// The default listen address.
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:8080";
    /// The default database: SQLite in the working directory.
    pub const DEFAULT_DATABASE: &'static str = "sqlite://clinic.db";

    /// Reads the configuration through `get` (the process environment in `main`).
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable that cannot be used.
    ///
    /// # Example
    /// ```
    /// use clinic_server_example::Config;
    /// let env = |k: &str| match k {
    ///     "CLINIC_LISTEN" => Some("127.0.0.1:9090".to_owned()),
    ///     "HOME" => Some("/home/clinic".to_owned()),
    ///     _ => None,
    /// };
    /// let c = Config::from_env(env).unwrap();
    /// assert_eq!(c.listen.port(), 9090);
    /// assert_eq!(c.database_url, "sqlite://clinic.db");
    /// let e = Config::from_env(|_| Some("not an address".to_owned())).unwrap_err();
    /// assert_eq!(e.key, "CLINIC_LISTEN");
    /// ```
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let raw = get("CLINIC_LISTEN").unwrap_or_else(|| Self::DEFAULT_LISTEN.to_owned());
        let listen = raw.trim().parse().map_err(|_| ConfigError {
            key: "CLINIC_LISTEN",
            problem: "must be an address and port such as 127.0.0.1:8080".into(),
        })?;
        let database_url = get("CLINIC_DATABASE_URL").unwrap_or_else(|| Self::DEFAULT_DATABASE.to_owned());
        let database_url = database_url.trim().to_owned();
        if !["sqlite:", "postgres:", "postgresql:"]
            .iter()
            .any(|p| database_url.starts_with(p))
        {
            return Err(ConfigError {
                key: "CLINIC_DATABASE_URL",
                problem: "must start with sqlite: or postgres:".into(),
            });
        }
        let keys = match get("CLINIC_ENCRYPTION_KEYS") {
            Some(spec) => {
                EnvelopeCipher::from_config(&spec).map_err(|e| ConfigError {
                    key: "CLINIC_ENCRYPTION_KEYS",
                    problem: e.to_string(),
                })?;
                KeySource::Configured(spec)
            }
            None => {
                let path = get("CLINIC_KEY_FILE")
                    .map(PathBuf::from)
                    .or_else(|| get("HOME").map(|h| PathBuf::from(h).join(".config/clinic-rs/dev-keys")));
                KeySource::DevFile(path.ok_or(ConfigError {
                    key: "CLINIC_ENCRYPTION_KEYS",
                    problem: "is not set and there is no HOME for a development key file".into(),
                })?)
            }
        };
        let audit_key = match get("CLINIC_AUDIT_KEY") {
            Some(hex) => {
                parse_hex_key(hex.trim()).ok_or_else(|| ConfigError {
                    key: "CLINIC_AUDIT_KEY",
                    problem: "must be 64 hexadecimal digits (256 bits)".into(),
                })?;
                KeySource::Configured(hex.trim().to_owned())
            }
            None => match &keys {
                KeySource::DevFile(path) => KeySource::DevFile(path.with_file_name("audit-key")),
                KeySource::Configured(_) => {
                    return Err(ConfigError {
                        key: "CLINIC_AUDIT_KEY",
                        problem: "must be set when CLINIC_ENCRYPTION_KEYS is (64 hexadecimal digits)".into(),
                    });
                }
            },
        };
        let job_interval = match get("CLINIC_JOB_INTERVAL_SECS") {
            None => std::time::Duration::from_secs(3600),
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(secs) if secs >= 1 => std::time::Duration::from_secs(secs),
                _ => {
                    return Err(ConfigError {
                        key: "CLINIC_JOB_INTERVAL_SECS",
                        problem: "must be a whole number of seconds, at least 1".into(),
                    });
                }
            },
        };
        let jwt_key = match get("CLINIC_JWT_SECRET") {
            Some(secret) if secret.trim().len() >= 32 => KeySource::Configured(secret.trim().to_owned()),
            Some(_) => {
                return Err(ConfigError {
                    key: "CLINIC_JWT_SECRET",
                    problem: "must be at least 32 characters of random text".into(),
                });
            }
            None => match &keys {
                KeySource::DevFile(path) => KeySource::DevFile(path.with_file_name("jwt-key")),
                KeySource::Configured(_) => {
                    return Err(ConfigError {
                        key: "CLINIC_JWT_SECRET",
                        problem: "must be set when CLINIC_ENCRYPTION_KEYS is (at least 32 characters)".into(),
                    });
                }
            },
        };
        let mut cors_origins = Vec::new();
        for origin in get("CLINIC_CORS_ORIGINS").unwrap_or_default().split(',').map(str::trim) {
            if origin.is_empty() {
                continue;
            }
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                .unwrap_or("");
            if rest.is_empty() || rest.contains('/') || origin.parse::<axum::http::HeaderValue>().is_err() {
                return Err(ConfigError {
                    key: "CLINIC_CORS_ORIGINS",
                    problem: "must be origins such as https://app.example.com, comma separated, without paths".into(),
                });
            }
            cors_origins.push(origin.to_owned());
        }
        let metrics_token = match get("CLINIC_METRICS_TOKEN").map(|t| t.trim().to_owned()) {
            None => None,
            Some(t) if t.is_empty() => None,
            Some(t) if t.len() < 32 || t.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                return Err(ConfigError {
                    key: "CLINIC_METRICS_TOKEN",
                    problem: "must be at least 32 characters, without spaces".into(),
                });
            }
            Some(t) => Some(Secret(t)),
        };
        let metrics_loopback = match get("CLINIC_METRICS_LOOPBACK").map(|v| v.trim().to_ascii_lowercase()) {
            None => false,
            Some(v) if v.is_empty() || v == "false" => false,
            Some(v) if v == "true" => true,
            Some(_) => {
                return Err(ConfigError {
                    key: "CLINIC_METRICS_LOOPBACK",
                    problem: "must be true or false".into(),
                });
            }
        };
        let providers = crate::providers::ProviderSettings::from_env(&get)?;
        Ok(Self {
            metrics_token,
            metrics_loopback,
            listen,
            database_url,
            keys,
            audit_key,
            job_interval,
            jwt_key,
            cors_origins,
            providers,
        })
    }

    /// The audit checkpoint key: configured, or the development file (created with a fresh
    /// random key, readable by its owner only, if missing).
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable whose key or key file cannot be used.
    pub fn audit_key(&self) -> Result<Vec<u8>, ConfigError> {
        match &self.audit_key {
            KeySource::Configured(hex) => parse_hex_key(hex).ok_or_else(|| ConfigError {
                key: "CLINIC_AUDIT_KEY",
                problem: "must be 64 hexadecimal digits (256 bits)".into(),
            }),
            KeySource::DevFile(path) => {
                let file_error = |problem: String| ConfigError {
                    key: "CLINIC_KEY_FILE",
                    problem,
                };
                if !path.exists() {
                    let spec = EnvelopeCipher::generate_key("audit");
                    let hex = spec.split_once(':').map_or("", |(_, h)| h).to_owned();
                    write_private(path, &hex)
                        .map_err(|e| file_error(format!("cannot create {}: {e}", path.display())))?;
                }
                let hex = std::fs::read_to_string(path)
                    .map_err(|e| file_error(format!("cannot read {}: {e}", path.display())))?;
                parse_hex_key(hex.trim()).ok_or_else(|| file_error(format!("{} holds no usable key", path.display())))
            }
        }
    }

    /// The access-token signing secret: configured, or the development file (created with
    /// a fresh random secret, readable by its owner only, if missing).
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable whose secret or file cannot be used.
    pub fn jwt_secret(&self) -> Result<Vec<u8>, ConfigError> {
        match &self.jwt_key {
            KeySource::Configured(secret) => Ok(secret.as_bytes().to_vec()),
            KeySource::DevFile(path) => {
                let file_error = |problem: String| ConfigError {
                    key: "CLINIC_KEY_FILE",
                    problem,
                };
                if !path.exists() {
                    let spec = EnvelopeCipher::generate_key("jwt");
                    let hex = spec.split_once(':').map_or("", |(_, h)| h).to_owned();
                    write_private(path, &hex)
                        .map_err(|e| file_error(format!("cannot create {}: {e}", path.display())))?;
                }
                let secret = std::fs::read_to_string(path)
                    .map_err(|e| file_error(format!("cannot read {}: {e}", path.display())))?;
                let secret = secret.trim();
                if secret.len() < 32 {
                    return Err(file_error(format!("{} holds no usable secret", path.display())));
                }
                Ok(secret.as_bytes().to_vec())
            }
        }
    }

    /// The cipher for health data: the configured keys, or the development key file
    /// (created with a fresh key, readable by its owner only, if missing).
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable whose keys or key file cannot be used.
    pub fn cipher(&self) -> Result<EnvelopeCipher, ConfigError> {
        match &self.keys {
            KeySource::Configured(spec) => EnvelopeCipher::from_config(spec).map_err(|e| ConfigError {
                key: "CLINIC_ENCRYPTION_KEYS",
                problem: e.to_string(),
            }),
            KeySource::DevFile(path) => {
                let file_error = |problem: String| ConfigError {
                    key: "CLINIC_KEY_FILE",
                    problem,
                };
                if !path.exists() {
                    create_key_file(path).map_err(|e| file_error(format!("cannot create {}: {e}", path.display())))?;
                }
                let spec = std::fs::read_to_string(path)
                    .map_err(|e| file_error(format!("cannot read {}: {e}", path.display())))?;
                EnvelopeCipher::from_config(spec.trim())
                    .map_err(|e| file_error(format!("{} holds no usable key: {e}", path.display())))
            }
        }
    }
}

/// The settings a configuration file may hold, and the environment variable each one
/// stands for (the environment wins when both are set).
pub const FILE_KEYS: &[(&str, &str)] = &[
    ("listen", "CLINIC_LISTEN"),
    ("database_url", "CLINIC_DATABASE_URL"),
    ("encryption_keys", "CLINIC_ENCRYPTION_KEYS"),
    ("audit_key", "CLINIC_AUDIT_KEY"),
    ("key_file", "CLINIC_KEY_FILE"),
    ("job_interval_secs", "CLINIC_JOB_INTERVAL_SECS"),
    ("jwt_secret", "CLINIC_JWT_SECRET"),
    ("admin_email", "CLINIC_ADMIN_EMAIL"),
    ("cors_origins", "CLINIC_CORS_ORIGINS"),
    ("metrics_token", "CLINIC_METRICS_TOKEN"),
    ("metrics_loopback", "CLINIC_METRICS_LOOPBACK"),
];

impl Config {
    /// Reads the TOML file at `path` (if any), overlays the environment read through `env`,
    /// and validates the result as [`from_env`](Self::from_env) does.
    ///
    /// # Errors
    /// [`ConfigError`] for an unreadable file, bad TOML (by line, never quoting the file,
    /// which may hold keys), a setting the file may not hold, or any invalid value.
    ///
    /// # Example
    /// ```
    /// use clinic_server_example::Config;
    /// let dir = std::env::temp_dir().join(format!("clinic-doc-{}", uuid::Uuid::now_v7()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let file = dir.join("clinic.toml");
    /// std::fs::write(&file, "listen = \"127.0.0.1:9000\"\njob_interval_secs = 60\n").unwrap();
    /// let env = |k: &str| (k == "HOME").then(|| "/home/clinic".to_owned());
    /// let c = Config::load(Some(&file), env).unwrap();
    /// assert_eq!((c.listen.port(), c.job_interval.as_secs()), (9000, 60));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn load(path: Option<&std::path::Path>, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file_error = |problem: String| ConfigError {
            key: "CLINIC_CONFIG",
            problem,
        };
        let mut from_file: std::collections::HashMap<&'static str, String> = std::collections::HashMap::new();
        if let Some(path) = path {
            let text = std::fs::read_to_string(path)
                .map_err(|e| file_error(format!("cannot read {}: {e}", path.display())))?;
            let table: toml::Table = toml::from_str(&text).map_err(|e| {
                let line = e
                    .span()
                    .map_or(0, |s| text[..s.start.min(text.len())].lines().count().max(1));
                file_error(format!(
                    "{} is not valid TOML (line {line}): {}",
                    path.display(),
                    e.message()
                ))
            })?;
            for (name, value) in table {
                let Some((_, var)) = FILE_KEYS
                    .iter()
                    .chain(crate::providers::PROVIDER_KEYS)
                    .find(|(k, _)| *k == name)
                else {
                    return Err(file_error(format!(
                        "{} has an unknown setting {name:?}",
                        path.display()
                    )));
                };
                let value = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    _ => {
                        return Err(file_error(format!(
                            "{name} in {} must be a string or a number",
                            path.display()
                        )));
                    }
                };
                from_file.insert(var, value);
            }
        }
        Self::from_env(|k| env(k).or_else(|| from_file.get(k).cloned()))
    }
}

/// A database URL fit for a log line: any password replaced by `***`.
#[must_use]
pub fn redacted_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme + 3 => {
            let user = url[scheme + 3..at].split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn create_key_file(path: &std::path::Path) -> std::io::Result<()> {
    let id = format!("dev-{}", chrono::Utc::now().format("%Y%m%d"));
    write_private(path, &EnvelopeCipher::generate_key(&id))
}

/// Creates `path` (never overwriting) readable by its owner only, holding `line`.
fn write_private(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    writeln!(options.open(path)?, "{line}")
}

/// 32 bytes from 64 hexadecimal digits.
fn parse_hex_key(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinic_core::ports::FieldCipher as _;

    /// An environment with `HOME` and the given variable.
    fn env(key: &'static str, value: &str) -> impl Fn(&str) -> Option<String> {
        let value = value.to_owned();
        move |k| match k {
            "HOME" => Some("/home/clinic".to_owned()),
            _ if k == key => Some(value.clone()),
            _ => None,
        }
    }

    #[test]
    fn defaults_and_errors_name_the_key() {
        let c = Config::from_env(env("NOTHING", "")).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://clinic.db");
        assert!(matches!(&c.keys, KeySource::DevFile(p) if p.ends_with(".config/clinic-rs/dev-keys")));
        let c = Config::from_env(env("CLINIC_LISTEN", "0.0.0.0:9000")).unwrap();
        assert_eq!(c.listen.port(), 9000);
        let e = Config::from_env(env("CLINIC_LISTEN", "localhost")).unwrap_err();
        assert_eq!(e.key, "CLINIC_LISTEN");
        assert!(
            Config::from_env(|_| None).is_err(),
            "no keys and no HOME for a key file"
        );
        let e = Config::from_env(env("CLINIC_DATABASE_URL", "mysql://x")).unwrap_err();
        assert_eq!(e.key, "CLINIC_DATABASE_URL");
    }

    #[test]
    fn the_audit_key_and_job_interval() {
        let keys = EnvelopeCipher::generate_key("k1");
        let only_keys = |k: &str| (k == "CLINIC_ENCRYPTION_KEYS").then(|| keys.clone());
        let e = Config::from_env(only_keys).unwrap_err();
        assert_eq!(e.key, "CLINIC_AUDIT_KEY", "production keys need a production audit key");
        let audit = "0f".repeat(32);
        let jwt = std::cell::RefCell::new(None::<String>);
        let all = |k: &str| match k {
            "CLINIC_ENCRYPTION_KEYS" => Some(keys.clone()),
            "CLINIC_AUDIT_KEY" => Some(audit.clone()),
            "CLINIC_JWT_SECRET" => jwt.borrow().clone(),
            _ => None,
        };
        assert_eq!(
            Config::from_env(all).unwrap_err().key,
            "CLINIC_JWT_SECRET",
            "needed in production"
        );
        *jwt.borrow_mut() = Some("too short".into());
        assert_eq!(Config::from_env(all).unwrap_err().key, "CLINIC_JWT_SECRET");
        *jwt.borrow_mut() = Some("s3cr3t-".repeat(6));
        let cors = |v: &'static str| Config::from_env(env("CLINIC_CORS_ORIGINS", v));
        assert_eq!(
            cors("https://app.example.com, http://localhost:5173")
                .unwrap()
                .cors_origins,
            vec!["https://app.example.com", "http://localhost:5173"]
        );
        for bad in ["app.example.com", "https://app.example.com/path", "ftp://x"] {
            assert_eq!(cors(bad).unwrap_err().key, "CLINIC_CORS_ORIGINS", "{bad}");
        }
        let metrics = |v: &'static str| Config::from_env(env("CLINIC_METRICS_TOKEN", v));
        assert_eq!(metrics("short").unwrap_err().key, "CLINIC_METRICS_TOKEN");
        assert_eq!(
            metrics("with a space and long enough to pass the length")
                .unwrap_err()
                .key,
            "CLINIC_METRICS_TOKEN"
        );
        let scraped = metrics("prometheus-scraper-token-0123456789").unwrap();
        assert_eq!(
            scraped.metrics_token,
            Some(Secret("prometheus-scraper-token-0123456789".into()))
        );
        assert!(!format!("{scraped:?}").contains("scraper"), "the token never prints");
        assert!(metrics("").unwrap().metrics_token.is_none());
        let loopback = |v: &'static str| Config::from_env(env("CLINIC_METRICS_LOOPBACK", v));
        assert!(!metrics("").unwrap().metrics_loopback, "off unless configured");
        assert!(loopback("true").unwrap().metrics_loopback);
        assert!(!loopback("false").unwrap().metrics_loopback);
        assert_eq!(loopback("yes").unwrap_err().key, "CLINIC_METRICS_LOOPBACK");
        let c = Config::from_env(all).unwrap();
        assert_eq!(c.audit_key().unwrap(), vec![0x0f; 32]);
        assert_eq!(c.jwt_secret().unwrap(), "s3cr3t-".repeat(6).into_bytes());
        assert!(!format!("{c:?}").contains("0f0f"));
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let e = Config::from_env(env("CLINIC_AUDIT_KEY", "xyz")).unwrap_err();
        assert_eq!(e.key, "CLINIC_AUDIT_KEY");
        assert_eq!(
            Config::from_env(env("NOTHING", "")).unwrap().job_interval.as_secs(),
            3600
        );
        assert_eq!(
            Config::from_env(env("CLINIC_JOB_INTERVAL_SECS", "60"))
                .unwrap()
                .job_interval
                .as_secs(),
            60
        );
        for bad in ["0", "-5", "soon"] {
            assert_eq!(
                Config::from_env(env("CLINIC_JOB_INTERVAL_SECS", bad)).unwrap_err().key,
                "CLINIC_JOB_INTERVAL_SECS"
            );
        }
    }

    #[test]
    fn a_file_is_overlaid_by_the_environment_and_checked() {
        let dir = std::env::temp_dir().join(format!("clinic-conf-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("clinic.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9100\"\ndatabase_url = \"sqlite://file.db\"\njob_interval_secs = 30\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), env("CLINIC_LISTEN", "127.0.0.1:9200")).unwrap();
        assert_eq!(c.listen.port(), 9200, "the environment wins");
        assert_eq!(c.database_url, "sqlite://file.db");
        assert_eq!(c.job_interval.as_secs(), 30);

        std::fs::write(&file, "listen = \"127.0.0.1:9100\"\npasword = \"x\"\n").unwrap();
        let e = Config::load(Some(&file), env("NOTHING", "")).unwrap_err();
        assert_eq!(e.key, "CLINIC_CONFIG");
        assert!(e.problem.contains("unknown setting \"pasword\""), "{e}");

        let secret = "ab".repeat(32);
        std::fs::write(&file, format!("audit_key = \"{secret}\"\nlisten = = 3\n")).unwrap();
        let e = Config::load(Some(&file), env("NOTHING", "")).unwrap_err();
        assert!(e.problem.contains("line 2"), "{e}");
        assert!(!e.to_string().contains(&secret), "never quotes the file: {e}");

        std::fs::write(&file, "listen = [1, 2]\n").unwrap();
        assert!(Config::load(Some(&file), env("NOTHING", "")).is_err());
        let e = Config::load(Some(&dir.join("missing.toml")), env("NOTHING", "")).unwrap_err();
        assert_eq!(e.key, "CLINIC_CONFIG");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(
            redacted_url("postgres://clinic:s3cret@db:5432/clinic"),
            "postgres://clinic:***@db:5432/clinic"
        );
        assert_eq!(redacted_url("sqlite://clinic.db"), "sqlite://clinic.db");
    }

    #[test]
    fn bad_keys_are_named_never_printed() {
        let secret = format!("k1:{}", "ab".repeat(31));
        let e = Config::from_env(|k| (k == "CLINIC_ENCRYPTION_KEYS").then(|| secret.clone())).unwrap_err();
        assert_eq!(e.key, "CLINIC_ENCRYPTION_KEYS");
        assert!(!e.to_string().contains("abab"), "{e}");
        let good = EnvelopeCipher::generate_key("k1");
        let audit = "01".repeat(32);
        let c = Config::from_env(|k| match k {
            "CLINIC_ENCRYPTION_KEYS" => Some(good.clone()),
            "CLINIC_AUDIT_KEY" => Some(audit.clone()),
            "CLINIC_JWT_SECRET" => Some("j".repeat(40)),
            _ => None,
        })
        .unwrap();
        assert!(!format!("{c:?}").contains(&good[3..]));
        assert_eq!(c.cipher().unwrap().current_key_id(), "k1");
    }

    #[test]
    fn the_development_key_file_is_created_once_and_private() {
        let dir = std::env::temp_dir().join(format!("clinic-keys-{}", uuid::Uuid::now_v7()));
        let file = dir.join("nested/dev-keys");
        let path = file.to_string_lossy().into_owned();
        let c = Config::from_env(|k| (k == "CLINIC_KEY_FILE").then(|| path.clone())).unwrap();
        let first = c.cipher().unwrap();
        let second = c.cipher().unwrap();
        assert_eq!(first.current_key_id(), second.current_key_id());
        let audit = c.audit_key().unwrap();
        assert_eq!(audit.len(), 32);
        assert_eq!(c.audit_key().unwrap(), audit, "kept, not regenerated");
        assert!(dir.join("nested/audit-key").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
