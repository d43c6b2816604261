//! The reports' arithmetic.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Days, NaiveDate, NaiveTime};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::billing::Invoice;
use crate::credentials::Credentials;
use crate::error::FieldError;
use crate::ids::{InvoiceId, LocationId, PatientId, PractitionerId};
use crate::medicare::{CapKind, CapRule, PastService};
use crate::money::Money;
use crate::practice::Location;
use crate::scheduling::{Appointment, AppointmentStatus, Availability, HolidayCalendar, StatusKind};
use crate::time::{TimeRange, resolve_local_boundary};

/// The longest period a report covers: a leap year.
pub const MAX_PERIOD_DAYS: i64 = 366;

/// A run of whole local days, `from` to `to` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Period {
    /// The first day.
    pub from: NaiveDate,
    /// The last day.
    pub to: NaiveDate,
}

impl Period {
    /// A period of 1 to [`MAX_PERIOD_DAYS`] days.
    ///
    /// # Errors
    /// [`FieldError`] on `to` when it is before `from` or the period is too long.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, FieldError> {
        if to < from {
            return Err(FieldError::new("to", "must not be before from"));
        }
        if (to - from).num_days() >= MAX_PERIOD_DAYS {
            return Err(FieldError::new(
                "to",
                format!("a report covers at most {MAX_PERIOD_DAYS} days"),
            ));
        }
        Ok(Self { from, to })
    }

    /// Whether `date` is in the period.
    #[must_use]
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }

    /// Every day of the period.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.from.iter_days().take_while(|d| *d <= self.to)
    }
}

/// Appointments of one practitioner at one location with one status, counted: what
/// utilisation and attendance need, with no patient and no clinical detail. Storage sums
/// them (`AppointmentRepository::tallies`), so a report never loads appointments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tally {
    /// The practitioner.
    pub practitioner_id: PractitionerId,
    /// The location.
    pub location_id: LocationId,
    /// The status.
    pub status: StatusKind,
    /// Cancelled with less notice than the practice's policy.
    pub late_cancellation: bool,
    /// How many appointments.
    pub appointments: u64,
    /// Their session minutes together.
    pub minutes: u64,
}

impl Tally {
    /// Tallies of `appointments` (the reference for storage adapters that sum in the
    /// database), in a stable order.
    #[must_use]
    pub fn of<'a>(appointments: impl IntoIterator<Item = &'a Appointment>) -> Vec<Tally> {
        type Key = (PractitionerId, LocationId, &'static str, bool);
        let mut sums: BTreeMap<Key, (StatusKind, u64, u64)> = BTreeMap::new();
        for a in appointments {
            let status = a.status.kind();
            let late = matches!(&a.status, AppointmentStatus::Cancelled(c) if c.late);
            let e = sums
                .entry((a.practitioner_id, a.location_id, status.code(), late))
                .or_insert((status, 0, 0));
            e.1 += 1;
            e.2 += u64::try_from(a.interval.duration().num_minutes()).unwrap_or(0);
        }
        sums.into_iter()
            .map(
                |((practitioner_id, location_id, _, late_cancellation), (status, appointments, minutes))| Tally {
                    practitioner_id,
                    location_id,
                    status,
                    late_cancellation,
                    appointments,
                    minutes,
                },
            )
            .collect()
    }
}

impl Period {
    /// The period's instants at a location in `zone`: local midnight at the start of
    /// `from` to local midnight after `to` (23 or 25 hours for a day when clocks change).
    ///
    /// # Errors
    /// None in practice (the range is at least 23 hours long); a [`FieldError`] only if the
    /// dates are at the very edge of what chrono represents.
    pub fn window_at(&self, zone: chrono_tz::Tz) -> Result<TimeRange, FieldError> {
        let end = self
            .to
            .succ_opt()
            .ok_or_else(|| FieldError::new("to", "is out of range"))?;
        TimeRange::new(
            resolve_local_boundary(zone, self.from.and_time(NaiveTime::MIN)),
            resolve_local_boundary(zone, end.and_time(NaiveTime::MIN)),
        )
    }
}

/// `part` as a percentage of `whole` to one decimal place, halves rounded up (31.25 is
/// 31.3); none of nothing.
fn percent(part: u64, whole: u64) -> Option<Decimal> {
    (whole > 0).then(|| {
        (Decimal::from(part) * Decimal::from(100) / Decimal::from(whole))
            .round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
    })
}

