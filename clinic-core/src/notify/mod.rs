//! What the practice tells people, as data: one template per occasion, each with an email
//! subject, a plain-text body, an HTML body and a short text for SMS and WhatsApp.
//!
//! The rule every template keeps: **no clinical content**. A notice names the practice,
//! the time in the location's own zone, where (or that it is by video), and who to contact,
//! never the service, the reason for the visit, a diagnosis or a note. Australian Privacy
//! Principle 11 (security of personal information) and the practice's duty of
//! confidentiality apply to every channel an email or SMS passes through; a notice seen by
//! someone else on a shared phone should reveal no more than that an appointment exists.
//!
//! Templates are text with `{name}` placeholders. Each occasion has a fixed set of
//! placeholders it may use ([`Occasion::placeholders`]); a template that uses any other
//! fails [`TemplateSet::check`], and the built-in set is checked by the tests.

mod inbox;
mod outbox;

pub use inbox::InboxItem;
pub use outbox::{Audience, Dispatch, MAX_ATTEMPTS, Notification, OutboxState, Via, retry_delay};

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The occasions the practice writes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Occasion {
    /// An appointment was booked.
    AppointmentConfirmation,
    /// An appointment is coming up.
    AppointmentReminder,
    /// An appointment was cancelled.
    AppointmentCancellation,
    /// The link to join a video session.
    TelehealthLink,
    /// A practitioner's registration or insurance expires soon.
    CredentialExpiryWarning,
    /// An invoice was issued.
    Invoice,
    /// A patient's data export is ready.
    DataExportReady,
    /// A secure message is waiting (never its content).
    MessageWaiting,
}

impl Occasion {
    /// Every occasion.
    pub const ALL: [Self; 8] = [
        Self::AppointmentConfirmation,
        Self::AppointmentReminder,
        Self::AppointmentCancellation,
        Self::TelehealthLink,
        Self::CredentialExpiryWarning,
        Self::Invoice,
        Self::DataExportReady,
        Self::MessageWaiting,
    ];

    /// The stable snake-case name (as serialized).
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::AppointmentConfirmation => "appointment_confirmation",
            Self::AppointmentReminder => "appointment_reminder",
            Self::AppointmentCancellation => "appointment_cancellation",
            Self::TelehealthLink => "telehealth_link",
            Self::CredentialExpiryWarning => "credential_expiry_warning",
            Self::Invoice => "invoice",
            Self::DataExportReady => "data_export_ready",
            Self::MessageWaiting => "message_waiting",
        }
    }

    /// The placeholders a template for this occasion may use.
    #[must_use]
    pub const fn placeholders(self) -> &'static [&'static str] {
        match self {
            Self::AppointmentConfirmation | Self::AppointmentReminder => {
                &["practice", "name", "when", "where", "practitioner", "contact"]
            }
            Self::AppointmentCancellation => &["practice", "name", "when", "practitioner", "contact"],
            Self::TelehealthLink => &["practice", "name", "when", "practitioner", "link", "contact"],
            Self::CredentialExpiryWarning => &["practice", "name", "credential", "expires", "days"],
            Self::Invoice => &["practice", "name", "number", "amount", "due", "contact"],
            Self::DataExportReady => &["practice", "name", "link", "contact"],
            Self::MessageWaiting => &["practice", "name", "link"],
        }
    }
}

/// One occasion's wording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Template {
    /// The email subject.
    pub subject: String,
    /// The plain-text email body.
    pub text: String,
    /// The HTML email body (placeholders are HTML-escaped when filled).
    pub html: String,
    /// The SMS and WhatsApp text.
    pub short: String,
}

/// A filled-in template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rendered {
    /// The email subject.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
    /// The SMS and WhatsApp text.
    pub short: String,
}

/// Why a template set or a rendering was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// An occasion without a template.
    #[error("no template for {0:?}")]
    Missing(Occasion),
    /// A placeholder the occasion does not offer, or an unclosed brace.
    #[error("the {occasion:?} template uses an unknown or malformed placeholder `{placeholder}`")]
    UnknownPlaceholder {
        /// The occasion.
        occasion: Occasion,
        /// What was found.
        placeholder: String,
    },
    /// A value the template needs was not given.
    #[error("no value for `{0}`")]
    MissingValue(&'static str),
}

