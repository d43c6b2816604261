//! Invoicing, payments and Medicare claims, and the booking-time Medicare warnings.
//!
//! Writes are guarded like bookings: an invoice update is a compare-and-swap on its
//! revision, a claim on the patient's claim-history version, so two concurrent claims for
//! the last session under the cap cannot both be made and a payment never lands on a
//! stale balance.

use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

use super::error::{ServiceError, settle};
use crate::billing::{
    Claim, ClaimStatus, CreditNote, GstRates, Invoice, LineInput, Payer, Payment, PaymentMethod, Refund,
};
use crate::ids::{AppointmentId, ClaimId, InvoiceId, PatientId, PaymentId, PracticeId, ReferralId};
use crate::medicare::{CapKind, CapTable, Catalogue, Decision, ItemMode, Referral, Session, decide};
use crate::money::Money;
use crate::ports::{
    AppointmentRepository, ClaimGateway, ClaimRepository, Clock, CredentialRepository, IdGenerator, IdGeneratorExt,
    IntentRequest, InvoiceRepository, PatientRepository, PaymentEvent, PaymentGateway, PaymentIntent, PortErrorKind,
    PracticeRepository, PractitionerRepository, ReferralRepository, RefundRequest,
};
use crate::scheduling::{Appointment, DeliveryMode, StatusKind};
use crate::time::{TimeRange, local_date};

use super::booking::MAX_ATTEMPTS;

/// The ports billing needs.
#[derive(Clone)]
pub struct BillingPorts {
    /// Practices, locations, services.
    pub practices: Arc<dyn PracticeRepository>,
    /// Patients.
    pub patients: Arc<dyn PatientRepository>,
    /// Practitioners.
    pub practitioners: Arc<dyn PractitionerRepository>,
    /// Appointments (the sessions claimed).
    pub appointments: Arc<dyn AppointmentRepository>,
    /// Invoices.
    pub invoices: Arc<dyn InvoiceRepository>,
    /// Claims.
    pub claims: Arc<dyn ClaimRepository>,
    /// Referrals.
    pub referrals: Arc<dyn ReferralRepository>,
    /// Where claims are lodged.
    pub gateway: Arc<dyn ClaimGateway>,
    /// Credentials (the clinical psychology endorsement).
    pub credentials: Arc<dyn CredentialRepository>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

/// The rule tables billing decides with.
#[derive(Clone, Debug)]
pub struct BillingRules {
    /// MBS items.
    pub catalogue: Arc<Catalogue>,
    /// Caps.
    pub caps: Arc<CapTable>,
    /// GST rates.
    pub gst: Arc<GstRates>,
}

impl Default for BillingRules {
    /// The shipped tables.
    fn default() -> Self {
        Self {
            catalogue: Arc::new(Catalogue::shipped()),
            caps: Arc::new(CapTable::shipped()),
            gst: Arc::new(GstRates::australia()),
        }
    }
}

/// What to claim: an invoice line for a session, how it was delivered, and under which
/// referral.
#[derive(Clone, Debug)]
pub struct ClaimRequest {
    /// The issued invoice.
    pub invoice_id: InvoiceId,
    /// The line (0-based); it must carry Medicare particulars and an appointment.
    pub line: u16,
    /// The referral claimed under.
    pub referral_id: Option<ReferralId>,
    /// Delivered out of consulting rooms (an in-person session elsewhere).
    pub out_of_rooms: bool,
    /// For group video items: the patient is in an eligible area.
    pub group_video_area_eligible: bool,
}

/// A warning given when booking, which never blocks the booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum BookingWarning {
    /// With the sessions already claimed and booked this calendar year, this one would be
    /// over the Better Access cap.
    WouldExceedCap {
        /// Sessions claimed or booked in the year before this one.
        counted: u16,
        /// The cap.
        cap: u16,
    },
    /// The patient has no referral on file.
    NoReferral,
    /// The latest referral's course is used by claimed and booked sessions: a review and a
    /// new referral are needed.
    NeedsNewReferral,
}

/// What applying a payment-provider event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The invoice changed: a payment or a refund was recorded.
    Applied(Box<Invoice>),
    /// The event had already been applied (a repeated delivery): nothing changed.
    AlreadyApplied,
    /// The event needs nothing from billing (a failed attempt, an event not acted on).
    NothingToDo,
    /// The event could not be applied as it stands (money taken beyond what the invoice
    /// owes, or a refund of a payment not recorded here); acknowledged for staff to resolve.
    NeedsAttention {
        /// The billing rule's code.
        code: &'static str,
    },
}

