//! The outside services the server talks to — payments, email, SMS and WhatsApp, video,
//! documents — chosen from configuration. A service with no provider configured falls back
//! to a console adapter that sends nothing, and start-up says so loudly: the console
//! adapters are for development, never for a clinic's patients.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use clinic_adapters::console::{ConsoleEmail, ConsoleMessages, ConsolePayments, ConsoleVideo};
use clinic_adapters::documents::{EncryptedDocuments, S3Config};
use clinic_adapters::pdf::PdfRenderer;
use clinic_adapters::sendgrid::{SendGrid, SendGridConfig};
use clinic_adapters::smtp::{Smtp, SmtpConfig, SmtpSecurity};
use clinic_adapters::stripe::{Stripe, StripeConfig};
use clinic_adapters::twilio::{Twilio, TwilioConfig};
use clinic_core::people::{Email, Phone};
use clinic_core::ports::{
    DocumentRenderer, DocumentStore, EmailSender, FieldCipher, MessageSender, PaymentGateway, VideoProvider,
};
use secrecy::SecretString;

use crate::config::ConfigError;

/// Provider settings, read from `CLINIC_…` variables (or the configuration file).
#[derive(Clone, Default)]
pub struct ProviderSettings {
    /// The server's public base URL (`CLINIC_PUBLIC_URL`), for provider callbacks.
    pub public_url: Option<String>,
    stripe: Option<(SecretString, Vec<SecretString>)>,
    email_from: Option<(Email, String)>,
    sendgrid: Option<SecretString>,
    smtp: Option<SmtpSettings>,
    twilio: Option<TwilioSettings>,
    /// Where documents are kept on disk when no bucket is configured
    /// (`CLINIC_DOCUMENTS_DIR`, default `documents` in the working directory).
    pub documents_dir: PathBuf,
    s3: Option<S3Settings>,
    whatsapp_templates: std::collections::BTreeMap<clinic_core::notify::Occasion, String>,
}

#[derive(Clone)]
struct SmtpSettings {
    host: String,
    port: Option<u16>,
    security: SmtpSecurity,
    username: Option<String>,
    password: Option<SecretString>,
}

#[derive(Clone)]
struct TwilioSettings {
    account_sid: String,
    auth_token: SecretString,
    api_key_sid: String,
    api_key_secret: SecretString,
    sms_from: Option<Phone>,
    whatsapp_from: Option<Phone>,
    messaging_service_sid: Option<String>,
}

#[derive(Clone)]
struct S3Settings {
    bucket: String,
    region: String,
    endpoint: Option<String>,
    access_key_id: String,
    secret_access_key: SecretString,
}

impl fmt::Debug for ProviderSettings {
    /// Names which providers are configured; never a credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("public_url", &self.public_url)
            .field("stripe", &self.stripe.is_some())
            .field("sendgrid", &self.sendgrid.is_some())
            .field("smtp", &self.smtp.as_ref().map(|s| &s.host))
            .field("twilio", &self.twilio.is_some())
            .field("documents_dir", &self.documents_dir)
            .field("s3", &self.s3.as_ref().map(|s| &s.bucket))
            .finish()
    }
}

/// The provider variables, for the configuration file's key list.
pub const PROVIDER_KEYS: &[(&str, &str)] = &[
    ("public_url", "CLINIC_PUBLIC_URL"),
    ("stripe_secret_key", "CLINIC_STRIPE_SECRET_KEY"),
    ("stripe_webhook_secrets", "CLINIC_STRIPE_WEBHOOK_SECRETS"),
    ("email_from", "CLINIC_EMAIL_FROM"),
    ("email_from_name", "CLINIC_EMAIL_FROM_NAME"),
    ("sendgrid_api_key", "CLINIC_SENDGRID_API_KEY"),
    ("smtp_host", "CLINIC_SMTP_HOST"),
    ("smtp_port", "CLINIC_SMTP_PORT"),
    ("smtp_security", "CLINIC_SMTP_SECURITY"),
    ("smtp_username", "CLINIC_SMTP_USERNAME"),
    ("smtp_password", "CLINIC_SMTP_PASSWORD"),
    ("twilio_account_sid", "CLINIC_TWILIO_ACCOUNT_SID"),
    ("twilio_auth_token", "CLINIC_TWILIO_AUTH_TOKEN"),
    ("twilio_api_key_sid", "CLINIC_TWILIO_API_KEY_SID"),
    ("twilio_api_key_secret", "CLINIC_TWILIO_API_KEY_SECRET"),
    ("twilio_sms_from", "CLINIC_TWILIO_SMS_FROM"),
    ("twilio_whatsapp_from", "CLINIC_TWILIO_WHATSAPP_FROM"),
    ("twilio_messaging_service_sid", "CLINIC_TWILIO_MESSAGING_SERVICE_SID"),
    ("whatsapp_templates", "CLINIC_WHATSAPP_TEMPLATES"),
    ("documents_dir", "CLINIC_DOCUMENTS_DIR"),
    ("s3_bucket", "CLINIC_S3_BUCKET"),
    ("s3_region", "CLINIC_S3_REGION"),
    ("s3_endpoint", "CLINIC_S3_ENDPOINT"),
    ("s3_access_key_id", "CLINIC_S3_ACCESS_KEY_ID"),
    ("s3_secret_access_key", "CLINIC_S3_SECRET_ACCESS_KEY"),
];

