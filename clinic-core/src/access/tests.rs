//! The whole roles matrix as one table.

use super::*;

const AREAS: [Area; 17] = [
    Area::Profile,
    Area::Appointments,
    Area::Availability,
    Area::Directory,
    Area::ProgressNotes,
    Area::ProcessNotes,
    Area::Prescriptions,
    Area::TestResults,
    Area::OutcomeMeasures,
    Area::Billing,
    Area::Inventory,
    Area::Messages,
    Area::Credentials,
    Area::PrivacyRequests,
    Area::StaffAccounts,
    Area::AuditLog,
    Area::Reports,
];
const ACTIONS: [Action; 10] = [
    Action::Read,
    Action::Write,
    Action::Sign,
    Action::Review,
    Action::Pay,
    Action::Request,
    Action::Process,
    Action::Invite,
    Action::RunSweep,
    Action::Verify,
];
const ROLES: [Role; 6] = [
    Role::Patient,
    Role::Psychologist,
    Role::Doctor,
    Role::Technician,
    Role::PracticeManager,
    Role::Admin,
];

/// Columns: patient, psychologist, doctor, technician, practice manager, admin.
/// `-` denied; `O` own only; `A` any record in the practice; `S` own and shared with the
/// patient; `R` own and reviewed. Pairs not listed are denied to everyone.
const MATRIX: &[(Area, Action, &str)] = &[
    (Area::Profile, Action::Read, "O - - - A A"),
    (Area::Profile, Action::Write, "O - - - - -"),
    (Area::Appointments, Action::Read, "O O O A A A"),
    (Area::Appointments, Action::Write, "O O O A A A"),
    (Area::Availability, Action::Read, "- O O A A A"),
    (Area::Availability, Action::Write, "- O O - A A"),
    (Area::Directory, Action::Read, "A A A A A A"),
    (Area::ProgressNotes, Action::Read, "S O O - - -"),
    (Area::ProgressNotes, Action::Write, "- O O - - -"),
    (Area::ProgressNotes, Action::Sign, "- O O - - -"),
    (Area::ProcessNotes, Action::Read, "- O O - - -"),
    (Area::ProcessNotes, Action::Write, "- O O - - -"),
    (Area::ProcessNotes, Action::Sign, "- O O - - -"),
    (Area::Prescriptions, Action::Read, "O O O A - -"),
    (Area::Prescriptions, Action::Write, "- - O - - -"),
    (Area::TestResults, Action::Read, "R O O A - -"),
    (Area::TestResults, Action::Write, "- - - A - -"),
    (Area::TestResults, Action::Review, "- - O - - -"),
    (Area::OutcomeMeasures, Action::Read, "O O O - - -"),
    (Area::OutcomeMeasures, Action::Write, "O O O - - -"),
    (Area::Billing, Action::Read, "O O O A A A"),
    (Area::Billing, Action::Write, "- - - A A -"),
    (Area::Billing, Action::Pay, "O - - - - -"),
    (Area::Inventory, Action::Read, "- - A A A A"),
    (Area::Inventory, Action::Write, "- - - A A -"),
    (Area::Messages, Action::Read, "O O O A - -"),
    (Area::Messages, Action::Write, "O O O A - -"),
    (Area::Credentials, Action::Read, "- O O - A A"),
    (Area::Credentials, Action::Write, "- O O - A A"),
    (Area::Credentials, Action::RunSweep, "- - - - A -"),
    (Area::PrivacyRequests, Action::Read, "O - - - A A"),
    (Area::PrivacyRequests, Action::Request, "O - - - - -"),
    (Area::PrivacyRequests, Action::Process, "- - - - A A"),
    (Area::StaffAccounts, Action::Read, "- - - - A A"),
    (Area::StaffAccounts, Action::Write, "- - - - - A"),
    (Area::StaffAccounts, Action::Invite, "- - - - A A"),
    (Area::AuditLog, Action::Read, "- - - - - A"),
    (Area::AuditLog, Action::Verify, "- - - - - A"),
    (Area::Reports, Action::Read, "- O O - A A"),
];

fn expected(code: char, relation: Relation, facts: RecordFacts) -> bool {
    let own = relation == Relation::Own;
    match code {
        '-' => false,
        'O' => own,
        'A' => true,
        'S' => own && facts.shared_with_patient,
        'R' => own && facts.reviewed,
        other => panic!("bad matrix code {other}"),
    }
}

#[test]
fn the_whole_matrix() {
    let mut checked = 0;
    for area in AREAS {
        for action in ACTIONS {
            let row = MATRIX
                .iter()
                .find(|(a, x, _)| *a == area && *x == action)
                .map_or("- - - - - -", |r| r.2);
            let codes: Vec<char> = row.split(' ').map(|c| c.chars().next().unwrap()).collect();
            assert_eq!(codes.len(), 6, "{area:?} {action:?}");
            for (role, code) in ROLES.into_iter().zip(codes) {
                for relation in [Relation::Own, Relation::Other] {
                    for (shared_with_patient, reviewed) in [(false, false), (true, false), (false, true), (true, true)]
                    {
                        let facts = RecordFacts {
                            shared_with_patient,
                            reviewed,
                        };
                        let req = Request {
                            role,
                            action,
                            area,
                            relation,
                            facts,
                            break_glass: false,
                        };
                        let want = if expected(code, relation, facts) {
                            Decision::Allow
                        } else {
                            Decision::Deny
                        };
                        assert_eq!(
                            decide(&req),
                            want,
                            "{role:?} {action:?} {area:?} {relation:?} {facts:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 17 * 10 * 6 * 2 * 4);
}

#[test]
fn break_glass_is_flagged_and_narrow() {
    let req = |role, area, action| Request {
        role,
        action,
        area,
        relation: Relation::Other,
        facts: RecordFacts::default(),
        break_glass: true,
    };
    assert_eq!(
        decide(&req(Role::Psychologist, Area::ProgressNotes, Action::Read)),
        Decision::AllowFlagged
    );
    assert_eq!(
        decide(&req(Role::Doctor, Area::TestResults, Action::Read)),
        Decision::AllowFlagged
    );
    assert_eq!(
        decide(&req(Role::Psychologist, Area::ProgressNotes, Action::Write)),
        Decision::Deny,
        "read only"
    );
    assert_eq!(
        decide(&req(Role::Psychologist, Area::ProcessNotes, Action::Read)),
        Decision::Deny,
        "process notes: author only"
    );
    assert_eq!(
        decide(&req(Role::PracticeManager, Area::ProgressNotes, Action::Read)),
        Decision::Deny,
        "not a clinician"
    );
    // With a relationship the ordinary rule applies, unflagged.
    let own = Request {
        relation: Relation::Own,
        ..req(Role::Psychologist, Area::ProgressNotes, Action::Read)
    };
    assert_eq!(decide(&own), Decision::Allow);
}