/// What an invoice change made for a provider event amounts to: applied; already applied
/// (the change found nothing to do — another delivery won); or, when a billing rule refused
/// it (money taken beyond what is owed, a refund of an unknown payment), acknowledged for
/// staff to resolve.
/// A refund asked of [`BillingService::refund_payment`].
#[derive(Clone, Copy, Debug)]
pub struct RefundPayment<'a> {
    /// The payment refunded.
    pub payment_id: PaymentId,
    /// How much of it.
    pub amount: Money,
    /// Why (kept on the invoice).
    pub reason: &'a str,
    /// The caller's key for this refund: the same key again is the same refund.
    pub request_key: &'a str,
}

/// What became of a refund.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RefundOutcome {
    /// Refunded by hand and recorded on the invoice.
    Recorded(Invoice),
    /// Asked of the payment provider; the invoice records it when the provider confirms.
    Requested {
        /// The invoice as it stands.
        invoice: Invoice,
        /// The provider's refund.
        refund: crate::ports::ProviderRefund,
    },
}

/// One annual cap's count for a patient in a calendar year.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapCount {
    /// Sessions claimed from Medicare with a service date in the year.
    pub claimed: u16,
    /// Sessions booked ahead in the year, not yet claimed.
    pub booked: u16,
    /// The cap in force (rule sheet §1, versioned in `caps.txt`).
    pub cap: u16,
    /// What is left once the booked sessions are claimed (never below zero).
    pub remaining: u16,
}

/// The referral course a patient's next Medicare session would be claimed under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CourseUsage {
    /// The latest referral written on or before the day asked about.
    pub referral_id: ReferralId,
    /// The date on the letter.
    pub written_on: NaiveDate,
    /// Sessions the course covers: the letter's request, at most the course maximum.
    pub covers: u16,
    /// Sessions claimed under it.
    pub used: u16,
}

/// A patient's Better Access usage in one calendar year, counted by the service date in
/// the clinic's zone (never the server's year), as the practice and the patient see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapUsage {
    /// The calendar year.
    pub year: i32,
    /// Individual sessions.
    pub individual: CapCount,
    /// Group sessions.
    pub group: CapCount,
    /// The referral course in use, if any referral is on file.
    pub course: Option<CourseUsage>,
}

fn outcome(result: Result<Invoice, ServiceError>) -> Result<PaymentOutcome, ServiceError> {
    match result {
        Ok(inv) => Ok(PaymentOutcome::Applied(Box::new(inv))),
        Err(ServiceError::Contention) => Ok(PaymentOutcome::AlreadyApplied),
        Err(ServiceError::Billing(e)) => Ok(PaymentOutcome::NeedsAttention { code: e.code() }),
        Err(e) => Err(e),
    }
}

/// The billing use cases.
#[derive(Clone)]
pub struct BillingService {
    ports: BillingPorts,
    rules: BillingRules,
}

/// Maps a delivered appointment to the MBS mode it can be claimed under.
fn item_mode(a: &Appointment, out_of_rooms: bool) -> ItemMode {
    let group = a.patient_ids.len() > 1;
    match (a.mode, group) {
        (DeliveryMode::InPerson, true) => ItemMode::GroupInPerson,
        (DeliveryMode::Video | DeliveryMode::Phone, true) => ItemMode::GroupVideo,
        (DeliveryMode::InPerson, false) if out_of_rooms => ItemMode::OutOfRooms,
        (DeliveryMode::InPerson, false) => ItemMode::InRooms,
        (DeliveryMode::Video, false) => ItemMode::Video,
        (DeliveryMode::Phone, false) => ItemMode::Phone,
    }
}

impl BillingService {
    /// A service over `ports` with `rules`.
    #[must_use]
    pub fn new(ports: BillingPorts, rules: BillingRules) -> Self {
        Self { ports, rules }
    }

    /// The zone of one of the practice's locations; a location that does not exist is
    /// not found rather than guessed.
    async fn zone_of(
        &self,
        practice: PracticeId,
        location: crate::ids::LocationId,
    ) -> Result<chrono_tz::Tz, ServiceError> {
        self.ports
            .practices
            .locations(practice)
            .await?
            .into_iter()
            .find(|l| l.id == location)
            .map(|l| l.zone)
            .ok_or(ServiceError::NotFound { entity: "location" })
    }

    /// Creates a draft invoice.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for an unknown patient; [`ServiceError::Billing`] for a
    /// bad line.
    pub async fn create_invoice(
        &self,
        practice: PracticeId,
        patient: PatientId,
        payer: Payer,
        lines: Vec<LineInput>,
    ) -> Result<Invoice, ServiceError> {
        let record = self
            .ports
            .patients
            .patient(practice, patient)
            .await
            .map_err(ServiceError::from_port("patient"))?;
        // A payer's name and address on a new invoice would name a de-identified record.
        if record.deidentified {
            return Err(super::Refusal::Deidentified.into());
        }
        let mut inv = Invoice::draft(self.ports.ids.new_id(), practice, patient, payer);
        for l in lines {
            inv.add_line(l, &self.rules.gst)?;
        }
        self.ports.invoices.save_draft(&inv).await?;
        inv.revision += 1;
        Ok(inv)
    }