fn err(key: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key,
        problem: problem.into(),
    }
}

/// Reads a group of variables that go together: all or none.
fn group<const N: usize>(
    get: &impl Fn(&str) -> Option<String>,
    keys: [&'static str; N],
) -> Result<Option<[String; N]>, ConfigError> {
    let values: Vec<Option<String>> = keys
        .iter()
        .map(|k| get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
        .collect();
    let set = values.iter().filter(|v| v.is_some()).count();
    if set == 0 {
        return Ok(None);
    }
    if let Some(missing) = keys.iter().zip(&values).find(|(_, v)| v.is_none()) {
        let others: Vec<&str> = keys.iter().copied().filter(|k| k != missing.0).collect();
        return Err(err(
            missing.0,
            format!("must be set together with {}", others.join(", ")),
        ));
    }
    let values: Vec<String> = values.into_iter().flatten().collect();
    Ok(values.try_into().ok())
}

fn phone(get: &impl Fn(&str) -> Option<String>, key: &'static str) -> Result<Option<Phone>, ConfigError> {
    get(key)
        .map(|v| {
            Phone::parse(v.trim()).map_err(|_| err(key, "must be a phone number in E.164 form such as +61480000000"))
        })
        .transpose()
}

fn url(get: &impl Fn(&str) -> Option<String>, key: &'static str) -> Result<Option<String>, ConfigError> {
    get(key)
        .map(|v| {
            let v = v.trim().trim_end_matches('/').to_owned();
            if v.starts_with("https://") || v.starts_with("http://") {
                Ok(v)
            } else {
                Err(err(key, "must be an http:// or https:// URL"))
            }
        })
        .transpose()
}

impl ProviderSettings {
    /// Reads the provider settings through `get`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first variable that is malformed, or missing from a group
    /// that must be set together (a Twilio account SID without its auth token, say).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let stripe = match get("CLINIC_STRIPE_SECRET_KEY") {
            None => None,
            Some(key) => {
                let key = key.trim().to_owned();
                if !(key.starts_with("sk_") || key.starts_with("rk_")) {
                    return Err(err(
                        "CLINIC_STRIPE_SECRET_KEY",
                        "must be a Stripe secret key (sk_… or rk_…)",
                    ));
                }
                let secrets: Vec<SecretString> = get("CLINIC_STRIPE_WEBHOOK_SECRETS")
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(SecretString::from)
                    .collect();
                if secrets.is_empty() {
                    return Err(err(
                        "CLINIC_STRIPE_WEBHOOK_SECRETS",
                        "must hold the webhook signing secret (whsec_…) when CLINIC_STRIPE_SECRET_KEY is set",
                    ));
                }
                Some((SecretString::from(key), secrets))
            }
        };
        let email_from = match get("CLINIC_EMAIL_FROM") {
            None => None,
            Some(a) => Some((
                Email::parse(a.trim()).map_err(|_| err("CLINIC_EMAIL_FROM", "must be an email address"))?,
                get("CLINIC_EMAIL_FROM_NAME").unwrap_or_default().trim().to_owned(),
            )),
        };
        let sendgrid = get("CLINIC_SENDGRID_API_KEY").map(|k| SecretString::from(k.trim().to_owned()));
        let smtp = match get("CLINIC_SMTP_HOST") {
            None => None,
            Some(host) => Some(SmtpSettings {
                host: host.trim().to_owned(),
                port: get("CLINIC_SMTP_PORT")
                    .map(|p| {
                        p.trim()
                            .parse::<u16>()
                            .map_err(|_| err("CLINIC_SMTP_PORT", "must be a port number"))
                    })
                    .transpose()?,
                security: match get("CLINIC_SMTP_SECURITY").as_deref().map(str::trim) {
                    None | Some("starttls") => SmtpSecurity::StartTls,
                    Some("tls") => SmtpSecurity::Tls,
                    Some("plain") => SmtpSecurity::Plain,
                    Some(_) => return Err(err("CLINIC_SMTP_SECURITY", "must be starttls, tls or plain")),
                },
                username: get("CLINIC_SMTP_USERNAME").map(|u| u.trim().to_owned()),
                password: get("CLINIC_SMTP_PASSWORD").map(SecretString::from),
            }),
        };
        if sendgrid.is_some() && smtp.is_some() {
            return Err(err(
                "CLINIC_SMTP_HOST",
                "cannot be set with CLINIC_SENDGRID_API_KEY: choose one email provider",
            ));
        }
        if (sendgrid.is_some() || smtp.is_some()) && email_from.is_none() {
            return Err(err(
                "CLINIC_EMAIL_FROM",
                "must be set when an email provider is configured",
            ));
        }
        let twilio = match group(
            &get,
            [
                "CLINIC_TWILIO_ACCOUNT_SID",
                "CLINIC_TWILIO_AUTH_TOKEN",
                "CLINIC_TWILIO_API_KEY_SID",
                "CLINIC_TWILIO_API_KEY_SECRET",
            ],
        )? {
            None => None,
            Some([account_sid, auth_token, api_key_sid, api_key_secret]) => Some(TwilioSettings {
                account_sid,
                auth_token: SecretString::from(auth_token),
                api_key_sid,
                api_key_secret: SecretString::from(api_key_secret),
                sms_from: phone(&get, "CLINIC_TWILIO_SMS_FROM")?,
                whatsapp_from: phone(&get, "CLINIC_TWILIO_WHATSAPP_FROM")?,
                messaging_service_sid: get("CLINIC_TWILIO_MESSAGING_SERVICE_SID").map(|s| s.trim().to_owned()),
            }),
        };
        let s3 = match group(
            &get,
            [
                "CLINIC_S3_BUCKET",
                "CLINIC_S3_REGION",
                "CLINIC_S3_ACCESS_KEY_ID",
                "CLINIC_S3_SECRET_ACCESS_KEY",
            ],
        )? {
            None => None,
            Some([bucket, region, access_key_id, secret]) => Some(S3Settings {
                bucket,
                region,
                endpoint: url(&get, "CLINIC_S3_ENDPOINT")?,
                access_key_id,
                secret_access_key: SecretString::from(secret),
            }),
        };
        let whatsapp_templates = match get("CLINIC_WHATSAPP_TEMPLATES") {
            None => std::collections::BTreeMap::new(),
            Some(spec) => whatsapp_templates(&spec)?,
        };
        Ok(Self {
            whatsapp_templates,
            public_url: url(&get, "CLINIC_PUBLIC_URL")?,
            stripe,
            email_from,
            sendgrid,
            smtp,
            twilio,
            documents_dir: get("CLINIC_DOCUMENTS_DIR").map_or_else(|| PathBuf::from("documents"), PathBuf::from),
            s3,
        })
    }
}