/// One practitioner at one location over the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UtilisationRow {
    /// The practitioner.
    pub practitioner_id: PractitionerId,
    /// The location.
    pub location_id: LocationId,
    /// Minutes they were available there.
    pub available_minutes: u64,
    /// Minutes of sessions booked there (cancelled ones excluded, no-shows included:
    /// the time was held).
    pub booked_minutes: u64,
    /// Booked as a share of available, in percent to one decimal place (none when no
    /// time was available; over 100 when booked outside availability).
    pub utilisation_percent: Option<Decimal>,
}

/// Utilisation per practitioner and location over `period`, from the tallies of the
/// appointments whose sessions start in it (each location's days in its own zone).
#[must_use]
pub fn utilisation(
    tallies: &[Tally],
    availability: &[(PractitionerId, Availability)],
    locations: &[Location],
    period: Period,
    holidays: &HolidayCalendar,
) -> Vec<UtilisationRow> {
    let at: HashMap<LocationId, &Location> = locations.iter().map(|l| (l.id, l)).collect();
    let mut booked: BTreeMap<(PractitionerId, LocationId), u64> = BTreeMap::new();
    for t in tallies.iter().filter(|t| t.status.holds_time()) {
        *booked.entry((t.practitioner_id, t.location_id)).or_default() += t.minutes;
    }
    let mut available: BTreeMap<(PractitionerId, LocationId), u64> = BTreeMap::new();
    for (who, a) in availability {
        for loc in a.locations() {
            let Some(location) = at.get(&loc) else { continue };
            let minutes: i64 = period
                .days()
                .flat_map(|d| a.windows(location, d, holidays))
                .map(|w| w.duration().num_minutes())
                .sum();
            available.insert((*who, loc), u64::try_from(minutes).unwrap_or(0));
        }
    }
    let keys: BTreeSet<_> = booked.keys().chain(available.keys()).copied().collect();
    keys.into_iter()
        .map(|(practitioner_id, location_id)| {
            let b = booked.get(&(practitioner_id, location_id)).copied().unwrap_or(0);
            let a = available.get(&(practitioner_id, location_id)).copied().unwrap_or(0);
            UtilisationRow {
                practitioner_id,
                location_id,
                available_minutes: a,
                booked_minutes: b,
                utilisation_percent: percent(b, a),
            }
        })
        .collect()
}

/// One practitioner's attendance over the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttendanceRow {
    /// The practitioner.
    pub practitioner_id: Option<PractitionerId>,
    /// Appointments due in the period: every one booked (cancelled ones included), not
    /// requests still awaiting the practice.
    pub due: u64,
    /// Attended (arrived or completed).
    pub attended: u64,
    /// Not attended.
    pub no_shows: u64,
    /// Cancelled with less notice than the practice's policy.
    pub late_cancellations: u64,
    /// Cancelled in time.
    pub cancellations: u64,
    /// No-shows as a share of those due, in percent to one decimal place.
    pub no_show_percent: Option<Decimal>,
    /// Late cancellations as a share of those due, in percent to one decimal place.
    pub late_cancellation_percent: Option<Decimal>,
}

/// No-show and late-cancellation rates per practitioner, and for the practice (the row
/// without a practitioner, last), from the tallies of the period's appointments.
#[must_use]
pub fn attendance(tallies: &[Tally]) -> Vec<AttendanceRow> {
    let mut rows: BTreeMap<PractitionerId, AttendanceRow> = BTreeMap::new();
    let mut all = AttendanceRow::default();
    for t in tallies.iter().filter(|t| t.status != StatusKind::Requested) {
        let row = rows.entry(t.practitioner_id).or_insert_with(|| AttendanceRow {
            practitioner_id: Some(t.practitioner_id),
            ..AttendanceRow::default()
        });
        let n = t.appointments;
        for r in [&mut *row, &mut all] {
            r.due += n;
            match t.status {
                StatusKind::Arrived | StatusKind::Completed => r.attended += n,
                StatusKind::NoShow => r.no_shows += n,
                StatusKind::Cancelled if t.late_cancellation => r.late_cancellations += n,
                StatusKind::Cancelled => r.cancellations += n,
                StatusKind::Requested | StatusKind::Booked | StatusKind::Confirmed => {}
            }
        }
    }
    let mut out: Vec<AttendanceRow> = rows.into_values().chain([all]).collect();
    for r in &mut out {
        r.no_show_percent = percent(r.no_shows, r.due);
        r.late_cancellation_percent = percent(r.late_cancellations, r.due);
    }
    out
}

