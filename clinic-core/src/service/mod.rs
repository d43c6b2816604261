//! Application services: one use case each, written against the ports.

mod booking;
mod error;

pub use booking::{
    BookingService, CancelOutcome, MAX_ATTEMPTS, OccurrenceReport, SchedulingPorts, SeriesOutcome, SlotSearch,
};
pub use error::ServiceError;
