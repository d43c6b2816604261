//! Arbitrary text as a holiday table: an error or a calendar, never a panic.
#![no_main]

use clinic_core::scheduling::HolidayCalendar;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(e) = HolidayCalendar::parse(text) {
        assert!(e.line >= 1 && e.line <= text.lines().count().max(1));
    }
});
