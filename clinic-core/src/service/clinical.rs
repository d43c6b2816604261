//! Clinical notes through the access rules, every read and write audited.
//!
//! Each call decides with [`access::decide`], records an audit event whatever the outcome
//! (allowed, flagged break-glass, or denied; never the note's content), and only then
//! touches the note.

use std::sync::Arc;

use super::error::ServiceError;
use super::guard::{Target, decide_and_audit};
use crate::access::{Action, Area, Decision, RecordFacts, Relation, Request};
use crate::clinical::{NoteKind, ProgressNote, Soap};
use crate::ids::{NoteId, PatientId, PracticeId, PractitionerId, UserId};
use crate::people::Role;
use crate::ports::{AuditLog, CareRelationships, Clock, IdGenerator, IdGeneratorExt, NoteRepository};

/// Who is acting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The practice.
    pub practice_id: PracticeId,
    /// The user.
    pub user_id: UserId,
    /// The role acted in.
    pub role: Role,
    /// The practitioner the user is, for clinical roles.
    pub practitioner_id: Option<PractitionerId>,
    /// The patient the user is, for the patient role.
    pub patient_id: Option<PatientId>,
    /// The minors the user acts for as their guardian, for the patient role (only those
    /// whose guardianship is in force: see [`crate::people::guardian_may_act`]).
    pub guardian_of: Vec<PatientId>,
    /// The request, for the audit trail.
    pub request_id: Option<String>,
}

impl Actor {
    /// True when the actor acts for `patient` as the patient themselves: they are the
    /// patient, or the patient's guardian. The one test of a patient's "own" record.
    #[must_use]
    pub fn acts_for(&self, patient: PatientId) -> bool {
        self.patient_id == Some(patient) || self.guardian_of.contains(&patient)
    }
}

/// The ports clinical notes need.
#[derive(Clone)]
pub struct ClinicalPorts {
    /// Notes.
    pub notes: Arc<dyn NoteRepository>,
    /// Who treats whom.
    pub care: Arc<dyn CareRelationships>,
    /// The audit log.
    pub audit: Arc<dyn AuditLog>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

/// The clinical-notes use cases.
#[derive(Clone)]
pub struct ClinicalService {
    ports: ClinicalPorts,
}

impl ClinicalService {
    /// A service over `ports`.
    #[must_use]
    pub fn new(ports: ClinicalPorts) -> Self {
        Self { ports }
    }

    async fn relation(
        &self,
        actor: &Actor,
        patient: PatientId,
        kind: NoteKind,
        author: Option<PractitionerId>,
    ) -> Result<(Relation, Option<String>), ServiceError> {
        let (own, glass) = match actor.role {
            Role::Patient => (actor.acts_for(patient), None),
            Role::Psychologist | Role::Doctor => match (kind, actor.practitioner_id) {
                // Process notes: author only (never opened by break-glass).
                (NoteKind::Process, Some(me)) => (author.is_none_or(|a| a == me), None),
                (NoteKind::Progress, Some(me)) => {
                    let p = &self.ports;
                    match super::care::care_now(&*p.care, &*p.clock, actor.practice_id, me, patient).await? {
                        crate::access::Care::Treats => (true, None),
                        crate::access::Care::BreakGlass(reason) => (false, Some(reason)),
                        crate::access::Care::None => (false, None),
                    }
                }
                (_, None) => (false, None),
            },
            _ => (false, None),
        };
        Ok((if own { Relation::Own } else { Relation::Other }, glass))
    }

    /// Decides, audits, and returns the decision; a denial is an error.
    #[allow(clippy::too_many_arguments)]
    async fn guard(
        &self,
        actor: &Actor,
        action: Action,
        kind: NoteKind,
        patient: PatientId,
        note: Option<&ProgressNote>,
        code: &str,
        break_glass: Option<&str>,
    ) -> Result<Decision, ServiceError> {
        let (relation, glass) = self.relation(actor, patient, kind, note.map(|n| n.author)).await?;
        let area = if kind == NoteKind::Process {
            Area::ProcessNotes
        } else {
            Area::ProgressNotes
        };
        let facts = RecordFacts {
            shared_with_patient: note.is_some_and(|n| n.shared_with_patient),
            reviewed: false,
        };
        // A reason given with the request, or the one the clinician's break-glass opening
        // of this record stated.
        let reason = break_glass
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .or(glass.as_deref());
        let request = Request {
            role: actor.role,
            action,
            area,
            relation,
            facts,
            break_glass: reason.is_some(),
        };
        let kind_name = if kind == NoteKind::Process {
            "process_note"
        } else {
            "progress_note"
        };
        let target = Target {
            kind: kind_name,
            id: note.map_or(uuid::Uuid::nil(), |n| n.id.as_uuid()),
            patient,
            code,
            reason,
        };
        decide_and_audit(
            self.ports.audit.as_ref(),
            self.ports.clock.as_ref(),
            actor,
            &request,
            target,
        )
        .await
    }

