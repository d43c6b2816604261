//! Appointment notices through the outbox: what to queue when an appointment is booked or
//! cancelled, and the worker that sends what is due.
//!
//! Channels follow each patient's reminder preferences (email, SMS, WhatsApp); the
//! reminder goes the number of hours before the start the patient chose (24 by default).
//! A minor's notices go to their guardian's contact details when the patient has none.
//! Every text comes from [`crate::notify::TemplateSet`]: no clinical content.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::error::ServiceError;
use crate::ids::{NotificationId, PracticeId};
use crate::notify::{
    AppointmentFacts, Audience, Dispatch, InboxItem, Notice, Notification, Occasion, OutboxState, TemplateSet, Via,
};
use crate::people::Patient;
use crate::ports::{
    AppointmentRepository, ApprovedTemplate, Channel, Clock, CommitNotices, EmailMessage, EmailSender, IdGenerator,
    IdGeneratorExt, Inbox, MessageSender, Outbox, PatientRepository, PortError, PortErrorKind, PracticeRepository,
    PractitionerRepository, TextMessage,
};
use crate::scheduling::{Appointment, AppointmentStatus};

/// The ports notices read and queue through.
#[derive(Clone)]
pub struct NotificationPorts {
    /// Practices and locations (names, zones).
    pub practices: Arc<dyn PracticeRepository>,
    /// Patients (contact details, preferences).
    pub patients: Arc<dyn PatientRepository>,
    /// Practitioners (display names).
    pub practitioners: Arc<dyn PractitionerRepository>,
    /// Appointments.
    pub appointments: Arc<dyn AppointmentRepository>,
    /// The outbox.
    pub outbox: Arc<dyn Outbox>,
    /// In-app inboxes.
    pub inbox: Arc<dyn Inbox>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

/// Where notices go out.
#[derive(Clone)]
pub struct Channels {
    /// Email.
    pub email: Arc<dyn EmailSender>,
    /// SMS and WhatsApp.
    pub messages: Arc<dyn MessageSender>,
    /// The practice's approved WhatsApp templates by occasion (the provider's template
    /// id). Their variables are, in order: the practice, the patient's name and, for an
    /// appointment, its time.
    pub whatsapp_templates: BTreeMap<Occasion, String>,
    /// The wording.
    pub templates: TemplateSet,
    /// The join page for video sessions (`{base}/{appointment id}`), when the server has a
    /// public address.
    pub join_base: Option<String>,
    /// Where a patient signs in to read secure messages, when the server has a public
    /// address.
    pub inbox_link: Option<String>,
}

/// What one worker round did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DispatchReport {
    /// Handed to a provider.
    pub sent: usize,
    /// To be tried again after a backoff.
    pub retrying: usize,
    /// Given up (kept with their error for staff).
    pub parked: usize,
    /// Nothing to send any more.
    pub skipped: usize,
    /// Taken over by another worker meanwhile.
    pub lost: usize,
}

/// How long a worker holds what it claims: five minutes, well over one send's timeout
/// with retries.
pub const LEASE: Duration = Duration::minutes(5);

/// Appointment notices.
#[derive(Clone)]
pub struct NotificationService {
    ports: NotificationPorts,
}

fn channels_of(p: &Patient) -> Vec<Via> {
    let r = p.reminders;
    let mut out = Vec::new();
    if r.email {
        out.push(Via::Email);
    }
    if r.sms {
        out.push(Via::Sms);
    }
    if r.whatsapp {
        out.push(Via::WhatsApp);
    }
    out
}

impl NotificationService {
    /// A service over `ports`.
    #[must_use]
    pub fn new(ports: NotificationPorts) -> Self {
        Self { ports }
    }

    /// The notifications of `occasion` for each of the appointment's patients, by each of
    /// their channels, due when `due` says (none for a patient it gives `None`).
    fn notices_for(
        &self,
        practice: PracticeId,
        appt: &Appointment,
        patients: &[Patient],
        occasion: Occasion,
        due: impl Fn(&Patient) -> Option<DateTime<Utc>>,
    ) -> Vec<Notification> {
        let now = self.ports.clock.now();
        let mut out = Vec::new();
        for patient in patients {
            let Some(at) = due(patient) else { continue };
            for via in channels_of(patient) {
                let id: NotificationId = self.ports.ids.new_id();
                let what = Dispatch {
                    occasion,
                    audience: Audience::Patient(patient.id),
                    via,
                    about: appt.id.as_uuid(),
                };
                out.push(Notification::for_appointment(
                    id,
                    practice,
                    what,
                    moves_of(appt),
                    at,
                    now,
                ));
            }
        }
        out
    }

