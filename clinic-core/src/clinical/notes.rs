//! Progress notes in SOAP form: draft → signed → locked, then addenda only.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AppointmentId, NoteId, PatientId, PracticeId, PractitionerId};

/// The four parts of a SOAP note.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Soap {
    /// Subjective: what the patient reports.
    pub subjective: String,
    /// Objective: what the clinician observes and measures.
    pub objective: String,
    /// Assessment.
    pub assessment: String,
    /// Plan.
    pub plan: String,
}

/// Which record a note belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// Part of the clinical record.
    Progress,
    /// A psychotherapy process note: the author's own working notes, kept apart from the
    /// clinical record and visible to its author only.
    Process,
}

/// Where a note is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NoteState {
    /// Being written; the author may change it.
    Draft,
    /// Signed by its author; may still be locked, not edited.
    Signed {
        /// When.
        at: DateTime<Utc>,
    },
    /// Locked: never changes again.
    Locked {
        /// Signed at.
        signed_at: DateTime<Utc>,
        /// Locked at.
        locked_at: DateTime<Utc>,
    },
}

/// A correction or addition to a signed note, with its author and time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Addendum {
    /// Who wrote it.
    pub author: PractitionerId,
    /// When.
    pub at: DateTime<Utc>,
    /// The text.
    pub text: String,
}

/// Why a note operation was refused. Messages carry no clinical text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Only a draft can be edited.
    #[error("the note is signed: corrections are addenda")]
    NotDraft,
    /// Only the author may edit, sign or lock.
    #[error("only the note's author may do that")]
    NotAuthor,
    /// Sign before locking; lock once.
    #[error("the note cannot move to that state")]
    IllegalTransition,
    /// Addenda go on signed or locked notes.
    #[error("a draft is edited, not amended")]
    DraftHasNoAddenda,
    /// An empty addendum.
    #[error("an addendum needs text")]
    EmptyAddendum,
}

impl NoteError {
    /// The stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotDraft => "note_not_draft",
            Self::NotAuthor => "note_not_author",
            Self::IllegalTransition => "note_illegal_transition",
            Self::DraftHasNoAddenda => "note_draft_has_no_addenda",
            Self::EmptyAddendum => "note_empty_addendum",
        }
    }
}

/// A progress or process note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProgressNote {
    /// Id.
    pub id: NoteId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// The patient.
    pub patient_id: PatientId,
    /// The author.
    pub author: PractitionerId,
    /// The session it records.
    pub appointment_id: Option<AppointmentId>,
    /// Progress or process.
    pub kind: NoteKind,
    /// Content.
    pub soap: Soap,
    /// State.
    pub state: NoteState,
    /// Addenda, oldest first.
    pub addenda: Vec<Addendum>,
    /// Shared with the patient (progress notes only; process notes never are).
    pub shared_with_patient: bool,
}

impl ProgressNote {
    /// A new draft.
    #[must_use]
    pub fn draft(
        id: NoteId,
        practice_id: PracticeId,
        patient_id: PatientId,
        author: PractitionerId,
        kind: NoteKind,
        soap: Soap,
    ) -> Self {
        Self {
            id,
            practice_id,
            patient_id,
            author,
            appointment_id: None,
            kind,
            soap,
            state: NoteState::Draft,
            addenda: Vec::new(),
            shared_with_patient: false,
        }
    }

    fn by_author(&self, who: PractitionerId) -> Result<(), NoteError> {
        if who == self.author {
            Ok(())
        } else {
            Err(NoteError::NotAuthor)
        }
    }

    /// Replaces the content of a draft.
    ///
    /// # Errors
    /// [`NoteError::NotAuthor`], [`NoteError::NotDraft`].
    pub fn edit(&mut self, who: PractitionerId, soap: Soap) -> Result<(), NoteError> {
        self.by_author(who)?;
        if self.state != NoteState::Draft {
            return Err(NoteError::NotDraft);
        }
        self.soap = soap;
        Ok(())
    }

    /// Draft → signed.
    ///
    /// # Errors
    /// [`NoteError::NotAuthor`], [`NoteError::IllegalTransition`].
    pub fn sign(&mut self, who: PractitionerId, at: DateTime<Utc>) -> Result<(), NoteError> {
        self.by_author(who)?;
        if self.state != NoteState::Draft {
            return Err(NoteError::IllegalTransition);
        }
        self.state = NoteState::Signed { at };
        Ok(())
    }

    /// Signed → locked.
    ///
    /// # Errors
    /// [`NoteError::NotAuthor`], [`NoteError::IllegalTransition`].
    pub fn lock(&mut self, who: PractitionerId, at: DateTime<Utc>) -> Result<(), NoteError> {
        self.by_author(who)?;
        match self.state {
            NoteState::Signed { at: signed_at } => {
                self.state = NoteState::Locked {
                    signed_at,
                    locked_at: at,
                };
                Ok(())
            }
            _ => Err(NoteError::IllegalTransition),
        }
    }

    /// Adds an addendum to a signed or locked note (any treating clinician may; the access
    /// rules decide who that is).
    ///
    /// # Errors
    /// [`NoteError::DraftHasNoAddenda`], [`NoteError::EmptyAddendum`].
    pub fn amend(&mut self, author: PractitionerId, at: DateTime<Utc>, text: &str) -> Result<(), NoteError> {
        if self.state == NoteState::Draft {
            return Err(NoteError::DraftHasNoAddenda);
        }
        if text.trim().is_empty() {
            return Err(NoteError::EmptyAddendum);
        }
        self.addenda.push(Addendum {
            author,
            at,
            text: text.to_owned(),
        });
        Ok(())
    }

