//! Practice reports through the ports: the roles matrix's "reports and analytics" row
//! lets practice managers and administrators read them practice-wide and a clinician read
//! their own caseload (utilisation and attendance, their rows only). Revenue, what is
//! owed, Medicare cap usage and credentials are practice-wide, for managers and
//! administrators.

use std::sync::Arc;

use chrono::NaiveDate;

use super::clinical::Actor;
use super::error::ServiceError;
use crate::access::{self, Action, Area, Decision, RecordFacts, Relation, Request};
use crate::billing::Invoice;
use crate::ids::PractitionerId;
use crate::medicare::CapTable;
use crate::people::Role;
use crate::ports::{
    AppointmentRepository, ClaimRepository, Clock, CredentialRepository, InvoiceRepository, PatientRepository,
    PracticeRepository, PractitionerRepository,
};
use crate::reports::{
    self, AttendanceRow, CapReport, ExpiringCredential, MonthRevenue, Outstanding, Period, Tally, UtilisationRow,
};
use crate::scheduling::HolidayCalendar;

/// Invoices read per page when walking the issued ones.
const PAGE: usize = 500;

/// The ports reports read.
#[derive(Clone)]
pub struct ReportsPorts {
    /// Locations.
    pub practices: Arc<dyn PracticeRepository>,
    /// Practitioners and their availability.
    pub practitioners: Arc<dyn PractitionerRepository>,
    /// Appointment tallies.
    pub appointments: Arc<dyn AppointmentRepository>,
    /// Issued invoices.
    pub invoices: Arc<dyn InvoiceRepository>,
    /// Claim histories.
    pub claims: Arc<dyn ClaimRepository>,
    /// The patient base.
    pub patients: Arc<dyn PatientRepository>,
    /// Registrations and policies.
    pub credentials: Arc<dyn CredentialRepository>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
}

/// Whose rows a report shows.
enum Scope {
    /// The whole practice.
    Practice,
    /// One clinician's own caseload.
    Own(PractitionerId),
}

/// The report use cases.
#[derive(Clone)]
pub struct ReportsService {
    ports: ReportsPorts,
    holidays: Arc<HolidayCalendar>,
    caps: Arc<CapTable>,
}

impl ReportsService {
    /// A service over `ports` with the shipped holiday and cap tables.
    #[must_use]
    pub fn new(ports: ReportsPorts) -> Self {
        Self {
            ports,
            holidays: Arc::new(HolidayCalendar::australia()),
            caps: Arc::new(CapTable::shipped()),
        }
    }

    fn decide(actor: &Actor, relation: Relation) -> bool {
        let request = Request {
            role: actor.role,
            action: Action::Read,
            area: Area::Reports,
            relation,
            facts: RecordFacts::default(),
            break_glass: false,
        };
        access::decide(&request) != Decision::Deny
    }

    fn scope(actor: &Actor) -> Result<Scope, ServiceError> {
        if Self::decide(actor, Relation::Other) {
            return Ok(Scope::Practice);
        }
        match actor.practitioner_id {
            Some(me)
                if matches!(actor.role, Role::Psychologist | Role::Doctor) && Self::decide(actor, Relation::Own) =>
            {
                Ok(Scope::Own(me))
            }
            _ => Err(ServiceError::Forbidden),
        }
    }

    fn practice_wide(actor: &Actor) -> Result<(), ServiceError> {
        match Self::scope(actor)? {
            Scope::Practice => Ok(()),
            Scope::Own(_) => Err(ServiceError::Forbidden),
        }
    }

    /// The tallies of the period's appointments at every location, each location's days
    /// in its own zone, within `scope`.
    async fn tallies(&self, actor: &Actor, period: Period, scope: &Scope) -> Result<Vec<Tally>, ServiceError> {
        let mut out = Vec::new();
        for l in self.ports.practices.locations(actor.practice_id).await? {
            let window = period.window_at(l.zone)?;
            out.extend(
                self.ports
                    .appointments
                    .tallies(actor.practice_id, l.id, window)
                    .await?
                    .into_iter()
                    .filter(|t| match scope {
                        Scope::Practice => true,
                        Scope::Own(me) => t.practitioner_id == *me,
                    }),
            );
        }
        Ok(out)
    }

