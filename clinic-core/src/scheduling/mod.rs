//! Scheduling: availability, public holidays, appointments and their status machine,
//! conflict rules, recurring series, the waitlist and slot search.
//!
//! Everything here is pure. The booking use case in [`crate::service`] reads what these
//! rules need through the ports, decides here, and commits through a guard.

pub mod appointment;
pub mod availability;
pub mod calendar;
pub mod error;
pub mod holidays;
pub mod request;
pub mod rules;
pub mod series;
pub mod slots;
pub mod waitlist;

pub use appointment::{
    Appointment, AppointmentStatus, Cancellation, CancelledBy, DeliveryMode, Reschedule, StatusKind,
};
pub use availability::{Availability, AvailabilityException, ExceptionKind, WeeklyTemplate};
pub use calendar::{BusyIndex, Calendar};
pub use error::SchedulingError;
pub use holidays::{Holiday, HolidayCalendar, HolidayTableError};
pub use request::BookingRequest;
pub use rules::{Accepted, Proposal, RuleContext, check, intervals_for};
pub use series::{Occurrence, Recurrence, SeriesEnd, SeriesPolicy};
pub use slots::{Candidate, Slot, SlotCursor, SlotPage, SlotQuery};
pub use waitlist::{Urgency, WaitlistEntry, rank_for_freed_slot};

#[cfg(test)]
mod tests;