/// Revenue invoiced in one month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonthRevenue {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// Invoices issued in it.
    pub invoices: u64,
    /// Medicare rebates on its lines.
    pub medicare_rebate: Money,
    /// What Medicare lines charge above the rebate (the patient's gap).
    pub gap: Money,
    /// Lines Medicare does not cover.
    pub private_fees: Money,
    /// GST collected (on taxable lines only; therapy is GST-free).
    pub gst: Money,
    /// Everything invoiced, GST included.
    pub total: Money,
}

fn month_key(d: NaiveDate) -> (i32, u32) {
    (d.year(), d.month())
}

/// Revenue by month of issue over `period`, every month of the period listed (empty ones
/// at zero) so a chart shows the gaps.
#[must_use]
pub fn revenue_by_month<'a>(invoices: impl IntoIterator<Item = &'a Invoice>, period: Period) -> Vec<MonthRevenue> {
    let mut months: BTreeMap<(i32, u32), MonthRevenue> = BTreeMap::new();
    for d in period.days() {
        months.entry(month_key(d)).or_insert_with(|| MonthRevenue {
            month: format!("{:04}-{:02}", d.year(), d.month()),
            invoices: 0,
            medicare_rebate: Money::ZERO,
            gap: Money::ZERO,
            private_fees: Money::ZERO,
            gst: Money::ZERO,
            total: Money::ZERO,
        });
    }
    for inv in invoices {
        let Some(issued) = inv.issued_on.filter(|d| period.contains(*d)) else {
            continue;
        };
        let Some(m) = months.get_mut(&month_key(issued)) else {
            continue;
        };
        m.invoices += 1;
        for line in &inv.lines {
            match &line.medicare {
                Some(mc) => {
                    m.medicare_rebate = m.medicare_rebate + mc.rebate;
                    m.gap = m.gap + (line.total - mc.rebate);
                }
                None => m.private_fees = m.private_fees + line.total,
            }
            m.gst = m.gst + line.gst;
            m.total = m.total + line.total;
        }
    }
    months.into_values().collect()
}

/// The four ages of an unpaid invoice, in days since issue.
pub const AGE_BUCKETS: [&str; 4] = ["0-30", "31-60", "61-90", "90+"];

fn age_bucket(days: i64) -> &'static str {
    match days {
        ..=30 => AGE_BUCKETS[0],
        31..=60 => AGE_BUCKETS[1],
        61..=90 => AGE_BUCKETS[2],
        _ => AGE_BUCKETS[3],
    }
}

/// Unpaid invoices of one age.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgeBucket {
    /// `0-30`, `31-60`, `61-90` or `90+` days since issue.
    pub age: &'static str,
    /// How many.
    pub invoices: u64,
    /// What they owe.
    pub balance: Money,
}

/// An unpaid issued invoice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutstandingInvoice {
    /// The invoice.
    pub invoice_id: InvoiceId,
    /// Its number.
    pub number: Option<u64>,
    /// Its patient.
    pub patient_id: PatientId,
    /// What it owes.
    pub balance: Money,
    /// When it was issued.
    pub issued_on: Option<NaiveDate>,
    /// Days since issue.
    pub days: i64,
    /// Its age bucket.
    pub age: &'static str,
}

/// What is owed, by age.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outstanding {
    /// The four buckets, youngest first, every one listed.
    pub buckets: Vec<AgeBucket>,
    /// The invoices, oldest first.
    pub invoices: Vec<OutstandingInvoice>,
}

/// Issued invoices with a balance on `today`, by age (an invoice issued today is 0 days
/// old; 30 days is still `0-30`, 31 is `31-60`).
#[must_use]
pub fn outstanding<'a>(invoices: impl IntoIterator<Item = &'a Invoice>, today: NaiveDate) -> Outstanding {
    let mut list: Vec<OutstandingInvoice> = invoices
        .into_iter()
        .filter(|i| i.number.is_some() && i.balance() > Money::ZERO)
        .map(|i| {
            let days = i.issued_on.map_or(0, |d| (today - d).num_days().max(0));
            OutstandingInvoice {
                invoice_id: i.id,
                number: i.number,
                patient_id: i.patient_id,
                balance: i.balance(),
                issued_on: i.issued_on,
                days,
                age: age_bucket(days),
            }
        })
        .collect();
    list.sort_by_key(|i| (i.issued_on, i.number));
    let buckets = AGE_BUCKETS
        .iter()
        .map(|age| {
            let of_age = list.iter().filter(|i| i.age == *age);
            AgeBucket {
                age,
                invoices: of_age.clone().count() as u64,
                balance: of_age.fold(Money::ZERO, |a, i| a + i.balance),
            }
        })
        .collect();
    Outstanding {
        buckets,
        invoices: list,
    }
}