    async fn load(&self, actor: &Actor, id: NoteId) -> Result<ProgressNote, ServiceError> {
        self.ports
            .notes
            .note(actor.practice_id, id)
            .await
            .map_err(ServiceError::from_port("note"))
    }

    /// Writes a new draft note about `patient` as the acting clinician.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] (audited) when the actor may not write it.
    pub async fn create(
        &self,
        actor: &Actor,
        patient: PatientId,
        kind: NoteKind,
        soap: Soap,
    ) -> Result<ProgressNote, ServiceError> {
        self.guard(actor, Action::Write, kind, patient, None, "note.create", None)
            .await?;
        let author = actor.practitioner_id.ok_or(ServiceError::Forbidden)?;
        let note = ProgressNote::draft(self.ports.ids.new_id(), actor.practice_id, patient, author, kind, soap);
        self.ports.notes.save_note(&note).await?;
        Ok(note)
    }

    /// Reads a note. `break_glass` is an emergency reason: a clinician outside the usual
    /// rules is let in, and the read is flagged for review with the reason recorded in the
    /// audit event. A blank reason is no reason.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Forbidden`] (audited).
    pub async fn read(
        &self,
        actor: &Actor,
        id: NoteId,
        break_glass: Option<&str>,
    ) -> Result<ProgressNote, ServiceError> {
        let note = self.load(actor, id).await?;
        self.guard(
            actor,
            Action::Read,
            note.kind,
            note.patient_id,
            Some(&note),
            "note.read",
            break_glass,
        )
        .await?;
        Ok(note)
    }

    async fn change(
        &self,
        actor: &Actor,
        id: NoteId,
        action: Action,
        code: &str,
        f: impl FnOnce(&mut ProgressNote) -> Result<(), crate::clinical::NoteError>,
    ) -> Result<ProgressNote, ServiceError> {
        let mut note = self.load(actor, id).await?;
        self.guard(actor, action, note.kind, note.patient_id, Some(&note), code, None)
            .await?;
        f(&mut note).map_err(ServiceError::Note)?;
        self.ports.notes.save_note(&note).await?;
        Ok(note)
    }

    /// Edits a draft.
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`]; [`ServiceError::Note`] for a signed note or another author.
    pub async fn edit(&self, actor: &Actor, id: NoteId, soap: Soap) -> Result<ProgressNote, ServiceError> {
        let me = actor.practitioner_id.ok_or(ServiceError::Forbidden)?;
        self.change(actor, id, Action::Write, "note.edit", |n| n.edit(me, soap))
            .await
    }

    /// Signs a draft.
    ///
    /// # Errors
    /// As [`ClinicalService::edit`].
    pub async fn sign(&self, actor: &Actor, id: NoteId) -> Result<ProgressNote, ServiceError> {
        let me = actor.practitioner_id.ok_or(ServiceError::Forbidden)?;
        let now = self.ports.clock.now();
        self.change(actor, id, Action::Sign, "note.sign", |n| n.sign(me, now))
            .await
    }

    /// Locks a signed note.
    ///
    /// # Errors
    /// As [`ClinicalService::edit`].
    pub async fn lock(&self, actor: &Actor, id: NoteId) -> Result<ProgressNote, ServiceError> {
        let me = actor.practitioner_id.ok_or(ServiceError::Forbidden)?;
        let now = self.ports.clock.now();
        self.change(actor, id, Action::Sign, "note.lock", |n| n.lock(me, now))
            .await
    }

    /// Adds an addendum to a signed or locked note.
    ///
    /// # Errors
    /// As [`ClinicalService::edit`].
    pub async fn amend(&self, actor: &Actor, id: NoteId, text: &str) -> Result<ProgressNote, ServiceError> {
        let me = actor.practitioner_id.ok_or(ServiceError::Forbidden)?;
        let now = self.ports.clock.now();
        self.change(actor, id, Action::Sign, "note.amend", |n| n.amend(me, now, text))
            .await
    }

    /// Shares a progress note with the patient, or stops sharing it.
    ///
    /// # Errors
    /// As [`ClinicalService::edit`].
    pub async fn share(&self, actor: &Actor, id: NoteId, shared: bool) -> Result<ProgressNote, ServiceError> {
        let me = actor.practitioner_id.ok_or(ServiceError::Forbidden)?;
        self.change(actor, id, Action::Write, "note.share", |n| n.share(me, shared))
            .await
    }
}