    /// Issues a draft with the practice's next number, dated today in `zone`.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Billing`] for an issued invoice or one
    /// without lines.
    pub async fn issue(
        &self,
        practice: PracticeId,
        id: InvoiceId,
        zone: chrono_tz::Tz,
    ) -> Result<Invoice, ServiceError> {
        for _ in 0..MAX_ATTEMPTS {
            let inv = self
                .ports
                .invoices
                .invoice(practice, id)
                .await
                .map_err(ServiceError::from_port("invoice"))?;
            let today = local_date(zone, self.ports.clock.now());
            // A dry run gives the domain's own error for an issued or empty invoice.
            inv.clone().issue(0, today)?;
            match self.ports.invoices.issue(practice, id, inv.revision, today).await {
                Ok(issued) => return Ok(issued),
                Err(e) if e.kind() == PortErrorKind::Conflict => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Contention)
    }

    async fn update_invoice<F>(
        &self,
        practice: PracticeId,
        id: InvoiceId,
        mut change: F,
    ) -> Result<Invoice, ServiceError>
    where
        F: FnMut(&mut Invoice) -> Result<(), ServiceError> + Send,
    {
        for _ in 0..MAX_ATTEMPTS {
            let mut inv = self
                .ports
                .invoices
                .invoice(practice, id)
                .await
                .map_err(ServiceError::from_port("invoice"))?;
            change(&mut inv)?;
            if let Some(mut done) = settle(self.ports.invoices.update(&inv).await, inv)? {
                done.revision += 1;
                return Ok(done);
            }
        }
        Err(ServiceError::Contention)
    }

    /// Records a payment of at most the balance.
    ///
    /// # Errors
    /// [`ServiceError::Billing`] for an overpayment, a draft, or a bad amount.
    pub async fn pay(
        &self,
        practice: PracticeId,
        id: InvoiceId,
        amount: Money,
        method: PaymentMethod,
        reference: Option<String>,
    ) -> Result<Invoice, ServiceError> {
        let payment_id: PaymentId = self.ports.ids.new_id();
        let at = self.ports.clock.now();
        self.update_invoice(practice, id, |inv| {
            Ok(inv.pay(Payment {
                id: payment_id,
                amount,
                method,
                at,
                reference: reference.clone(),
            })?)
        })
        .await
    }

    /// Refunds part or all of a payment.
    ///
    /// # Errors
    /// [`ServiceError::Billing`] for an unknown payment or a refund over what was paid.
    pub async fn refund(
        &self,
        practice: PracticeId,
        id: InvoiceId,
        payment_id: PaymentId,
        amount: Money,
        reason: &str,
    ) -> Result<Invoice, ServiceError> {
        let at = self.ports.clock.now();
        self.update_invoice(practice, id, |inv| {
            Ok(inv.refund(Refund {
                payment_id,
                amount,
                at,
                reason: reason.to_owned(),
            })?)
        })
        .await
    }

    /// Refunds part or all of a payment.
    ///
    /// A payment the provider took (a card payment whose reference is the provider's
    /// intent) is refunded by asking the provider, and the refund is recorded on the
    /// invoice when the provider's `charge.refunded` notification arrives, by its
    /// cumulative total ([`Self::apply_payment_event`]): the provider is the only party
    /// that knows whether a refund happened, so recording it from the notification alone
    /// records it exactly once however requests and notifications interleave. The
    /// provider is asked with an idempotency key built from the invoice, the payment and
    /// the caller's `request` key, so a retried request never refunds twice.
    ///
    /// Any other payment (cash, transfer, a terminal outside the provider) is refunded by
    /// hand and recorded at once.
    ///
    /// # Errors
    /// [`ServiceError::Billing`] for an unknown payment or a refund over what is left of it,
    /// checked before the provider is asked; [`ServiceError::Invalid`] for a blank or overlong
    /// request key; a port error from the provider.
    pub async fn refund_payment(
        &self,
        practice: PracticeId,
        id: InvoiceId,
        request: &RefundPayment<'_>,
        gateway: &dyn PaymentGateway,
    ) -> Result<RefundOutcome, ServiceError> {
        let key = request.request_key.trim();
        if key.is_empty() || key.len() > 100 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(crate::FieldError::new("request_key", "must be 1 to 100 printable ASCII characters").into());
        }
        let current = self
            .ports
            .invoices
            .invoice(practice, id)
            .await
            .map_err(ServiceError::from_port("invoice"))?;
        // The domain's own check, on a copy, before any money moves.
        current.clone().refund(Refund {
            payment_id: request.payment_id,
            amount: request.amount,
            at: self.ports.clock.now(),
            reason: request.reason.to_owned(),
        })?;
        let Some(payment) = current.payments.iter().find(|p| p.id == request.payment_id) else {
            return Err(crate::billing::BillingError::UnknownPayment.into());
        };
        match (payment.reference.clone(), payment.method) {
            (Some(intent), PaymentMethod::Card) => {
                let refund = gateway
                    .refund(&RefundRequest {
                        intent,
                        amount: Some(request.amount),
                        idempotency_key: format!("refund-{id}-{}-{key}", request.payment_id),
                    })
                    .await
                    .map_err(ServiceError::Port)?;
                Ok(RefundOutcome::Requested {
                    invoice: current,
                    refund,
                })
            }
            _ => Ok(RefundOutcome::Recorded(
                self.refund(practice, id, request.payment_id, request.amount, request.reason)
                    .await?,
            )),
        }
    }

