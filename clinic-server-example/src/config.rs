//! Configuration from the environment.

use std::net::SocketAddr;

/// What the server needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen (`CLINIC_LISTEN`, default `127.0.0.1:8080`).
    pub listen: SocketAddr,
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

    /// Reads the configuration through `get` (the process environment in `main`).
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable that cannot be used.
    ///
    /// # Example
    /// ```
    /// use clinic_server_example::Config;
    /// let c = Config::from_env(|k| (k == "CLINIC_LISTEN").then(|| "127.0.0.1:9090".to_owned())).unwrap();
    /// assert_eq!(c.listen.port(), 9090);
    /// let e = Config::from_env(|_| Some("not an address".to_owned())).unwrap_err();
    /// assert_eq!(e.key, "CLINIC_LISTEN");
    /// ```
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let raw = get("CLINIC_LISTEN").unwrap_or_else(|| Self::DEFAULT_LISTEN.to_owned());
        let listen = raw.trim().parse().map_err(|_| ConfigError {
            key: "CLINIC_LISTEN",
            problem: "must be an address and port such as 127.0.0.1:8080".into(),
        })?;
        Ok(Self { listen })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors_name_the_key() {
        assert_eq!(Config::from_env(|_| None).unwrap().listen.to_string(), "127.0.0.1:8080");
        let c = Config::from_env(|_| Some("0.0.0.0:9000".into())).unwrap();
        assert_eq!(c.listen.port(), 9000);
        let e = Config::from_env(|_| Some("localhost".into())).unwrap_err();
        assert_eq!(e.key, "CLINIC_LISTEN");
    }
}
