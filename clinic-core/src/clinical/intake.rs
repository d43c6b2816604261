//! Digital intake forms, versioned so a practice can change its questions without breaking
//! old answers: a submission records the form version it answered, is submitted once, and
//! is amended with its history kept.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Sections of the intake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Presenting concerns.
    PresentingConcerns,
    /// Personal and mental health history.
    History,
    /// Current medications.
    Medications,
    /// GP and referral details.
    GpAndReferral,
    /// Risk screening.
    RiskScreening,
    /// Goals for treatment.
    Goals,
}

/// The kind of answer a question takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnswerKind {
    /// Free text up to `max` characters.
    Text {
        /// Longest answer.
        max: usize,
    },
    /// Yes or no.
    YesNo,
    /// One of the options.
    Choice {
        /// The options.
        options: Vec<String>,
    },
}

/// A question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Question {
    /// Stable key, e.g. `risk_self_harm`.
    pub key: String,
    /// The prompt shown.
    pub prompt: String,
    /// Section.
    pub section: Section,
    /// Answer kind.
    pub kind: AnswerKind,
    /// Must be answered.
    pub required: bool,
    /// A "yes" flags the submission for the clinician's prompt follow-up (risk questions).
    pub flags_risk: bool,
}

/// A form version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntakeForm {
    /// Version.
    pub version: u32,
    /// Questions.
    pub questions: Vec<Question>,
}

/// An answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Answer {
    /// Yes or no.
    YesNo(bool),
    /// Text or a chosen option.
    Text(String),
}

/// Why answers were refused. Names the question, never echoes the answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// A required question has no answer.
    #[error("{0}: an answer is required")]
    Missing(String),
    /// An answer to a question the form does not have.
    #[error("{0}: not a question on this form")]
    Unknown(String),
    /// An answer of the wrong kind or out of range.
    #[error("{0}: the answer does not fit the question")]
    Invalid(String),
    /// Answers were submitted for another form version.
    #[error("the submission is for form version {0}")]
    WrongVersion(u32),
}

impl IntakeError {
    /// The stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing(_) => "intake_missing_answer",
            Self::Unknown(_) => "intake_unknown_question",
            Self::Invalid(_) => "intake_invalid_answer",
            Self::WrongVersion(_) => "intake_wrong_version",
        }
    }
}

/// One change to a submitted answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Amendment {
    /// When.
    pub at: DateTime<Utc>,
    /// Which question.
    pub key: String,
    /// The answer before.
    pub previous: Option<Answer>,
}

/// A submitted intake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntakeSubmission {
    /// The form version answered.
    pub form_version: u32,
    /// Answers by question key.
    pub answers: BTreeMap<String, Answer>,
    /// When submitted.
    pub submitted_at: DateTime<Utc>,
    /// Amendments, oldest first.
    pub amendments: Vec<Amendment>,
}

impl IntakeForm {
    /// The shipped psychology intake, version 1.
    #[must_use]
    pub fn psychology_v1() -> Self {
        let q = |key: &str, prompt: &str, section, kind, required, flags_risk| Question {
            key: key.into(),
            prompt: prompt.into(),
            section,
            kind,
            required,
            flags_risk,
        };
        let text = |max| AnswerKind::Text { max };
        Self {
            version: 1,
            questions: vec![
                q(
                    "concerns",
                    "What brings you to see a psychologist?",
                    Section::PresentingConcerns,
                    text(4000),
                    true,
                    false,
                ),
                q(
                    "concerns_duration",
                    "How long has this been going on?",
                    Section::PresentingConcerns,
                    AnswerKind::Choice {
                        options: vec!["weeks".into(), "months".into(), "years".into()],
                    },
                    false,
                    false,
                ),
                q(
                    "previous_treatment",
                    "Have you seen a psychologist or psychiatrist before?",
                    Section::History,
                    AnswerKind::YesNo,
                    true,
                    false,
                ),
                q(
                    "history",
                    "Anything about your health or history you would like us to know",
                    Section::History,
                    text(4000),
                    false,
                    false,
                ),
                q(
                    "medications",
                    "Current medications and doses",
                    Section::Medications,
                    text(2000),
                    false,
                    false,
                ),
                q(
                    "gp_name",
                    "Your GP's name and practice",
                    Section::GpAndReferral,
                    text(300),
                    false,
                    false,
                ),
                q(
                    "has_referral",
                    "Do you have a referral or Mental Health Treatment Plan?",
                    Section::GpAndReferral,
                    AnswerKind::YesNo,
                    true,
                    false,
                ),
                q(
                    "risk_self_harm",
                    "In the past month, have you had thoughts of harming yourself?",
                    Section::RiskScreening,
                    AnswerKind::YesNo,
                    true,
                    true,
                ),
                q(
                    "risk_others",
                    "In the past month, have you had thoughts of harming someone else?",
                    Section::RiskScreening,
                    AnswerKind::YesNo,
                    true,
                    true,
                ),
                q(
                    "risk_safety",
                    "Do you feel unsafe at home?",
                    Section::RiskScreening,
                    AnswerKind::YesNo,
                    true,
                    true,
                ),
                q(
                    "goals",
                    "What would you like to be different?",
                    Section::Goals,
                    text(2000),
                    false,
                    false,
                ),
            ],
        }
    }

