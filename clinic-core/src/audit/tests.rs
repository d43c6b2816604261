//! Tamper detection.

use proptest::prelude::*;

use super::*;

const KEY: &[u8] = b"a checkpoint key kept apart from the data";

fn practice() -> PracticeId {
    PracticeId::from_uuid(Uuid::from_u128(7))
}

fn entry(i: u64) -> AuditEntry {
    AuditEntry {
        practice_id: practice(),
        at: DateTime::from_timestamp(1_795_000_000 + i64::try_from(i).unwrap(), 0).unwrap(),
        actor: (!i.is_multiple_of(3)).then(|| UserId::from_uuid(Uuid::from_u128(u128::from(i % 5)))),
        action: ["note.read", "note.write", "note.sign"][usize::try_from(i % 3).unwrap()].into(),
        resource_kind: "progress_note".into(),
        resource_id: Uuid::from_u128(u128::from(i) * 31),
        patient_id: (!i.is_multiple_of(4)).then(|| PatientId::from_uuid(Uuid::from_u128(u128::from(i % 7)))),
        outcome: if i.is_multiple_of(11) {
            Outcome::Flagged
        } else {
            Outcome::Allowed
        },
        request_id: (i.is_multiple_of(2)).then(|| format!("req-{i}")),
        reason: None,
    }
}

fn chain(n: u64) -> Vec<AuditEvent> {
    let mut v: Vec<AuditEvent> = Vec::new();
    for i in 0..n {
        let e = seal(v.last(), entry(i));
        v.push(e);
    }
    v
}

#[test]
fn an_intact_chain_verifies() {
    let c = chain(50);
    let cps = [checkpoint(&c[19], KEY), checkpoint(&c[49], KEY)];
    assert_eq!(verify(practice(), &c, &cps, KEY), Ok(50));
    assert_eq!(verify(practice(), &[], &[], KEY), Ok(0));
}

#[test]
fn edits_reorders_insertions_deletions_are_detected() {
    let c = chain(20);
    let mut edited = c.clone();
    edited[7].entry.outcome = Outcome::Denied;
    assert_eq!(
        verify(practice(), &edited, &[], KEY),
        Err(AuditError::Altered { seq: 7 })
    );
    let mut swapped = c.clone();
    swapped.swap(3, 4);
    assert_eq!(
        verify(practice(), &swapped, &[], KEY).unwrap_err().code(),
        "audit_sequence"
    );
    let mut deleted = c.clone();
    deleted.remove(5);
    assert_eq!(
        verify(practice(), &deleted, &[], KEY),
        Err(AuditError::Sequence { expected: 5, found: 6 })
    );
    // An inserted event, even correctly hashed after its predecessor, breaks the next link.
    let mut inserted = c.clone();
    let forged = seal(Some(&c[9]), entry(99));
    inserted.insert(10, forged);
    for (i, e) in inserted.iter_mut().enumerate().skip(11) {
        e.seq = i as u64;
    }
    assert!(verify(practice(), &inserted, &[], KEY).is_err());
    // Re-hashing everything after an edit is caught by a checkpoint.
    let mut rewritten = chain(20);
    rewritten[3].entry.action = "note.delete".into();
    let mut fixed: Vec<AuditEvent> = Vec::new();
    for e in rewritten {
        let sealed = seal(fixed.last(), e.entry);
        fixed.push(sealed);
    }
    assert_eq!(
        verify(practice(), &fixed, &[], KEY),
        Ok(20),
        "a bare chain can be rewritten wholesale"
    );
    assert_eq!(
        verify(practice(), &fixed, &[checkpoint(&c[10], KEY)], KEY),
        Err(AuditError::CheckpointMismatch { seq: 10 })
    );
}

#[test]
fn deleting_the_newest_events_is_caught_by_the_checkpoint() {
    let c = chain(30);
    let cp = checkpoint(&c[29], KEY);
    assert_eq!(
        verify(practice(), &c[..25], std::slice::from_ref(&cp), KEY),
        Err(AuditError::Truncated { seq: 29, len: 25 })
    );
    let mut forged = cp;
    forged.seq = 40;
    assert_eq!(
        verify(practice(), &c, &[forged], b"wrong key"),
        Err(AuditError::ForgedCheckpoint { seq: 40 })
    );
}

#[test]
fn long_chains_report_the_first_failure_in_chain_order() {
    let mut c = chain(60_000);
    assert_eq!(verify(practice(), &c, &[], KEY), Ok(60_000));
    c[50_000].entry.outcome = Outcome::Denied;
    c[35_000].entry.action = "note.export".into();
    assert_eq!(
        verify(practice(), &c, &[], KEY),
        Err(AuditError::Altered { seq: 35_000 })
    );
    c[10_000].prev_hash[0] ^= 1;
    assert_eq!(
        verify(practice(), &c, &[], KEY),
        Err(AuditError::BrokenLink { seq: 10_000 })
    );
}

#[test]
fn another_practices_chain_does_not_verify_here() {
    let c = chain(3);
    assert_eq!(
        verify(PracticeId::from_uuid(Uuid::from_u128(8)), &c, &[], KEY),
        Err(AuditError::Altered { seq: 0 })
    );
}

proptest! {
    /// Changing any byte of any field of any event is detected.
    #[test]
    fn any_tampering_is_detected(n in 1u64..40, victim in 0usize..40, field in 0usize..12, byte in 0usize..32, flip in 1u8..=255) {
        let mut c = chain(n);
        let i = victim % c.len();
        let e = &mut c[i];
        match field {
            0 => e.seq ^= u64::from(flip),
            1 => e.entry.at += chrono::Duration::microseconds(i64::from(flip)),
            2 => e.entry.actor = Some(UserId::from_uuid(Uuid::from_u128(u128::from(flip) << 64))),
            3 => { let mut b = e.entry.action.clone().into_bytes(); let at = byte % b.len(); b[at] ^= (flip & 0x3f) | 1; e.entry.action = String::from_utf8_lossy(&b).into_owned(); }
            4 => e.entry.resource_kind.push(char::from(b'a' + flip % 26)),
            5 => { let mut b = *e.entry.resource_id.as_bytes(); b[byte % 16] ^= flip; e.entry.resource_id = Uuid::from_bytes(b); }
            6 => e.entry.patient_id = match e.entry.patient_id { Some(_) => None, None => Some(PatientId::from_uuid(Uuid::from_u128(u128::from(flip)))) },
            7 => e.entry.outcome = if e.entry.outcome == Outcome::Denied { Outcome::Allowed } else { Outcome::Denied },
            8 => e.entry.request_id = Some(format!("{}x", e.entry.request_id.clone().unwrap_or_default())),
            9 => e.prev_hash[byte] ^= flip,
            10 => e.entry.reason = Some(format!("{}!", e.entry.reason.clone().unwrap_or_default())),
            _ => e.hash[byte] ^= flip,
        }
        let cps = [checkpoint(&chain(n)[usize::try_from(n - 1).unwrap()], KEY)];
        prop_assert!(verify(practice(), &c, &cps, KEY).is_err());
    }
}