/// Parses `occasion=template id` pairs separated by commas, e.g.
/// `appointment_reminder=HX0123…,appointment_confirmation=HX4567…`.
fn whatsapp_templates(
    spec: &str,
) -> Result<std::collections::BTreeMap<clinic_core::notify::Occasion, String>, ConfigError> {
    use clinic_core::notify::Occasion;
    let key = "CLINIC_WHATSAPP_TEMPLATES";
    let mut out = std::collections::BTreeMap::new();
    for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, id) = pair
            .split_once('=')
            .ok_or_else(|| err(key, "must be occasion=template-id pairs separated by commas"))?;
        let occasion = Occasion::ALL
            .into_iter()
            .find(|o| o.code() == name.trim())
            .ok_or_else(|| err(key, format!("names an unknown occasion {:?}", name.trim())))?;
        let id = id.trim();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(err(key, "template ids are letters and digits (HX…)"));
        }
        out.insert(occasion, id.to_owned());
    }
    Ok(out)
}

/// The adapters behind each outside service.
#[derive(Clone)]
pub struct Integrations {
    /// Card payments.
    pub payments: Arc<dyn PaymentGateway>,
    /// Email.
    pub email: Arc<dyn EmailSender>,
    /// SMS and WhatsApp.
    pub messages: Arc<dyn MessageSender>,
    /// Telehealth video.
    pub video: Arc<dyn VideoProvider>,
    /// Uploaded and generated files.
    pub documents: Arc<dyn DocumentStore>,
    /// PDF rendering.
    pub renderer: Arc<dyn DocumentRenderer>,
    /// The server's public URL, for provider callbacks.
    pub public_url: Option<String>,
    /// Approved WhatsApp templates by occasion (`CLINIC_WHATSAPP_TEMPLATES`).
    pub whatsapp_templates: std::collections::BTreeMap<clinic_core::notify::Occasion, String>,
    /// The services running on console adapters (nothing is sent for them).
    pub console: Vec<&'static str>,
}