impl TemplateError {
    /// The stable machine code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Missing(_) => "template_missing",
            Self::UnknownPlaceholder { .. } => "template_placeholder_unknown",
            Self::MissingValue(_) => "template_value_missing",
        }
    }
}

/// The placeholder names used in `text`, in order; `Err` with the fragment for an
/// unclosed or empty brace.
fn placeholders_in(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(rest[open..].chars().take(20).collect());
        };
        let name = &after[..close];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(format!("{{{name}}}"));
        }
        out.push(name);
        rest = &after[close + 1..];
    }
    Ok(out)
}

/// Escapes text for HTML element content and attribute values.
#[must_use]
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn fill(
    occasion: Occasion,
    template: &str,
    values: &BTreeMap<&'static str, String>,
    html: bool,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| TemplateError::UnknownPlaceholder {
            occasion,
            placeholder: after.chars().take(20).collect(),
        })?;
        let name = &after[..close];
        let key =
            occasion
                .placeholders()
                .iter()
                .find(|p| **p == name)
                .ok_or_else(|| TemplateError::UnknownPlaceholder {
                    occasion,
                    placeholder: name.to_owned(),
                })?;
        let value = values.get(key).ok_or(TemplateError::MissingValue(key))?;
        if html {
            out.push_str(&escape_html(value));
        } else {
            out.push_str(value);
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The wording for every occasion: the built-in set, or a practice's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateSet {
    templates: BTreeMap<Occasion, Template>,
}

impl TemplateSet {
    /// A set from templates, checked.
    ///
    /// # Errors
    /// [`TemplateError`] for a missing occasion or a placeholder the occasion does not offer.
    pub fn new(templates: BTreeMap<Occasion, Template>) -> Result<Self, TemplateError> {
        let set = Self { templates };
        set.check()?;
        Ok(set)
    }