    async fn patients_of(&self, practice: PracticeId, appt: &Appointment) -> Result<Vec<Patient>, ServiceError> {
        let mut out = Vec::with_capacity(appt.patient_ids.len());
        for id in &appt.patient_ids {
            out.push(
                self.ports
                    .patients
                    .patient(practice, *id)
                    .await
                    .map_err(ServiceError::from_port("patient"))?,
            );
        }
        Ok(out)
    }

    /// Queues what a new booking sends: a confirmation now, a reminder at each patient's
    /// chosen lead time before the start (none when that time has already passed: the
    /// confirmation covers it), and for a video session the join link with the reminder.
    /// Queuing twice queues nothing more.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for a patient not in the practice; a port error.
    pub async fn appointment_booked(&self, practice: PracticeId, appt: &Appointment) -> Result<usize, ServiceError> {
        let patients = self.patients_of(practice, appt).await?;
        let notices = self.booking_notices(practice, appt, &patients);
        self.ports.inbox.deliver(&notices.inbox).await?;
        Ok(self.ports.outbox.enqueue(&notices.outbox).await?)
    }

    /// What [`appointment_booked`](Self::appointment_booked) queues, built from the
    /// appointment's patients without storing anything: for a store to write in the
    /// booking's own transaction ([`AppointmentRepository::commit_with_notices`]).
    #[must_use]
    pub fn booking_notices(&self, practice: PracticeId, appt: &Appointment, patients: &[Patient]) -> CommitNotices {
        let now = self.ports.clock.now();
        let start = appt.interval.start();
        let reminder_at = |p: &Patient| {
            let at = start - Duration::hours(i64::from(p.reminders.hours_before));
            (at > now).then_some(at)
        };
        let mut batch = self.notices_for(practice, appt, patients, Occasion::AppointmentConfirmation, |_| {
            Some(now)
        });
        batch.extend(self.notices_for(practice, appt, patients, Occasion::AppointmentReminder, reminder_at));
        if appt.mode.is_telehealth() {
            batch.extend(
                self.notices_for(practice, appt, patients, Occasion::TelehealthLink, |p| {
                    Some(reminder_at(p).unwrap_or(now))
                }),
            );
        }
        CommitNotices {
            outbox: batch,
            inbox: self.inbox_items(practice, appt, Occasion::AppointmentConfirmation),
        }
    }

    /// Queues what a moved appointment sends: a confirmation of its new time now, and its
    /// reminder (and, for a video session, the join link) planned afresh for the new start,
    /// as for a new booking. The notices planned before the move are skipped when they come
    /// due, so a patient is never reminded at the old lead time. Queuing the same move
    /// again queues nothing more.
    ///
    /// # Errors
    /// As [`appointment_booked`](Self::appointment_booked).
    pub async fn appointment_rescheduled(
        &self,
        practice: PracticeId,
        appt: &Appointment,
    ) -> Result<usize, ServiceError> {
        let patients = self.patients_of(practice, appt).await?;
        let mut notices = self.booking_notices(practice, appt, &patients);
        // The inbox keeps one item per occurrence; each move is one of its own: the
        // appointment's id with the move's number mixed into its low bits (the booking's
        // own item has the id itself).
        let (high, low) = appt.id.as_uuid().as_u64_pair();
        let occurrence = uuid::Uuid::from_u64_pair(high, low ^ u64::from(moves_of(appt)));
        for item in &mut notices.inbox {
            item.occurrence = occurrence;
        }
        self.ports.inbox.deliver(&notices.inbox).await?;
        Ok(self.ports.outbox.enqueue(&notices.outbox).await?)
    }

    /// Puts an appointment's occasion in each of its patients' inboxes.
    async fn to_inbox(&self, practice: PracticeId, appt: &Appointment, occasion: Occasion) -> Result<(), ServiceError> {
        let items = self.inbox_items(practice, appt, occasion);
        self.ports.inbox.deliver(&items).await?;
        Ok(())
    }