impl fmt::Debug for Integrations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Integrations")
            .field("console", &self.console)
            .finish_non_exhaustive()
    }
}

fn provider_error(key: &'static str) -> impl FnOnce(clinic_core::ports::PortError) -> ConfigError {
    move |e| err(key, e.to_string())
}

impl Integrations {
    /// Builds the adapters `settings` name, and console adapters for the rest (listed in
    /// [`Integrations::console`]).
    ///
    /// # Errors
    /// [`ConfigError`] when a configured provider's settings are refused by its adapter.
    pub fn build(settings: &ProviderSettings, cipher: Arc<dyn FieldCipher>) -> Result<Self, ConfigError> {
        let mut console = Vec::new();
        let payments: Arc<dyn PaymentGateway> = match &settings.stripe {
            Some((key, secrets)) => Arc::new(
                Stripe::new(StripeConfig::new(key.clone(), secrets.clone()))
                    .map_err(provider_error("CLINIC_STRIPE_SECRET_KEY"))?,
            ),
            None => {
                console.push("payments");
                Arc::new(ConsolePayments::new(&console_secret()))
            }
        };
        let email: Arc<dyn EmailSender> = match (&settings.sendgrid, &settings.smtp, &settings.email_from) {
            (Some(key), _, Some((from, name))) => Arc::new(
                SendGrid::new(SendGridConfig::new(key.clone(), from.clone(), name))
                    .map_err(provider_error("CLINIC_SENDGRID_API_KEY"))?,
            ),
            (_, Some(s), Some((from, name))) => {
                let mut c = SmtpConfig::new(&s.host, from.clone(), name);
                c.port = s.port;
                c.security = s.security;
                c.username.clone_from(&s.username);
                c.password.clone_from(&s.password);
                Arc::new(Smtp::new(&c).map_err(provider_error("CLINIC_SMTP_HOST"))?)
            }
            _ => {
                console.push("email");
                Arc::new(ConsoleEmail::new())
            }
        };
        let (messages, video): (Arc<dyn MessageSender>, Arc<dyn VideoProvider>) = match &settings.twilio {
            Some(t) => {
                let mut c = TwilioConfig::new(
                    &t.account_sid,
                    t.auth_token.clone(),
                    &t.api_key_sid,
                    t.api_key_secret.clone(),
                );
                c.sms_from.clone_from(&t.sms_from);
                c.whatsapp_from.clone_from(&t.whatsapp_from);
                c.messaging_service_sid.clone_from(&t.messaging_service_sid);
                c.status_callback = settings
                    .public_url
                    .as_ref()
                    .map(|u| format!("{u}/api/v1/hooks/twilio/status"));
                let twilio = Arc::new(Twilio::new(c).map_err(provider_error("CLINIC_TWILIO_ACCOUNT_SID"))?);
                (twilio.clone(), twilio)
            }
            None => {
                console.push("sms and whatsapp");
                console.push("video");
                (Arc::new(ConsoleMessages::new()), Arc::new(ConsoleVideo::new()))
            }
        };
        let documents: Arc<dyn DocumentStore> = match &settings.s3 {
            Some(s) => Arc::new(
                EncryptedDocuments::s3(
                    &S3Config {
                        bucket: s.bucket.clone(),
                        region: s.region.clone(),
                        endpoint: s.endpoint.clone(),
                        access_key_id: s.access_key_id.clone(),
                        secret_access_key: s.secret_access_key.clone(),
                    },
                    cipher,
                )
                .map_err(provider_error("CLINIC_S3_BUCKET"))?,
            ),
            None => Arc::new(
                EncryptedDocuments::filesystem(&settings.documents_dir, cipher)
                    .map_err(provider_error("CLINIC_DOCUMENTS_DIR"))?,
            ),
        };
        Ok(Self {
            payments,
            email,
            messages,
            video,
            documents,
            renderer: Arc::new(PdfRenderer),
            public_url: settings.public_url.clone(),
            whatsapp_templates: settings.whatsapp_templates.clone(),
            console,
        })
    }