    /// Starts (or, for the same attempt, resumes) a card payment of an issued invoice's
    /// balance through the payment provider. The provider's idempotency key is derived from
    /// the invoice and `attempt`, so a retried request never creates a second charge.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Billing`] for a draft;
    /// [`ServiceError::Invalid`] when nothing is owing; a port error from the provider.
    pub async fn start_card_payment(
        &self,
        practice: PracticeId,
        id: InvoiceId,
        attempt: u32,
        gateway: &dyn PaymentGateway,
    ) -> Result<PaymentIntent, ServiceError> {
        let inv = self
            .ports
            .invoices
            .invoice(practice, id)
            .await
            .map_err(ServiceError::from_port("invoice"))?;
        let Some(number) = inv.number else {
            return Err(crate::billing::BillingError::NotIssued.into());
        };
        let balance = inv.balance();
        if balance <= Money::ZERO {
            return Err(crate::FieldError::new("invoice", "has nothing owing").into());
        }
        if attempt == 0 {
            return Err(crate::FieldError::new("attempt", "starts at 1").into());
        }
        gateway
            .create_intent(&IntentRequest {
                practice,
                invoice: id,
                invoice_number: Some(number.to_string()),
                amount: balance,
                attempt,
            })
            .await
            .map_err(ServiceError::Port)
    }

    /// Applies a verified payment-provider event to its invoice, exactly once however many
    /// times it is delivered:
    /// - a succeeded intent records a card payment whose reference is the intent id, unless
    ///   a payment with that reference is already recorded;
    /// - a refunded charge records the difference between the provider's cumulative refunded
    ///   amount and the refunds already recorded against that payment (the invoice is found
    ///   through the intent's metadata, read from the provider);
    /// - a failed payment or any other event changes nothing.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for an event whose metadata names no invoice;
    /// [`ServiceError::NotFound`]; a port error.
    pub async fn apply_payment_event(
        &self,
        event: &PaymentEvent,
        gateway: &dyn PaymentGateway,
    ) -> Result<PaymentOutcome, ServiceError> {
        let at = self.ports.clock.now();
        match event {
            PaymentEvent::Succeeded {
                intent,
                amount,
                practice,
                invoice,
                ..
            } => {
                let (Some(practice), Some(invoice)) = (*practice, *invoice) else {
                    return Err(crate::FieldError::new("metadata", "names no practice and invoice").into());
                };
                let current = self
                    .ports
                    .invoices
                    .invoice(practice, invoice)
                    .await
                    .map_err(ServiceError::from_port("invoice"))?;
                if current
                    .payments
                    .iter()
                    .any(|p| p.reference.as_deref() == Some(intent.as_str()))
                {
                    return Ok(PaymentOutcome::AlreadyApplied);
                }
                let payment_id: PaymentId = self.ports.ids.new_id();
                let result = self
                    .update_invoice(practice, invoice, |inv| {
                        if inv
                            .payments
                            .iter()
                            .any(|p| p.reference.as_deref() == Some(intent.as_str()))
                        {
                            return Err(ServiceError::Contention);
                        }
                        Ok(inv.pay(Payment {
                            id: payment_id,
                            amount: *amount,
                            method: PaymentMethod::Card,
                            at,
                            reference: Some(intent.clone()),
                        })?)
                    })
                    .await;
                outcome(result)
            }
            PaymentEvent::Refunded {
                intent, total_refunded, ..
            } => {
                let pi = gateway
                    .intent(intent)
                    .await
                    .map_err(ServiceError::from_port("payment intent"))?;
                let (Some(practice), Some(invoice)) = (pi.practice, pi.invoice) else {
                    return Err(crate::FieldError::new("metadata", "names no practice and invoice").into());
                };
                let result = self
                    .update_invoice(practice, invoice, |inv| {
                        let Some(payment) = inv
                            .payments
                            .iter()
                            .find(|p| p.reference.as_deref() == Some(intent.as_str()))
                        else {
                            return Err(crate::billing::BillingError::UnknownPayment.into());
                        };
                        let payment_id = payment.id;
                        let recorded = inv
                            .refunds
                            .iter()
                            .filter(|r| r.payment_id == payment_id)
                            .fold(Money::ZERO, |acc, r| acc + r.amount);
                        let added = *total_refunded - recorded;
                        if added <= Money::ZERO {
                            return Err(ServiceError::Contention);
                        }
                        Ok(inv.refund(Refund {
                            payment_id,
                            amount: added,
                            at,
                            reason: "refunded at the payment provider".into(),
                        })?)
                    })
                    .await;
                outcome(result)
            }
            PaymentEvent::Failed { .. } | PaymentEvent::Ignored { .. } => Ok(PaymentOutcome::NothingToDo),
        }
    }