    /// An appointment's occasion for each of its patients' inboxes.
    fn inbox_items(&self, practice: PracticeId, appt: &Appointment, occasion: Occasion) -> Vec<InboxItem> {
        appt.patient_ids
            .iter()
            .map(|p| {
                self.inbox_item(
                    practice,
                    Audience::Patient(*p),
                    occasion,
                    appt.id.as_uuid(),
                    appt.id.as_uuid(),
                )
            })
            .collect()
    }

    fn inbox_item(
        &self,
        practice: PracticeId,
        audience: Audience,
        occasion: Occasion,
        about: uuid::Uuid,
        occurrence: uuid::Uuid,
    ) -> InboxItem {
        InboxItem {
            id: self.ports.ids.new_id(),
            practice_id: practice,
            audience,
            occasion,
            about,
            occurrence,
            at: self.ports.clock.now(),
            read_at: None,
        }
    }

    /// Puts a waiting message in the inboxes of the thread's clinicians (they read it in
    /// the app; nothing is emailed to them).
    ///
    /// # Errors
    /// A port error.
    pub async fn message_for_clinicians(
        &self,
        practice: PracticeId,
        clinicians: &[crate::ids::PractitionerId],
        thread: crate::ids::ThreadId,
        message: crate::ids::MessageId,
    ) -> Result<usize, ServiceError> {
        let items: Vec<InboxItem> = clinicians
            .iter()
            .map(|p| {
                self.inbox_item(
                    practice,
                    Audience::Practitioner(*p),
                    Occasion::MessageWaiting,
                    thread.as_uuid(),
                    message.as_uuid(),
                )
            })
            .collect();
        Ok(self.ports.inbox.deliver(&items).await?)
    }

    /// Queues the cancellation notice (pending reminders are skipped when their time
    /// comes, since the appointment is no longer live).
    ///
    /// # Errors
    /// As [`appointment_booked`](Self::appointment_booked).
    pub async fn appointment_cancelled(&self, practice: PracticeId, appt: &Appointment) -> Result<usize, ServiceError> {
        let now = self.ports.clock.now();
        let patients = self.patients_of(practice, appt).await?;
        let batch = self.notices_for(practice, appt, &patients, Occasion::AppointmentCancellation, |_| {
            Some(now)
        });
        self.to_inbox(practice, appt, Occasion::AppointmentCancellation).await?;
        Ok(self.ports.outbox.enqueue(&batch).await?)
    }