    /// Console adapters for every service and documents in memory: what tests and the
    /// in-memory server use.
    #[must_use]
    pub fn console_only() -> Self {
        let key = clinic_adapters::crypto::EnvelopeCipher::generate_key("ephemeral");
        // A freshly generated key is always a valid configuration.
        let cipher: Arc<dyn FieldCipher> = match clinic_adapters::crypto::EnvelopeCipher::from_config(&key) {
            Ok(c) => Arc::new(c),
            Err(_) => unreachable!("generate_key returns a valid key"),
        };
        Self {
            payments: Arc::new(ConsolePayments::new(&console_secret())),
            email: Arc::new(ConsoleEmail::new()),
            messages: Arc::new(ConsoleMessages::new()),
            video: Arc::new(ConsoleVideo::new()),
            documents: Arc::new(EncryptedDocuments::in_memory(cipher)),
            renderer: Arc::new(PdfRenderer),
            public_url: None,
            whatsapp_templates: std::collections::BTreeMap::new(),
            console: vec!["payments", "email", "sms and whatsapp", "video", "documents"],
        }
    }

    /// Says loudly which services send nothing.
    pub fn warn_about_console(&self) {
        for service in &self.console {
            tracing::warn!(
                service,
                "CONSOLE ADAPTER: no provider is configured for {service}; nothing is sent, \
                 messages are kept in memory. For development only"
            );
        }
    }
}