    /// Issues a credit note against an invoice.
    ///
    /// # Errors
    /// [`ServiceError::Billing`] for a credit over what is left to credit.
    pub async fn credit(
        &self,
        practice: PracticeId,
        id: InvoiceId,
        amount: Money,
        reason: &str,
    ) -> Result<Invoice, ServiceError> {
        let at = self.ports.clock.now();
        self.update_invoice(practice, id, |inv| {
            Ok(inv.credit(CreditNote {
                amount,
                at,
                reason: reason.to_owned(),
            })?)
        })
        .await
    }

    /// Everything the decision for `req` needs, loaded.
    async fn claim_inputs(
        &self,
        practice: PracticeId,
        req: &ClaimRequest,
    ) -> Result<
        (
            Invoice,
            Appointment,
            String,
            Session<'static>,
            Option<Referral>,
            crate::people::Practitioner,
        ),
        ServiceError,
    > {
        let inv = self
            .ports
            .invoices
            .invoice(practice, req.invoice_id)
            .await
            .map_err(ServiceError::from_port("invoice"))?;
        if inv.number.is_none() {
            return Err(crate::billing::BillingError::NotIssued.into());
        }
        let line = inv
            .lines
            .get(usize::from(req.line))
            .ok_or(ServiceError::NotFound { entity: "invoice line" })?;
        let medicare = line
            .medicare
            .clone()
            .ok_or_else(|| crate::FieldError::new("line", "has no Medicare particulars"))?;
        let appointment_id = line
            .appointment_id
            .ok_or_else(|| crate::FieldError::new("line", "is not for an appointment"))?;
        let appt = self
            .ports
            .appointments
            .appointment(practice, appointment_id)
            .await
            .map_err(ServiceError::from_port("appointment"))?;
        if appt.status_kind() != crate::scheduling::StatusKind::Completed {
            return Err(crate::FieldError::new("appointment", "must be completed before it is claimed").into());
        }
        let practitioner = self
            .ports
            .practitioners
            .practitioner(practice, appt.practitioner_id)
            .await
            .map_err(ServiceError::from_port("practitioner"))?;
        let zone = self.zone_of(practice, appt.location_id).await?;
        let date = local_date(zone, appt.interval.start());
        let referral = match req.referral_id {
            None => None,
            Some(id) => Some(
                self.ports
                    .referrals
                    .referral(practice, id)
                    .await
                    .map_err(ServiceError::from_port("referral"))?,
            ),
        };
        // The clinical psychologist items need the PsyBA clinical endorsement on a
        // registration in force on the service date; without it the practitioner claims
        // as a registered psychologist.
        let mut kind = practitioner.kind;
        if kind == crate::people::PractitionerKind::ClinicalPsychologist {
            let creds = self.ports.credentials.credentials(practice, practitioner.id).await?;
            if !creds.clinically_endorsed_on(date, &crate::credentials::RenewalRules::default()) {
                kind = crate::people::PractitionerKind::RegisteredPsychologist;
            }
        }
        let session = Session {
            item: "",
            practitioner_kind: kind,
            practitioner_permitted: !practitioner.is_suspended_on(date),
            mode: item_mode(&appt, req.out_of_rooms),
            minutes: u32::try_from(appt.interval.duration().num_minutes()).unwrap_or(u32::MAX),
            group_size: (appt.patient_ids.len() > 1).then(|| u16::try_from(appt.patient_ids.len()).unwrap_or(u16::MAX)),
            group_video_area_eligible: req.group_video_area_eligible,
            date,
            fee_charged: line.net,
        };
        Ok((inv, appt, medicare.item, session, referral, practitioner))
    }