    /// Shares (or stops sharing) a progress note with the patient. Process notes are
    /// never shared.
    ///
    /// # Errors
    /// [`NoteError::NotAuthor`]; [`NoteError::IllegalTransition`] for a process note.
    pub fn share(&mut self, who: PractitionerId, shared: bool) -> Result<(), NoteError> {
        self.by_author(who)?;
        if self.kind == NoteKind::Process {
            return Err(NoteError::IllegalTransition);
        }
        self.shared_with_patient = shared;
        Ok(())
    }

    /// Whether the note is locked.
    #[must_use]
    pub fn is_locked(&self) -> bool {
        matches!(self.state, NoteState::Locked { .. })
    }
}

/// A goal in a treatment plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TreatmentGoal {
    /// The goal.
    pub description: String,
    /// Achieved.
    pub achieved: bool,
}

/// A treatment plan with goals and a review date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TreatmentPlan {
    /// Owning practice.
    pub practice_id: PracticeId,
    /// The patient.
    pub patient_id: PatientId,
    /// The clinician.
    pub author: PractitionerId,
    /// Goals.
    pub goals: Vec<TreatmentGoal>,
    /// When to review it.
    pub review_on: NaiveDate,
}

impl TreatmentPlan {
    /// Whether the review is due on `today`.
    #[must_use]
    pub fn review_due(&self, today: NaiveDate) -> bool {
        today >= self.review_on
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn who(n: u128) -> PractitionerId {
        PractitionerId::from_uuid(Uuid::from_u128(n))
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn note(kind: NoteKind) -> ProgressNote {
        ProgressNote::draft(
            NoteId::from_uuid(Uuid::nil()),
            PracticeId::from_uuid(Uuid::nil()),
            PatientId::from_uuid(Uuid::nil()),
            who(1),
            kind,
            Soap {
                subjective: "s".into(),
                ..Soap::default()
            },
        )
    }

    #[test]
    fn lifecycle_and_addenda() {
        let mut n = note(NoteKind::Progress);
        assert_eq!(
            n.amend(who(1), at("2026-11-24T01:00:00Z"), "x"),
            Err(NoteError::DraftHasNoAddenda)
        );
        assert_eq!(n.edit(who(2), Soap::default()), Err(NoteError::NotAuthor));
        n.edit(
            who(1),
            Soap {
                plan: "p".into(),
                ..Soap::default()
            },
        )
        .unwrap();
        assert_eq!(
            n.lock(who(1), at("2026-11-24T01:00:00Z")),
            Err(NoteError::IllegalTransition),
            "sign first"
        );
        n.sign(who(1), at("2026-11-24T01:00:00Z")).unwrap();
        assert_eq!(n.edit(who(1), Soap::default()), Err(NoteError::NotDraft));
        n.lock(who(1), at("2026-11-24T02:00:00Z")).unwrap();
        assert!(n.is_locked());
        assert_eq!(
            n.amend(who(2), at("2026-11-25T00:00:00Z"), "  "),
            Err(NoteError::EmptyAddendum)
        );
        n.amend(who(2), at("2026-11-25T00:00:00Z"), "Correction: dose was 50 mg")
            .unwrap();
        assert_eq!(n.addenda[0].author, who(2));
    }

    #[test]
    fn process_notes_are_never_shared() {
        let mut n = note(NoteKind::Process);
        assert_eq!(n.share(who(1), true), Err(NoteError::IllegalTransition));
        let mut p = note(NoteKind::Progress);
        p.share(who(1), true).unwrap();
        assert!(p.shared_with_patient);
    }

    #[test]
    fn errors_carry_no_clinical_text() {
        let mut n = note(NoteKind::Progress);
        n.soap.subjective = "very private".into();
        n.sign(who(1), at("2026-11-24T01:00:00Z")).unwrap();
        let e = n.edit(who(1), Soap::default()).unwrap_err();
        assert!(!e.to_string().contains("private"));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Edit(u128, String),
        Sign(u128),
        Lock(u128),
        Amend(u128, String),
        Share(u128, bool),
    }

    proptest! {
        /// Once locked, a note's content, state, author and existing addenda never change
        /// through any sequence of operations; only addenda are appended.
        #[test]
        fn locked_note_never_changes(ops in proptest::collection::vec(prop_oneof![
            (1u128..3, ".{0,12}").prop_map(|(w, t)| Op::Edit(w, t)),
            (1u128..3).prop_map(Op::Sign),
            (1u128..3).prop_map(Op::Lock),
            (1u128..3, ".{0,12}").prop_map(|(w, t)| Op::Amend(w, t)),
            (1u128..3, any::<bool>()).prop_map(|(w, s)| Op::Share(w, s)),
        ], 0..40)) {
            let mut n = note(NoteKind::Progress);
            let mut frozen: Option<ProgressNote> = None;
            for (i, op) in ops.into_iter().enumerate() {
                let t = at("2026-11-24T00:00:00Z") + chrono::Duration::minutes(i as i64);
                let _ = match op {
                    Op::Edit(w, s) => n.edit(who(w), Soap { subjective: s, ..Soap::default() }),
                    Op::Sign(w) => n.sign(who(w), t),
                    Op::Lock(w) => n.lock(who(w), t),
                    Op::Amend(w, s) => n.amend(who(w), t, &s),
                    Op::Share(w, s) => n.share(who(w), s),
                };
                if let Some(f) = &frozen {
                    prop_assert_eq!(&n.soap, &f.soap);
                    prop_assert_eq!(&n.state, &f.state);
                    prop_assert_eq!(n.author, f.author);
                    prop_assert_eq!(&n.addenda[..f.addenda.len()], &f.addenda[..]);
                } else if n.is_locked() {
                    frozen = Some(n.clone());
                }
            }
        }
    }
}