/// A per-process secret for console webhooks: nothing outside the process can sign one.
fn console_secret() -> Vec<u8> {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    [a.as_bytes().as_slice(), b.as_bytes().as_slice()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(&'static str, &'static str)> = pairs.to_vec();
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    fn cipher() -> Arc<dyn FieldCipher> {
        Arc::new(
            clinic_adapters::crypto::EnvelopeCipher::from_config(
                &clinic_adapters::crypto::EnvelopeCipher::generate_key("k"),
            )
            .unwrap(),
        )
    }

    fn temp_docs() -> &'static str {
        let p = std::env::temp_dir().join(format!("clinic-provider-docs-{}", uuid::Uuid::now_v7()));
        Box::leak(p.to_string_lossy().into_owned().into_boxed_str())
    }

    #[test]
    fn nothing_configured_means_console_everywhere_but_documents() {
        let docs = temp_docs();
        let s = ProviderSettings::from_env(env(&[("CLINIC_DOCUMENTS_DIR", docs)])).unwrap();
        let i = Integrations::build(&s, cipher()).unwrap();
        assert_eq!(i.console, vec!["payments", "email", "sms and whatsapp", "video"]);
        assert!(
            std::path::Path::new(docs).is_dir(),
            "the documents directory is created"
        );
        let _ = std::fs::remove_dir_all(docs);
    }

    #[test]
    fn configured_providers_replace_the_console() {
        let docs = temp_docs();
        let s = ProviderSettings::from_env(env(&[
            ("CLINIC_DOCUMENTS_DIR", docs),
            ("CLINIC_PUBLIC_URL", "https://clinic.example/"),
            ("CLINIC_STRIPE_SECRET_KEY", "sk_test_abc"),
            ("CLINIC_STRIPE_WEBHOOK_SECRETS", "whsec_new, whsec_old"),
            ("CLINIC_EMAIL_FROM", "rooms@harbour.example"),
            ("CLINIC_EMAIL_FROM_NAME", "Harbour Psychology"),
            ("CLINIC_SENDGRID_API_KEY", "SG.secret"),
            ("CLINIC_TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
            ("CLINIC_TWILIO_AUTH_TOKEN", "token"),
            ("CLINIC_TWILIO_API_KEY_SID", "SK0123456789abcdef0123456789abcdef"),
            ("CLINIC_TWILIO_API_KEY_SECRET", "key-secret"),
            ("CLINIC_TWILIO_SMS_FROM", "+61480000000"),
            (
                "CLINIC_WHATSAPP_TEMPLATES",
                "appointment_reminder=HXaaa, appointment_confirmation=HXbbb",
            ),
        ]))
        .unwrap();
        assert_eq!(s.whatsapp_templates.len(), 2);
        assert_eq!(s.public_url.as_deref(), Some("https://clinic.example"));
        let debug = format!("{s:?}");
        for secret in ["sk_test_abc", "whsec_new", "SG.secret", "key-secret", "token"] {
            assert!(!debug.contains(secret), "{secret} printed: {debug}");
        }
        let i = Integrations::build(&s, cipher()).unwrap();
        assert!(i.console.is_empty(), "{:?}", i.console);
        let _ = std::fs::remove_dir_all(docs);
    }

    #[test]
    fn bad_or_partial_settings_name_the_variable() {
        let cases: Vec<(Vec<(&'static str, &'static str)>, &str)> = vec![
            (
                vec![("CLINIC_STRIPE_SECRET_KEY", "pk_live_public")],
                "CLINIC_STRIPE_SECRET_KEY",
            ),
            (
                vec![("CLINIC_STRIPE_SECRET_KEY", "sk_live_x")],
                "CLINIC_STRIPE_WEBHOOK_SECRETS",
            ),
            (vec![("CLINIC_SENDGRID_API_KEY", "SG.x")], "CLINIC_EMAIL_FROM"),
            (
                vec![
                    ("CLINIC_SENDGRID_API_KEY", "SG.x"),
                    ("CLINIC_SMTP_HOST", "mail.example"),
                    ("CLINIC_EMAIL_FROM", "a@b.co"),
                ],
                "CLINIC_SMTP_HOST",
            ),
            (vec![("CLINIC_EMAIL_FROM", "not an address")], "CLINIC_EMAIL_FROM"),
            (
                vec![("CLINIC_SMTP_HOST", "mail.example"), ("CLINIC_SMTP_SECURITY", "maybe")],
                "CLINIC_SMTP_SECURITY",
            ),
            (
                vec![("CLINIC_SMTP_HOST", "mail.example"), ("CLINIC_SMTP_PORT", "seventy")],
                "CLINIC_SMTP_PORT",
            ),
            (
                vec![("CLINIC_TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef")],
                "CLINIC_TWILIO_AUTH_TOKEN",
            ),
            (
                vec![
                    ("CLINIC_TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
                    ("CLINIC_TWILIO_AUTH_TOKEN", "t"),
                    ("CLINIC_TWILIO_API_KEY_SID", "SK0123456789abcdef0123456789abcdef"),
                    ("CLINIC_TWILIO_API_KEY_SECRET", "s"),
                    ("CLINIC_TWILIO_SMS_FROM", "12345"),
                ],
                "CLINIC_TWILIO_SMS_FROM",
            ),
            (vec![("CLINIC_S3_BUCKET", "docs")], "CLINIC_S3_REGION"),
            (vec![("CLINIC_PUBLIC_URL", "clinic.example")], "CLINIC_PUBLIC_URL"),
            (
                vec![("CLINIC_WHATSAPP_TEMPLATES", "birthday=HX1")],
                "CLINIC_WHATSAPP_TEMPLATES",
            ),
            (
                vec![("CLINIC_WHATSAPP_TEMPLATES", "appointment_reminder")],
                "CLINIC_WHATSAPP_TEMPLATES",
            ),
        ];
        for (vars, key) in cases {
            let e = ProviderSettings::from_env(env(&vars)).unwrap_err();
            assert_eq!(e.key, key, "{vars:?}");
        }
        // A malformed SID is refused when the adapter is built, naming the variable.
        let s = ProviderSettings::from_env(env(&[
            ("CLINIC_TWILIO_ACCOUNT_SID", "AC123"),
            ("CLINIC_TWILIO_AUTH_TOKEN", "t"),
            ("CLINIC_TWILIO_API_KEY_SID", "SK0123456789abcdef0123456789abcdef"),
            ("CLINIC_TWILIO_API_KEY_SECRET", "s"),
            ("CLINIC_DOCUMENTS_DIR", temp_docs()),
        ]))
        .unwrap();
        assert_eq!(
            Integrations::build(&s, cipher()).unwrap_err().key,
            "CLINIC_TWILIO_ACCOUNT_SID"
        );
    }
}