    /// Checks that every occasion has a template and uses only its own placeholders.
    ///
    /// # Errors
    /// The first problem found.
    pub fn check(&self) -> Result<(), TemplateError> {
        for occasion in Occasion::ALL {
            let t = self.templates.get(&occasion).ok_or(TemplateError::Missing(occasion))?;
            for part in [&t.subject, &t.text, &t.html, &t.short] {
                let names = placeholders_in(part)
                    .map_err(|placeholder| TemplateError::UnknownPlaceholder { occasion, placeholder })?;
                if let Some(bad) = names.iter().find(|n| !occasion.placeholders().contains(n)) {
                    return Err(TemplateError::UnknownPlaceholder {
                        occasion,
                        placeholder: (*bad).to_owned(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Renders `notice` with this set.
    ///
    /// # Errors
    /// [`TemplateError`] when the set lacks the occasion (only possible for a set built
    /// without [`TemplateSet::new`]).
    pub fn render(&self, notice: &Notice) -> Result<Rendered, TemplateError> {
        let occasion = notice.occasion();
        let t = self.templates.get(&occasion).ok_or(TemplateError::Missing(occasion))?;
        let values = notice.values();
        Ok(Rendered {
            subject: fill(occasion, &t.subject, &values, false)?,
            text: fill(occasion, &t.text, &values, false)?,
            html: fill(occasion, &t.html, &values, true)?,
            short: fill(occasion, &t.short, &values, false)?,
        })
    }
}

fn t(subject: &str, text: &str, html: &str, short: &str) -> Template {
    Template {
        subject: subject.into(),
        text: text.into(),
        html: html.into(),
        short: short.into(),
    }
}

impl Default for TemplateSet {
    /// The built-in Australian English wording.
    fn default() -> Self {
        let mut m = BTreeMap::new();
        m.insert(
            Occasion::AppointmentConfirmation,
            t(
                "Your appointment at {practice} is booked",
                "Hello {name},\n\nYour appointment with {practitioner} is booked for {when}, {where}.\n\nTo change or cancel it, contact {practice} on {contact}.\n",
                "<p>Hello {name},</p><p>Your appointment with {practitioner} is booked for <strong>{when}</strong>, {where}.</p><p>To change or cancel it, contact {practice} on {contact}.</p>",
                "{practice}: your appointment with {practitioner} is booked for {when}. To change it call {contact}.",
            ),
        );
        m.insert(
            Occasion::AppointmentReminder,
            t(
                "Reminder: your appointment at {practice}",
                "Hello {name},\n\nA reminder of your appointment with {practitioner} on {when}, {where}.\n\nIf you cannot attend, please contact {practice} on {contact}.\n",
                "<p>Hello {name},</p><p>A reminder of your appointment with {practitioner} on <strong>{when}</strong>, {where}.</p><p>If you cannot attend, please contact {practice} on {contact}.</p>",
                "{practice}: reminder of your appointment with {practitioner} on {when}. Can't make it? Call {contact}.",
            ),
        );
        m.insert(
            Occasion::AppointmentCancellation,
            t(
                "Your appointment at {practice} is cancelled",
                "Hello {name},\n\nYour appointment with {practitioner} on {when} is cancelled.\n\nTo book another time, contact {practice} on {contact}.\n",
                "<p>Hello {name},</p><p>Your appointment with {practitioner} on <strong>{when}</strong> is cancelled.</p><p>To book another time, contact {practice} on {contact}.</p>",
                "{practice}: your appointment with {practitioner} on {when} is cancelled. To rebook call {contact}.",
            ),
        );
        m.insert(
            Occasion::TelehealthLink,
            t(
                "Joining your video appointment with {practice}",
                "Hello {name},\n\nYour video appointment with {practitioner} is on {when}. Join here a few minutes before: {link}\n\nIf you have trouble joining, contact {practice} on {contact}.\n",
                "<p>Hello {name},</p><p>Your video appointment with {practitioner} is on <strong>{when}</strong>. <a href=\"{link}\">Join here</a> a few minutes before.</p><p>If you have trouble joining, contact {practice} on {contact}.</p>",
                "{practice}: your video appointment is on {when}. Join: {link}",
            ),
        );
        m.insert(
            Occasion::CredentialExpiryWarning,
            t(
                "{credential} expires in {days} days",
                "Hello {name},\n\nYour {credential} on file with {practice} expires on {expires} ({days} days). Please upload the renewal before then; bookings stop on the day it expires.\n",
                "<p>Hello {name},</p><p>Your {credential} on file with {practice} expires on <strong>{expires}</strong> ({days} days). Please upload the renewal before then; bookings stop on the day it expires.</p>",
                "{practice}: your {credential} expires on {expires}. Please upload the renewal.",
            ),
        );
        m.insert(
            Occasion::Invoice,
            t(
                "Invoice {number} from {practice}",
                "Hello {name},\n\nInvoice {number} from {practice} is attached. Amount due: {amount}, by {due}.\n\nQuestions? Contact {practice} on {contact}.\n",
                "<p>Hello {name},</p><p>Invoice {number} from {practice} is attached. Amount due: <strong>{amount}</strong>, by {due}.</p><p>Questions? Contact {practice} on {contact}.</p>",
                "{practice}: invoice {number} for {amount} is due by {due}.",
            ),
        );
        m.insert(
            Occasion::DataExportReady,
            t(
                "Your records from {practice} are ready",
                "Hello {name},\n\nThe copy of your records you asked {practice} for is ready. Sign in to download it: {link}\n\nQuestions? Contact {practice} on {contact}.\n",
                "<p>Hello {name},</p><p>The copy of your records you asked {practice} for is ready. <a href=\"{link}\">Sign in to download it</a>.</p><p>Questions? Contact {practice} on {contact}.</p>",
                "{practice}: the records you asked for are ready. Sign in to download them.",
            ),
        );
        m.insert(
            Occasion::MessageWaiting,
            t(
                "You have a new message from {practice}",
                "Hello {name},\n\nYou have a new secure message from {practice}. Sign in to read it: {link}\n",
                "<p>Hello {name},</p><p>You have a new secure message from {practice}. <a href=\"{link}\">Sign in to read it</a>.</p>",
                "{practice}: you have a new secure message. Sign in to read it.",
            ),
        );
        Self { templates: m }
    }
}

/// A time as people read it in the location's zone: `Tuesday 24 November 2026 at 2:30 pm
/// AEDT`. The zone abbreviation is printed so a patient in another state, or the week
/// daylight saving changes, is never an hour out.
#[must_use]
pub fn local_when(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%A %-d %B %Y at %-I:%M %P %Z")
        .to_string()
}

/// A date as people read it: `24 November 2026`.
#[must_use]
pub fn local_day(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// An appointment notice's facts: nothing clinical.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppointmentFacts {
    /// The practice's name.
    pub practice: String,
    /// How the patient is addressed (their preferred or first name).
    pub name: String,
    /// The start.
    pub start: DateTime<Utc>,
    /// The location's zone.
    pub zone: Tz,
    /// The practitioner's display name.
    pub practitioner: String,
    /// The location (name and address), or `None` for a video or phone session.
    pub place: Option<String>,
    /// The practice's phone or email for changes.
    pub contact: String,
}

/// A notice to render: the occasion and its facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A booking confirmation.
    Confirmation(AppointmentFacts),
    /// A reminder.
    Reminder(AppointmentFacts),
    /// A cancellation.
    Cancellation(AppointmentFacts),
    /// The video link.
    Telehealth {
        /// The appointment.
        facts: AppointmentFacts,
        /// The link to the join page (which checks the gate; the link itself grants
        /// nothing).
        link: String,
    },
    /// A credential about to expire.
    CredentialExpiry {
        /// The practice.
        practice: String,
        /// The practitioner's name.
        name: String,
        /// What expires ("AHPRA registration", "professional indemnity insurance").
        credential: String,
        /// The day it expires.
        expires: NaiveDate,
        /// Days left.
        days: i64,
    },
    /// An invoice.
    Invoice {
        /// The practice.
        practice: String,
        /// The payer's name.
        name: String,
        /// The invoice number.
        number: String,
        /// The amount due.
        amount: crate::Money,
        /// The due date.
        due: NaiveDate,
        /// The practice's contact.
        contact: String,
    },
    /// A data export is ready.
    DataExportReady {
        /// The practice.
        practice: String,
        /// The patient's name.
        name: String,
        /// Where to sign in.
        link: String,
        /// The practice's contact.
        contact: String,
    },
    /// A secure message waits.
    MessageWaiting {
        /// The practice.
        practice: String,
        /// The recipient's name.
        name: String,
        /// Where to sign in.
        link: String,
    },
}

impl Notice {
    /// The occasion.
    #[must_use]
    pub const fn occasion(&self) -> Occasion {
        match self {
            Self::Confirmation(_) => Occasion::AppointmentConfirmation,
            Self::Reminder(_) => Occasion::AppointmentReminder,
            Self::Cancellation(_) => Occasion::AppointmentCancellation,
            Self::Telehealth { .. } => Occasion::TelehealthLink,
            Self::CredentialExpiry { .. } => Occasion::CredentialExpiryWarning,
            Self::Invoice { .. } => Occasion::Invoice,
            Self::DataExportReady { .. } => Occasion::DataExportReady,
            Self::MessageWaiting { .. } => Occasion::MessageWaiting,
        }
    }

    fn values(&self) -> BTreeMap<&'static str, String> {
        let mut v = BTreeMap::new();
        let appointment = |v: &mut BTreeMap<&'static str, String>, f: &AppointmentFacts| {
            v.insert("practice", f.practice.clone());
            v.insert("name", f.name.clone());
            v.insert("when", local_when(f.start, f.zone));
            v.insert(
                "where",
                f.place
                    .as_ref()
                    .map_or_else(|| "by video".to_owned(), |p| format!("at {p}")),
            );
            v.insert("practitioner", f.practitioner.clone());
            v.insert("contact", f.contact.clone());
        };
        match self {
            Self::Confirmation(f) | Self::Reminder(f) | Self::Cancellation(f) => appointment(&mut v, f),
            Self::Telehealth { facts, link } => {
                appointment(&mut v, facts);
                v.insert("link", link.clone());
            }
            Self::CredentialExpiry {
                practice,
                name,
                credential,
                expires,
                days,
            } => {
                v.insert("practice", practice.clone());
                v.insert("name", name.clone());
                v.insert("credential", credential.clone());
                v.insert("expires", local_day(*expires));
                v.insert("days", days.to_string());
            }
            Self::Invoice {
                practice,
                name,
                number,
                amount,
                due,
                contact,
            } => {
                v.insert("practice", practice.clone());
                v.insert("name", name.clone());
                v.insert("number", number.clone());
                v.insert("amount", amount.to_string());
                v.insert("due", local_day(*due));
                v.insert("contact", contact.clone());
            }
            Self::DataExportReady {
                practice,
                name,
                link,
                contact,
            } => {
                v.insert("practice", practice.clone());
                v.insert("name", name.clone());
                v.insert("link", link.clone());
                v.insert("contact", contact.clone());
            }
            Self::MessageWaiting { practice, name, link } => {
                v.insert("practice", practice.clone());
                v.insert("name", name.clone());
                v.insert("link", link.clone());
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Australia::{Brisbane, Perth, Sydney};

    fn facts(start: DateTime<Utc>, zone: Tz) -> AppointmentFacts {
        AppointmentFacts {
            practice: "Harbour Psychology".into(),
            name: "Sam".into(),
            start,
            zone,
            practitioner: "Dr Lee".into(),
            place: Some("Level 2, 1 George St, Sydney".into()),
            contact: "02 9000 0000".into(),
        }
    }

    #[test]
    fn occasion_codes_are_the_serialized_names() {
        for o in Occasion::ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), serde_json::json!(o.code()));
        }
    }

    #[test]
    fn built_in_set_is_complete_and_uses_only_allowed_placeholders() {
        TemplateSet::default().check().unwrap();
        for occasion in Occasion::ALL {
            assert!(TemplateSet::default().templates.contains_key(&occasion));
        }
    }

    #[test]
    fn local_time_follows_daylight_saving() {
        // Sydney's daylight saving began at 02:00 on Sunday 5 October 2025.
        let before = Utc.with_ymd_and_hms(2025, 10, 3, 4, 30, 0).unwrap(); // Fri 14:30 AEST
        let after = Utc.with_ymd_and_hms(2025, 10, 6, 3, 30, 0).unwrap(); // Mon 14:30 AEDT
        assert_eq!(local_when(before, Sydney), "Friday 3 October 2025 at 2:30 pm AEST");
        assert_eq!(local_when(after, Sydney), "Monday 6 October 2025 at 2:30 pm AEDT");
        // Queensland keeps standard time all year.
        assert_eq!(local_when(after, Brisbane), "Monday 6 October 2025 at 1:30 pm AEST");
        assert_eq!(local_when(after, Perth), "Monday 6 October 2025 at 11:30 am AWST");
        // Midnight and noon read as people say them.
        let midnight = Utc.with_ymd_and_hms(2026, 6, 30, 14, 0, 0).unwrap();
        assert_eq!(local_when(midnight, Sydney), "Wednesday 1 July 2026 at 12:00 am AEST");
        let leap = Utc.with_ymd_and_hms(2028, 2, 29, 2, 0, 0).unwrap();
        assert_eq!(local_when(leap, Brisbane), "Tuesday 29 February 2028 at 12:00 pm AEST");
    }

    #[test]
    fn reminder_renders_every_channel_in_the_location_zone() {
        let start = Utc.with_ymd_and_hms(2026, 11, 24, 3, 30, 0).unwrap();
        let r = TemplateSet::default()
            .render(&Notice::Reminder(facts(start, Sydney)))
            .unwrap();
        assert_eq!(r.subject, "Reminder: your appointment at Harbour Psychology");
        assert!(
            r.text.contains("Tuesday 24 November 2026 at 2:30 pm AEDT"),
            "{}",
            r.text
        );
        assert!(r.text.contains("at Level 2, 1 George St, Sydney"));
        assert!(
            r.html
                .contains("<strong>Tuesday 24 November 2026 at 2:30 pm AEDT</strong>")
        );
        assert!(r.short.starts_with("Harbour Psychology: reminder"));
        assert!(r.short.len() < 160, "one SMS segment: {}", r.short.len());
    }

    #[test]
    fn video_sessions_say_so_and_carry_the_link() {
        let start = Utc.with_ymd_and_hms(2026, 11, 24, 3, 30, 0).unwrap();
        let mut f = facts(start, Sydney);
        f.place = None;
        let r = TemplateSet::default()
            .render(&Notice::Telehealth {
                facts: f.clone(),
                link: "https://clinic.example/join/abc".into(),
            })
            .unwrap();
        assert!(r.text.contains("https://clinic.example/join/abc"));
        assert!(r.html.contains("href=\"https://clinic.example/join/abc\""));
        let c = TemplateSet::default().render(&Notice::Confirmation(f)).unwrap();
        assert!(c.text.contains(", by video."), "{}", c.text);
    }

    #[test]
    fn values_are_escaped_in_html_only() {
        let start = Utc.with_ymd_and_hms(2026, 11, 24, 3, 30, 0).unwrap();
        let mut f = facts(start, Sydney);
        f.name = "<script>alert('x')</script> & co".into();
        let r = TemplateSet::default().render(&Notice::Confirmation(f)).unwrap();
        assert!(
            r.html
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co")
        );
        assert!(!r.html.contains("<script>"));
        assert!(r.text.contains("<script>alert('x')</script> & co"));
    }

    #[test]
    fn invoice_and_credential_notices() {
        let r = TemplateSet::default()
            .render(&Notice::Invoice {
                practice: "Harbour Psychology".into(),
                name: "Sam".into(),
                number: "INV-000042".into(),
                amount: crate::Money::from_cents(9_545),
                due: NaiveDate::from_ymd_opt(2026, 12, 8).unwrap(),
                contact: "02 9000 0000".into(),
            })
            .unwrap();
        assert_eq!(r.subject, "Invoice INV-000042 from Harbour Psychology");
        assert!(r.text.contains("Amount due: $95.45, by 8 December 2026."), "{}", r.text);
        let c = TemplateSet::default()
            .render(&Notice::CredentialExpiry {
                practice: "Harbour Psychology".into(),
                name: "Dr Lee".into(),
                credential: "AHPRA registration".into(),
                expires: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
                days: 6,
            })
            .unwrap();
        assert_eq!(c.subject, "AHPRA registration expires in 6 days");
        assert!(c.text.contains("expires on 30 November 2026 (6 days)"));
    }

    #[test]
    fn message_waiting_says_nothing_of_the_message() {
        let r = TemplateSet::default()
            .render(&Notice::MessageWaiting {
                practice: "Harbour Psychology".into(),
                name: "Sam".into(),
                link: "https://clinic.example/messages".into(),
            })
            .unwrap();
        assert!(r.short.contains("new secure message"));
        assert!(
            !r.short.contains("https://"),
            "the SMS carries no link: sign in instead"
        );
    }

    #[test]
    fn practice_sets_are_checked() {
        let mut set = TemplateSet::default();
        set.templates.get_mut(&Occasion::MessageWaiting).unwrap().short = "{practice}: about {diagnosis}".into();
        let e = TemplateSet::new(set.templates.clone()).unwrap_err();
        assert_eq!(e.code(), "template_placeholder_unknown");
        assert!(e.to_string().contains("diagnosis"));
        set.templates.get_mut(&Occasion::MessageWaiting).unwrap().short = "{practice: broken".into();
        assert_eq!(
            TemplateSet::new(set.templates.clone()).unwrap_err().code(),
            "template_placeholder_unknown"
        );
        set.templates.remove(&Occasion::MessageWaiting);
        assert_eq!(
            TemplateSet::new(set.templates).unwrap_err(),
            TemplateError::Missing(Occasion::MessageWaiting)
        );
    }
}