    /// The eligibility decision for claiming an invoice line, without claiming it.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] and invalid-line errors as for [`BillingService::claim`].
    pub async fn decide(&self, practice: PracticeId, req: &ClaimRequest) -> Result<Decision, ServiceError> {
        let (inv, _, item, session, referral, _) = self.claim_inputs(practice, req).await?;
        let history = self.ports.claims.history(practice, inv.patient_id).await?;
        let s = Session { item: &item, ..session };
        Ok(decide(
            &self.rules.catalogue,
            &self.rules.caps,
            &s,
            &history.past_services(),
            referral.as_ref(),
        ))
    }

    /// Creates a draft claim for an invoice line if the session is claimable, guarded so
    /// that two claims decided on the same history (say, both the last session under the
    /// cap) cannot both be made. A session that is not claimable can still be invoiced
    /// privately; it just cannot be claimed.
    ///
    /// # Errors
    /// [`ServiceError::NotClaimable`] with every reason; [`ServiceError::Contention`].
    pub async fn claim(&self, practice: PracticeId, req: &ClaimRequest) -> Result<Claim, ServiceError> {
        let (inv, _, item, session, referral, practitioner) = self.claim_inputs(practice, req).await?;
        let s = Session { item: &item, ..session };
        let line = &inv.lines[usize::from(req.line)];
        for _ in 0..MAX_ATTEMPTS {
            let history = self.ports.claims.history(practice, inv.patient_id).await?;
            if history
                .claims
                .iter()
                .any(|c| c.invoice_id == inv.id && c.line == req.line && c.counts())
            {
                return Err(crate::FieldError::new("line", "is already claimed").into());
            }
            let decision = decide(
                &self.rules.catalogue,
                &self.rules.caps,
                &s,
                &history.past_services(),
                referral.as_ref(),
            );
            if !decision.claimable {
                return Err(ServiceError::NotClaimable {
                    reasons: decision.reasons,
                });
            }
            let claim = Claim {
                id: self.ports.ids.new_id(),
                practice_id: practice,
                invoice_id: inv.id,
                line: req.line,
                patient_id: inv.patient_id,
                practitioner_id: practitioner.id,
                referral_id: referral.as_ref().map(|r| r.id),
                item: item.clone(),
                service_date: s.date,
                cap: decision.cap_kind.unwrap_or(crate::medicare::CapKind::Individual),
                fee_charged: line.net,
                benefit: decision.rebate.unwrap_or(Money::ZERO),
                bulk_billed: line.medicare.as_ref().is_some_and(|m| m.bulk_billed),
                status: ClaimStatus::Draft,
            };
            if let Some(done) = settle(
                self.ports.claims.commit_claim(practice, history.version, &claim).await,
                claim,
            )? {
                return Ok(done);
            }
        }
        Err(ServiceError::Contention)
    }

    async fn update_claim<F>(&self, practice: PracticeId, id: ClaimId, mut change: F) -> Result<Claim, ServiceError>
    where
        F: FnMut(&mut Claim) -> Result<(), ServiceError> + Send,
    {
        for _ in 0..MAX_ATTEMPTS {
            let mut claim = self
                .ports
                .claims
                .claim(practice, id)
                .await
                .map_err(ServiceError::from_port("claim"))?;
            let history = self.ports.claims.history(practice, claim.patient_id).await?;
            change(&mut claim)?;
            if let Some(done) = settle(
                self.ports.claims.commit_claim(practice, history.version, &claim).await,
                claim,
            )? {
                return Ok(done);
            }
        }
        Err(ServiceError::Contention)
    }

    /// Lodges a draft claim through the gateway.
    ///
    /// # Errors
    /// [`ServiceError::ClaimTransition`] unless the claim is a draft; the gateway's error.
    pub async fn lodge(&self, practice: PracticeId, id: ClaimId) -> Result<Claim, ServiceError> {
        let claim = self
            .ports
            .claims
            .claim(practice, id)
            .await
            .map_err(ServiceError::from_port("claim"))?;
        if claim.status != ClaimStatus::Draft {
            return Err(crate::billing::ClaimTransitionError {
                from: claim.status.name(),
                to: "lodged",
            }
            .into());
        }
        // A suspended practitioner's claims are not lodged (credentials sweep).
        let practitioner = self
            .ports
            .practitioners
            .practitioner(practice, claim.practitioner_id)
            .await
            .map_err(ServiceError::from_port("practitioner"))?;
        let zone = self
            .ports
            .practices
            .locations(practice)
            .await?
            .first()
            .map_or(chrono_tz::UTC, |l| l.zone);
        let today = local_date(zone, self.ports.clock.now());
        if let Some(s) = &practitioner.suspension
            && s.from <= claim.service_date.max(today)
        {
            return Err(crate::scheduling::SchedulingError::PractitionerNotPermitted {
                reason_code: s.reason_code.clone(),
            }
            .into());
        }
        let reference = self.ports.gateway.lodge(&claim).await?;
        let at = self.ports.clock.now();
        self.update_claim(practice, id, |c| Ok(c.lodge(at, reference.clone())?))
            .await
    }

