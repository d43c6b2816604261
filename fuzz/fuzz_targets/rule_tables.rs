//! Arbitrary text as the MBS item table and the caps table: a parsed table or an error
//! naming a line that exists, never a panic.
#![no_main]

use clinic_core::medicare::{CapTable, Catalogue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let lines = text.lines().count().max(1);
    if let Err(e) = Catalogue::parse(text) {
        assert!(e.line >= 1 && e.line <= lines, "{e}");
    }
    if let Err(e) = CapTable::parse(text) {
        assert!(e.line >= 1 && e.line <= lines, "{e}");
    }
});