/// Patients in one band of individual sessions claimed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapBand {
    /// Fewest sessions claimed in the band.
    pub from: u16,
    /// Most.
    pub to: u16,
    /// Patients in it.
    pub patients: u64,
}

/// Medicare cap usage across the patient base in one calendar year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapReport {
    /// The year.
    pub year: i32,
    /// The individual-session cap in force (on the last day of the year, or the day asked).
    pub cap: u16,
    /// Patients with at least one claimed session, by sessions claimed: the first half of
    /// the cap, the rest short of it, and at the cap.
    pub bands: Vec<CapBand>,
    /// Patients who have used every session of the cap (any further session that year is
    /// private).
    pub at_cap: Vec<PatientId>,
    /// Patients with Medicare claims in the year.
    pub patients_claiming: u64,
}

/// Cap usage in `year` from each patient's claim history (claimed individual sessions
/// with a service date in the year), against `rule`.
#[must_use]
pub fn cap_report(
    histories: impl IntoIterator<Item = (PatientId, Vec<PastService>)>,
    year: i32,
    rule: &CapRule,
) -> CapReport {
    let cap = rule.individual;
    let half = cap / 2;
    let mut bands = vec![
        CapBand {
            from: 1,
            to: half,
            patients: 0,
        },
        CapBand {
            from: half + 1,
            to: cap.saturating_sub(1),
            patients: 0,
        },
        CapBand {
            from: cap,
            to: cap,
            patients: 0,
        },
    ];
    let mut at_cap = Vec::new();
    let mut claiming = 0;
    for (patient, history) in histories {
        let used = history
            .iter()
            .filter(|s| s.claimed && s.cap == CapKind::Individual && s.date.year() == year)
            .count();
        let used = u16::try_from(used).unwrap_or(u16::MAX);
        if used == 0 {
            continue;
        }
        claiming += 1;
        if used >= cap {
            at_cap.push(patient);
            bands[2].patients += 1;
        } else if used <= half {
            bands[0].patients += 1;
        } else {
            bands[1].patients += 1;
        }
    }
    at_cap.sort();
    CapReport {
        year,
        cap,
        bands,
        at_cap,
        patients_claiming: claiming,
    }
}

/// A registration or policy that lapses soon (or has lapsed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExpiringCredential {
    /// The practitioner.
    pub practitioner_id: PractitionerId,
    /// `registration` or `insurance`.
    pub credential: &'static str,
    /// Its last day.
    pub expires_on: NaiveDate,
    /// Days from today to its last day (negative once lapsed).
    pub days_left: i64,
    /// Already lapsed: the practitioner may not practise until it is renewed.
    pub lapsed: bool,
}

/// Each practitioner's latest registration and policy whose last day is within
/// `horizon_days` of `today` (or already past), soonest first. A credential is valid
/// through its expiry date and lapsed from the day after.
#[must_use]
pub fn expiring_credentials<'a>(
    credentials: impl IntoIterator<Item = (PractitionerId, &'a Credentials)>,
    today: NaiveDate,
    horizon_days: u32,
) -> Vec<ExpiringCredential> {
    let horizon = today
        .checked_add_days(Days::new(u64::from(horizon_days)))
        .unwrap_or(NaiveDate::MAX);
    let mut out = Vec::new();
    for (who, c) in credentials {
        let latest = [
            ("registration", c.registration().map(|r| r.expires_on)),
            ("insurance", c.insurance().map(|i| i.expires_on)),
        ];
        for (credential, expires_on) in latest {
            let Some(expires_on) = expires_on.filter(|e| *e <= horizon) else {
                continue;
            };
            out.push(ExpiringCredential {
                practitioner_id: who,
                credential,
                expires_on,
                days_left: (expires_on - today).num_days(),
                lapsed: expires_on < today,
            });
        }
    }
    out.sort_by_key(|e| (e.expires_on, e.practitioner_id, e.credential));
    out
}