    /// Records Medicare's answer to a lodged claim: paid with an amount, or rejected with a
    /// reason (which frees the place under the cap).
    ///
    /// # Errors
    /// [`ServiceError::ClaimTransition`] unless the claim is lodged.
    pub async fn record_outcome(
        &self,
        practice: PracticeId,
        id: ClaimId,
        outcome: Result<Money, String>,
    ) -> Result<Claim, ServiceError> {
        let at = self.ports.clock.now();
        self.update_claim(practice, id, |c| {
            match &outcome {
                Ok(amount) => c.paid(at, *amount)?,
                Err(reason) => c.reject(at, reason.clone())?,
            }
            Ok(())
        })
        .await
    }

    /// Warnings for a booked appointment of a Medicare service, which never block it:
    /// over the annual cap its item counts against (individual or group, rule sheet §1),
    /// counting the sessions already claimed under that cap in its calendar year plus
    /// the patient's other bookings ahead under it that year; no referral on file; or the
    /// latest referral's course used up by claims and those bookings ahead.
    ///
    /// # Errors
    /// Port errors only.
    pub async fn booking_warnings(
        &self,
        practice: PracticeId,
        appointment: AppointmentId,
    ) -> Result<Vec<BookingWarning>, ServiceError> {
        let appt = self
            .ports
            .appointments
            .appointment(practice, appointment)
            .await
            .map_err(ServiceError::from_port("appointment"))?;
        self.warnings_for(practice, &appt).await
    }

    /// [`booking_warnings`](Self::booking_warnings) for an appointment already in hand (as
    /// just booked), without reading it again.
    ///
    /// # Errors
    /// A port failure.
    pub async fn warnings_for(
        &self,
        practice: PracticeId,
        appt: &Appointment,
    ) -> Result<Vec<BookingWarning>, ServiceError> {
        let services = self.ports.practices.services(practice).await?;
        let Some(item_no) = services
            .iter()
            .find(|s| s.id == appt.service_id)
            .and_then(|s| s.default_mbs_item.clone())
        else {
            return Ok(Vec::new());
        };
        let locations = self.ports.practices.locations(practice).await?;
        let zone = locations
            .iter()
            .find(|l| l.id == appt.location_id)
            .map(|l| l.zone)
            .ok_or(ServiceError::NotFound { entity: "location" })?;
        let date = local_date(zone, appt.interval.start());
        let (Some(item), Some(rule)) = (
            self.rules.catalogue.item_as_at(&item_no, date),
            self.rules.caps.as_at(date),
        ) else {
            return Ok(Vec::new());
        };
        let mut warnings = Vec::new();
        for patient in &appt.patient_ids {
            let history = self.ports.claims.history(practice, *patient).await?.past_services();
            let ahead = self
                .booked_ahead(practice, *patient, date.year(), Some(appt.id), &services, &locations)
                .await?;
            let future = ahead.of(item.cap);
            let claimed = history
                .iter()
                .filter(|s| s.claimed && s.cap == item.cap && s.date.year() == date.year())
                .count();
            let counted = u16::try_from(claimed + future).unwrap_or(u16::MAX);
            let cap = rule.cap(item.cap);
            if counted >= cap && !warnings.contains(&BookingWarning::WouldExceedCap { counted, cap }) {
                warnings.push(BookingWarning::WouldExceedCap { counted, cap });
            }
            let referrals = self.ports.referrals.referrals(practice, *patient).await?;
            match referrals
                .iter()
                .filter(|r| r.written_on <= date)
                .max_by_key(|r| r.written_on)
            {
                None => warnings.push(BookingWarning::NoReferral),
                Some(r) => {
                    let covers = usize::from(
                        r.sessions_requested
                            .map_or(rule.per_referral_course, |n| n.min(rule.per_referral_course)),
                    );
                    let used = history
                        .iter()
                        .filter(|s| s.claimed && s.referral_id == Some(r.id))
                        .count();
                    if used + future >= covers {
                        warnings.push(BookingWarning::NeedsNewReferral);
                    }
                }
            }
        }
        Ok(warnings)
    }