    /// Claims what is due (at most `limit`), sends each through its channel and settles
    /// it: sent, retried after a backoff on a failure that may pass, parked on one that
    /// will not, or skipped when there is nothing to send any more.
    ///
    /// # Errors
    /// A port error from the outbox itself (sending failures are settled, not returned).
    pub async fn dispatch(
        &self,
        practice: PracticeId,
        channels: &Channels,
        limit: u32,
    ) -> Result<DispatchReport, ServiceError> {
        let now = self.ports.clock.now();
        let claimed = self.ports.outbox.claim_due(practice, now, now + LEASE, limit).await?;
        let mut report = DispatchReport::default();
        for mut n in claimed {
            match self.send_one(practice, &n, channels).await {
                Ok(Ok(provider_id)) => n.sent(provider_id),
                Ok(Err(reason)) => n.skipped(reason),
                Err(e) => n.failed(e.kind().code(), e.is_retryable(), now),
            }
            match self.ports.outbox.settle(&n).await {
                Ok(()) => match n.state {
                    OutboxState::Sent => report.sent += 1,
                    OutboxState::Pending => report.retrying += 1,
                    OutboxState::Parked => report.parked += 1,
                    _ => report.skipped += 1,
                },
                Err(e) if e.kind() == PortErrorKind::Conflict => report.lost += 1,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(report)
    }

    /// Renders and sends one notification: `Ok(Ok(provider id))` when sent, `Ok(Err(why))`
    /// when there is nothing to send, `Err` when sending failed.
    async fn send_one(
        &self,
        practice: PracticeId,
        n: &Notification,
        channels: &Channels,
    ) -> Result<Result<Option<String>, &'static str>, PortError> {
        let Audience::Patient(patient_id) = n.audience else {
            return Ok(Err("audience_not_supported"));
        };
        if n.occasion == Occasion::MessageWaiting {
            return self.send_message_waiting(practice, n, patient_id, channels).await;
        }
        let appt = match self.ports.appointments.appointment(practice, n.about.into()).await {
            Ok(a) => a,
            Err(e) if e.kind() == PortErrorKind::NotFound => return Ok(Err("appointment_gone")),
            Err(e) => return Err(e),
        };
        let live = matches!(
            appt.status,
            AppointmentStatus::Booked | AppointmentStatus::Confirmed | AppointmentStatus::Requested
        );
        let moved = n.after_moves.is_some_and(|planned| planned != moves_of(&appt));
        match n.occasion {
            // Planned before the appointment last moved: the move queued its own.
            Occasion::AppointmentConfirmation | Occasion::AppointmentReminder | Occasion::TelehealthLink if moved => {
                return Ok(Err("appointment_moved"));
            }
            Occasion::AppointmentReminder | Occasion::TelehealthLink
                if !live || appt.interval.start() <= self.ports.clock.now() =>
            {
                return Ok(Err("appointment_not_upcoming"));
            }
            Occasion::AppointmentConfirmation if !live => return Ok(Err("appointment_not_live")),
            Occasion::AppointmentConfirmation
            | Occasion::AppointmentReminder
            | Occasion::TelehealthLink
            | Occasion::AppointmentCancellation => {}
            _ => return Ok(Err("occasion_not_dispatched")),
        }
        let patient = match self.ports.patients.patient(practice, patient_id).await {
            Ok(p) => p,
            Err(e) if e.kind() == PortErrorKind::NotFound => return Ok(Err("patient_gone")),
            Err(e) => return Err(e),
        };
        let practice_row = self.ports.practices.practice(practice).await?;
        let location = self
            .ports
            .practices
            .locations(practice)
            .await?
            .into_iter()
            .find(|l| l.id == appt.location_id);
        let zone = location.as_ref().map_or(chrono_tz::Australia::Sydney, |l| l.zone);
        let practitioner = self
            .ports
            .practitioners
            .practitioner(practice, appt.practitioner_id)
            .await?;
        let facts = AppointmentFacts {
            practice: practice_row.name.clone(),
            name: patient
                .preferred_name
                .clone()
                .unwrap_or_else(|| patient.legal_name.given.clone()),
            start: appt.interval.start(),
            zone,
            practitioner: practitioner.display_name.clone(),
            place: if appt.mode.is_telehealth() {
                None
            } else {
                location.map(|l| format!("{}, {}", l.name, l.address))
            },
            contact: practice_row
                .contact
                .clone()
                .unwrap_or_else(|| "the usual number".into()),
        };
        let notice = match n.occasion {
            Occasion::AppointmentConfirmation => Notice::Confirmation(facts),
            Occasion::AppointmentReminder => Notice::Reminder(facts),
            Occasion::AppointmentCancellation => Notice::Cancellation(facts),
            _ => {
                let Some(base) = &channels.join_base else {
                    return Ok(Err("no_join_address"));
                };
                Notice::Telehealth {
                    facts,
                    link: format!("{base}/{}", appt.id),
                }
            }
        };
        let rendered = channels
            .templates
            .render(&notice)
            .map_err(|e| PortError::new(PortErrorKind::Invalid, e.code()))?;
        let when = crate::notify::local_when(appt.interval.start(), zone);
        deliver(&patient, n, rendered, &practice_row.name, Some(when), channels).await
    }

    /// A message-waiting notice: the practice's name, the patient's name and where to sign
    /// in, never the message.
    async fn send_message_waiting(
        &self,
        practice: PracticeId,
        n: &Notification,
        patient_id: crate::ids::PatientId,
        channels: &Channels,
    ) -> Result<Result<Option<String>, &'static str>, PortError> {
        let patient = match self.ports.patients.patient(practice, patient_id).await {
            Ok(p) => p,
            Err(e) if e.kind() == PortErrorKind::NotFound => return Ok(Err("patient_gone")),
            Err(e) => return Err(e),
        };
        let practice_row = self.ports.practices.practice(practice).await?;
        let notice = Notice::MessageWaiting {
            practice: practice_row.name.clone(),
            name: first_name(&patient),
            link: channels
                .inbox_link
                .clone()
                .unwrap_or_else(|| "the practice's patient portal".to_owned()),
        };
        let rendered = channels
            .templates
            .render(&notice)
            .map_err(|e| PortError::new(PortErrorKind::Invalid, e.code()))?;
        deliver(&patient, n, rendered, &practice_row.name, None, channels).await
    }