    /// Booked against available time per practitioner and location over `period`.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`]; a port error.
    pub async fn utilisation(&self, actor: &Actor, period: Period) -> Result<Vec<UtilisationRow>, ServiceError> {
        let scope = Self::scope(actor)?;
        let practice = actor.practice_id;
        let who: Vec<PractitionerId> = match scope {
            Scope::Practice => self
                .ports
                .practitioners
                .practitioners(practice)
                .await?
                .into_iter()
                .map(|p| p.id)
                .collect(),
            Scope::Own(me) => vec![me],
        };
        let availability = self.ports.practitioners.availabilities(practice, &who).await?;
        let locations = self.ports.practices.locations(practice).await?;
        let tallies = self.tallies(actor, period, &scope).await?;
        let pairs: Vec<_> = who.into_iter().zip(availability).collect();
        Ok(reports::utilisation(
            &tallies,
            &pairs,
            &locations,
            period,
            &self.holidays,
        ))
    }

    /// No-show and late-cancellation rates over `period`.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`]; a port error.
    pub async fn attendance(&self, actor: &Actor, period: Period) -> Result<Vec<AttendanceRow>, ServiceError> {
        let scope = Self::scope(actor)?;
        Ok(reports::attendance(&self.tallies(actor, period, &scope).await?))
    }

    /// Issued invoices newest first, down to the first issued before `from` (numbers
    /// follow issue order, so once a page ends before `from` every older one does too).
    async fn issued_since(&self, actor: &Actor, from: Option<NaiveDate>) -> Result<Vec<Invoice>, ServiceError> {
        let mut out = Vec::new();
        let mut before = None;
        loop {
            let page = self
                .ports
                .invoices
                .issued_invoices(actor.practice_id, before, PAGE)
                .await?;
            let done =
                page.len() < PAGE || from.is_some_and(|f| page.last().and_then(|i| i.issued_on).is_some_and(|d| d < f));
            before = page.last().and_then(|i| i.number);
            out.extend(page);
            if done || before.is_none() {
                return Ok(out);
            }
        }
    }

    /// Revenue by month of issue over `period`.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] unless practice-wide; a port error.
    pub async fn revenue(&self, actor: &Actor, period: Period) -> Result<Vec<MonthRevenue>, ServiceError> {
        Self::practice_wide(actor)?;
        let invoices = self.issued_since(actor, Some(period.from)).await?;
        Ok(reports::revenue_by_month(&invoices, period))
    }

    /// What is owed on `today`, by age.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] unless practice-wide; a port error.
    pub async fn outstanding(&self, actor: &Actor, today: NaiveDate) -> Result<Outstanding, ServiceError> {
        Self::practice_wide(actor)?;
        let invoices = self.issued_since(actor, None).await?;
        Ok(reports::outstanding(&invoices, today))
    }

    /// Medicare cap usage across the patient base in `year`, against the cap in force on
    /// `on` (a date in the year: today for the current year, its last day for a past one).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] unless practice-wide; [`ServiceError::Invalid`] when `on`
    /// is not in `year`; [`ServiceError::NotFound`] when no cap rule covers `on`.
    pub async fn medicare_caps(&self, actor: &Actor, year: i32, on: NaiveDate) -> Result<CapReport, ServiceError> {
        use chrono::Datelike as _;
        Self::practice_wide(actor)?;
        if on.year() != year {
            return Err(crate::FieldError::new("year", "the cap is read on a day of the year asked about").into());
        }
        let rule = self
            .caps
            .as_at(on)
            .ok_or(ServiceError::NotFound { entity: "cap rule" })?;
        let mut histories = Vec::new();
        for p in self.ports.patients.patients(actor.practice_id).await? {
            let history = self.ports.claims.history(actor.practice_id, p.id).await?;
            histories.push((p.id, history.past_services()));
        }
        Ok(reports::cap_report(histories, year, rule))
    }

    /// Registrations and policies lapsing within `horizon_days` of `today`, or lapsed.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] unless practice-wide; a port error.
    pub async fn expiring_credentials(
        &self,
        actor: &Actor,
        today: NaiveDate,
        horizon_days: u32,
    ) -> Result<Vec<ExpiringCredential>, ServiceError> {
        Self::practice_wide(actor)?;
        let mut all = Vec::new();
        for p in self.ports.practitioners.practitioners(actor.practice_id).await? {
            all.push((p.id, self.ports.credentials.credentials(actor.practice_id, p.id).await?));
        }
        Ok(reports::expiring_credentials(
            all.iter().map(|(id, c)| (*id, c)),
            today,
            horizon_days,
        ))
    }

    /// Today at the practice's clock, in `zone`.
    #[must_use]
    pub fn today(&self, zone: chrono_tz::Tz) -> NaiveDate {
        crate::time::local_date(zone, self.ports.clock.now())
    }
}