    /// The patient's sessions booked ahead in calendar `year` at the clinic, counted by
    /// the annual cap they fall under: sessions still to come (requested, booked or
    /// confirmed, starting after now) of a service with an MBS item, in that year by the
    /// date at their own location, under the cap of the item in force on that date.
    /// `except` is left out (the booking being warned about). Read through
    /// [`patient_sessions`](crate::ports::AppointmentRepository::patient_sessions), so a
    /// year of bookings costs a few columns each.
    async fn booked_ahead(
        &self,
        practice: PracticeId,
        patient: PatientId,
        year: i32,
        except: Option<AppointmentId>,
        services: &[crate::practice::Service],
        locations: &[crate::practice::Location],
    ) -> Result<BookedAhead, ServiceError> {
        let now = self.ports.clock.now();
        // The calendar year at the clinic, with a day's margin either side for zone offsets.
        let window = year_window(year)?;
        let sessions = self
            .ports
            .appointments
            .patient_sessions(practice, patient, window)
            .await?;
        let mut ahead = BookedAhead::default();
        for s in &sessions {
            let still_ahead = matches!(
                s.status,
                StatusKind::Requested | StatusKind::Booked | StatusKind::Confirmed
            );
            if s.start <= now || !still_ahead || Some(s.appointment) == except {
                continue;
            }
            let Some(zone) = locations.iter().find(|l| l.id == s.location).map(|l| l.zone) else {
                continue;
            };
            let date = local_date(zone, s.start);
            if date.year() != year {
                continue;
            }
            let cap = services
                .iter()
                .find(|x| x.id == s.service)
                .and_then(|x| x.default_mbs_item.as_deref())
                .and_then(|item| self.rules.catalogue.item_as_at(item, date))
                .map(|item| item.cap);
            match cap {
                Some(CapKind::Individual) => ahead.individual += 1,
                Some(CapKind::Group) => ahead.group += 1,
                None => {}
            }
        }
        Ok(ahead)
    }

    /// A patient's Better Access usage in calendar `year`: sessions claimed and booked
    /// against each annual cap, and the referral course in use. The cap is the one in
    /// force on `on` (a date in that year: today for the current year), because the cap
    /// changed mid-year before (rule sheet §1).
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] when `on` is not in `year`; port errors.
    pub async fn cap_usage(
        &self,
        practice: PracticeId,
        patient: PatientId,
        year: i32,
        on: NaiveDate,
    ) -> Result<CapUsage, ServiceError> {
        if on.year() != year {
            return Err(crate::FieldError::new("on", "must be a date in the year asked about").into());
        }
        let rule = self
            .rules
            .caps
            .as_at(on)
            .ok_or(ServiceError::NotFound { entity: "cap rule" })?;
        let history = self.ports.claims.history(practice, patient).await?.past_services();
        let claimed = |kind: CapKind| {
            history
                .iter()
                .filter(|s| s.claimed && s.cap == kind && s.date.year() == year)
                .count()
        };
        let services = self.ports.practices.services(practice).await?;
        let locations = self.ports.practices.locations(practice).await?;
        let ahead = self
            .booked_ahead(practice, patient, year, None, &services, &locations)
            .await?;
        let count = |claimed: usize, booked: usize, cap: u16| {
            let claimed = u16::try_from(claimed).unwrap_or(u16::MAX);
            let booked = u16::try_from(booked).unwrap_or(u16::MAX);
            CapCount {
                claimed,
                booked,
                cap,
                remaining: cap.saturating_sub(claimed.saturating_add(booked)),
            }
        };
        let referrals = self.ports.referrals.referrals(practice, patient).await?;
        let course = referrals
            .iter()
            .filter(|r| r.written_on <= on)
            .max_by_key(|r| r.written_on)
            .map(|r| CourseUsage {
                referral_id: r.id,
                written_on: r.written_on,
                covers: r
                    .sessions_requested
                    .map_or(rule.per_referral_course, |n| n.min(rule.per_referral_course)),
                used: u16::try_from(
                    history
                        .iter()
                        .filter(|s| s.claimed && s.referral_id == Some(r.id))
                        .count(),
                )
                .unwrap_or(u16::MAX),
            });
        Ok(CapUsage {
            year,
            individual: count(
                claimed(CapKind::Individual),
                ahead.individual,
                rule.cap(CapKind::Individual),
            ),
            group: count(claimed(CapKind::Group), ahead.group, rule.cap(CapKind::Group)),
            course,
        })
    }
}

/// Sessions booked ahead in a year, by the annual cap they count against.
#[derive(Clone, Copy, Debug, Default)]
struct BookedAhead {
    individual: usize,
    group: usize,
}

impl BookedAhead {
    fn of(self, cap: CapKind) -> usize {
        match cap {
            CapKind::Individual => self.individual,
            CapKind::Group => self.group,
        }
    }
}

/// Calendar `year` in UTC with a day's margin either side, so that every instant whose
/// date at any clinic is in that year falls inside it (zone offsets are under a day).
fn year_window(year: i32) -> Result<TimeRange, ServiceError> {
    let start = NaiveDate::from_ymd_opt(year, 1, 1)
        .ok_or_else(|| crate::FieldError::new("year", "is out of range"))?
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    Ok(TimeRange::new(start - Duration::days(1), start + Duration::days(367))?)
}