    fn check(&self, key: &str, answer: &Answer) -> Result<(), IntakeError> {
        let q = self
            .questions
            .iter()
            .find(|q| q.key == key)
            .ok_or_else(|| IntakeError::Unknown(key.to_owned()))?;
        let ok = match (&q.kind, answer) {
            (AnswerKind::YesNo, Answer::YesNo(_)) => true,
            (AnswerKind::Text { max }, Answer::Text(t)) => {
                t.chars().count() <= *max && !(q.required && t.trim().is_empty())
            }
            (AnswerKind::Choice { options }, Answer::Text(t)) => options.contains(t),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(IntakeError::Invalid(key.to_owned()))
        }
    }

    /// Submits answers to this form.
    ///
    /// # Errors
    /// [`IntakeError`] naming the first question with a missing, unknown or invalid answer.
    pub fn submit(
        &self,
        answers: BTreeMap<String, Answer>,
        at: DateTime<Utc>,
    ) -> Result<IntakeSubmission, IntakeError> {
        for (k, a) in &answers {
            self.check(k, a)?;
        }
        if let Some(q) = self
            .questions
            .iter()
            .find(|q| q.required && !answers.contains_key(&q.key))
        {
            return Err(IntakeError::Missing(q.key.clone()));
        }
        Ok(IntakeSubmission {
            form_version: self.version,
            answers,
            submitted_at: at,
            amendments: Vec::new(),
        })
    }

    /// The questions answered "yes" that flag risk.
    #[must_use]
    pub fn risk_flags<'a>(&'a self, s: &IntakeSubmission) -> Vec<&'a str> {
        self.questions
            .iter()
            .filter(|q| q.flags_risk && s.answers.get(&q.key) == Some(&Answer::YesNo(true)))
            .map(|q| q.key.as_str())
            .collect()
    }
}

impl IntakeSubmission {
    /// Changes one answer, keeping the previous one in the history.
    ///
    /// # Errors
    /// [`IntakeError::WrongVersion`] when `form` is not the version answered; otherwise as
    /// for a submission.
    pub fn amend(
        &mut self,
        form: &IntakeForm,
        key: &str,
        answer: Answer,
        at: DateTime<Utc>,
    ) -> Result<(), IntakeError> {
        if form.version != self.form_version {
            return Err(IntakeError::WrongVersion(self.form_version));
        }
        form.check(key, &answer)?;
        let previous = self.answers.insert(key.to_owned(), answer);
        self.amendments.push(Amendment {
            at,
            key: key.to_owned(),
            previous,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        "2026-11-24T00:00:00Z".parse().unwrap()
    }

    fn answers() -> BTreeMap<String, Answer> {
        [
            ("concerns", Answer::Text("Trouble sleeping".into())),
            ("previous_treatment", Answer::YesNo(false)),
            ("has_referral", Answer::YesNo(true)),
            ("risk_self_harm", Answer::YesNo(false)),
            ("risk_others", Answer::YesNo(false)),
            ("risk_safety", Answer::YesNo(true)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    #[test]
    fn submit_validates_and_flags_risk() {
        let form = IntakeForm::psychology_v1();
        let s = form.submit(answers(), at()).unwrap();
        assert_eq!(form.risk_flags(&s), vec!["risk_safety"]);
        let mut missing = answers();
        missing.remove("risk_others");
        assert_eq!(
            form.submit(missing, at()),
            Err(IntakeError::Missing("risk_others".into()))
        );
        let mut unknown = answers();
        unknown.insert("shoe_size".into(), Answer::Text("9".into()));
        assert_eq!(
            form.submit(unknown, at()).unwrap_err().code(),
            "intake_unknown_question"
        );
        let mut wrong = answers();
        wrong.insert("concerns_duration".into(), Answer::Text("decades".into()));
        assert_eq!(
            form.submit(wrong, at()),
            Err(IntakeError::Invalid("concerns_duration".into()))
        );
        let mut long = answers();
        long.insert("gp_name".into(), Answer::Text("x".repeat(301)));
        assert!(form.submit(long, at()).is_err());
    }

    #[test]
    fn amendments_keep_history_and_old_versions_stay_valid() {
        let v1 = IntakeForm::psychology_v1();
        let mut s = v1.submit(answers(), at()).unwrap();
        s.amend(&v1, "risk_safety", Answer::YesNo(false), at()).unwrap();
        assert_eq!(s.amendments[0].previous, Some(Answer::YesNo(true)));
        assert!(v1.risk_flags(&s).is_empty());
        // A new form version does not break the old submission, and amending it needs v1.
        let mut v2 = v1.clone();
        v2.version = 2;
        v2.questions.retain(|q| q.key != "goals");
        assert_eq!(
            s.amend(&v2, "goals", Answer::Text("x".into()), at()),
            Err(IntakeError::WrongVersion(1))
        );
        s.amend(&v1, "goals", Answer::Text("Sleep through the night".into()), at())
            .unwrap();
    }
}