    /// Queues the notice that a secure message waits for `patient`, by each of their
    /// channels, now, and puts it in their inbox (one per message: queuing twice queues
    /// nothing more).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for a patient not in the practice; a port error.
    pub async fn message_waiting(
        &self,
        practice: PracticeId,
        patient: crate::ids::PatientId,
        thread: crate::ids::ThreadId,
        message: crate::ids::MessageId,
    ) -> Result<usize, ServiceError> {
        let item = self.inbox_item(
            practice,
            Audience::Patient(patient),
            Occasion::MessageWaiting,
            thread.as_uuid(),
            message.as_uuid(),
        );
        self.ports.inbox.deliver(std::slice::from_ref(&item)).await?;
        let now = self.ports.clock.now();
        let p = self
            .ports
            .patients
            .patient(practice, patient)
            .await
            .map_err(ServiceError::from_port("patient"))?;
        let batch: Vec<Notification> = channels_of(&p)
            .into_iter()
            .map(|via| {
                let what = Dispatch {
                    occasion: Occasion::MessageWaiting,
                    audience: Audience::Patient(patient),
                    via,
                    about: message.as_uuid(),
                };
                Notification::new(self.ports.ids.new_id(), practice, what, now, now)
            })
            .collect();
        Ok(self.ports.outbox.enqueue(&batch).await?)
    }
}

fn first_name(patient: &Patient) -> String {
    patient
        .preferred_name
        .clone()
        .unwrap_or_else(|| patient.legal_name.given.clone())
}

/// Sends a rendered notice to a patient by the notification's channel (a minor's by their
/// guardian's details when they have none). WhatsApp uses the practice's approved
/// template, whose variables are the practice, the name and, for appointments, the time.
async fn deliver(
    patient: &Patient,
    n: &Notification,
    rendered: crate::notify::Rendered,
    practice_name: &str,
    when: Option<String>,
    channels: &Channels,
) -> Result<Result<Option<String>, &'static str>, PortError> {
    match n.via {
        Via::Email => {
            let to = patient
                .email
                .clone()
                .or_else(|| patient.guardian.as_ref().and_then(|g| g.email.clone()));
            let Some(to) = to else {
                return Ok(Err("no_email_address"));
            };
            let email = EmailMessage {
                to,
                reply_to: None,
                subject: rendered.subject,
                text: rendered.text,
                html: Some(rendered.html),
                attachments: vec![],
            };
            channels.email.send(&email).await.map(Ok)
        }
        Via::Sms | Via::WhatsApp => {
            let to = patient
                .phone
                .clone()
                .or_else(|| patient.guardian.as_ref().map(|g| g.phone.clone()));
            let Some(to) = to else {
                return Ok(Err("no_phone_number"));
            };
            let (channel, template) = if n.via == Via::Sms {
                (Channel::Sms, None)
            } else {
                let Some(id) = channels.whatsapp_templates.get(&n.occasion) else {
                    return Err(PortError::new(
                        PortErrorKind::Invalid,
                        "no approved WhatsApp template for this occasion",
                    ));
                };
                let mut variables = vec![practice_name.to_owned(), first_name(patient)];
                variables.extend(when);
                (
                    Channel::WhatsApp,
                    Some(ApprovedTemplate {
                        id: id.clone(),
                        variables,
                    }),
                )
            };
            let message = TextMessage {
                channel,
                to,
                body: rendered.short,
                template,
            };
            channels
                .messages
                .send(&message)
                .await
                .map(|sent| Ok(Some(sent.provider_id)))
        }
    }
}

/// How many times an appointment has been moved (each move is kept in its history).
fn moves_of(appt: &Appointment) -> u32 {
    u32::try_from(appt.history.len()).unwrap_or(u32::MAX)
}
