//! Arbitrary bytes as a booking request: never a panic, and anything accepted
//! round-trips through JSON unchanged.
#![no_main]

use clinic_core::scheduling::BookingRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<BookingRequest>(data) {
        let text = serde_json::to_string(&req).expect("a parsed request serialises");
        let again: BookingRequest = serde_json::from_str(&text).expect("a serialised request parses");
        assert_eq!(again, req);
    }
});
