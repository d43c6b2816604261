//! The API described as OpenAPI 3.1, generated from the handlers' and types' own
//! annotations (utoipa): `GET /openapi.json`, and a browsable page at `/docs`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

/// An error, as every route returns it (`application/problem+json`, RFC 9457).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// The stable machine-readable code (`practitioner_busy`, `invalid_field`, …).
    pub code: String,
    /// A sentence for people (it never carries health data).
    pub detail: String,
    /// For a validation error: the (first) field at fault.
    pub field: Option<String>,
    /// For a validation error: every field at fault and what is wrong with it.
    pub errors: Option<Vec<FieldProblemDoc>>,
}

/// One field at fault in a validation error.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct FieldProblemDoc {
    /// The field, as named in the request.
    pub field: String,
    /// What is wrong with it (never its value).
    pub problem: String,
}

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
            // The scraper's static token for `GET /metrics` (configuration `metrics_token`).
            components.add_security_scheme(
                "metrics_token",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "clinic-rs reference server",
        description = "Scheduling, Medicare billing, clinical records and privacy for an Australian practice. \
                       Every `/api/v1` route but sign-in and the provider callbacks needs a bearer access token; \
                       what a role may do is the roles matrix (`access::decide`)."
    ),
    paths(
        routes::health, routes::ready, routes::metrics,
        routes::auth::register, routes::auth::login, routes::auth::refresh, routes::auth::logout,
        routes::auth::me, routes::auth::bootstrap, routes::auth::enrol, routes::auth::confirm,
        routes::staff::accept, routes::staff::invite,
        routes::lifecycle::verify_email, routes::lifecycle::resend_verification, routes::lifecycle::request_reset,
        routes::lifecycle::confirm_reset, routes::lifecycle::list_staff, routes::lifecycle::disable,
        routes::lifecycle::enable, routes::lifecycle::set_roles, routes::lifecycle::reset_two_factor,
        routes::lifecycle::remove_two_factor,
        routes::dashboard::dashboard, routes::dashboard::patient, routes::dashboard::reminders,
        routes::admin::availability, routes::admin::add_template, routes::admin::add_exception,
        routes::admin::audit, routes::admin::verify,
        routes::directory::directory, routes::slots::search,
        routes::appointments::book, routes::appointments::list, routes::appointments::get, routes::appointments::cancel, routes::appointments::cancel_following,
        routes::appointments::confirm, routes::appointments::arrive, routes::appointments::complete,
        routes::appointments::no_show, routes::appointments::reschedule, routes::appointments::reschedule_following, routes::appointments::join_waitlist,
        routes::billing::claim, routes::billing::join, routes::billing::get, routes::billing::pdf,
        routes::billing::payment_intent,
        routes::records::save_prep, routes::records::record_consent, routes::records::consents,
        routes::records::emergency_contact, routes::records::request_access, routes::records::export,
        routes::records::process_deletion, routes::records::request_deletion, routes::care::team, routes::care::assign, routes::care::end, routes::care::break_glass, routes::records::create_note, routes::records::note,
        routes::records::sign_note, routes::records::lock_note, routes::records::amend_note,
        routes::hooks::stripe, routes::hooks::twilio_status,
        routes::practice::get, routes::practice::update, routes::practice::add_location,
        routes::practice::add_room, routes::practice::add_service,
        routes::calendar::link, routes::calendar::renew, routes::calendar::feed,
        routes::billing::create, routes::billing::issue, routes::billing::pay, routes::billing::refund,
        routes::billing::credit, routes::billing::for_patient, routes::billing::end_session,
        routes::intake::form, routes::intake::submit, routes::intake::amend, routes::intake::read,
        routes::patients::list, routes::patients::update_profile, routes::guardians::guardians, routes::guardians::link_guardian, routes::guardians::unlink_guardian, routes::patients::correct,
        routes::patients::decline, routes::patients::corrections,
        routes::credentials::get, routes::credentials::add_registration, routes::credentials::add_insurance,
        routes::credentials::put_certificate, routes::credentials::get_certificate,
        routes::billing::medicare_usage, routes::billing::referrals, routes::billing::add_referral,
        routes::billing::list, routes::billing::put_referral_letter, routes::billing::get_referral_letter,
        routes::clinical::prescribe, routes::clinical::prescriptions, routes::clinical::record_result,
        routes::clinical::results, routes::clinical::review_result, routes::clinical::set_plan,
        routes::clinical::plan, routes::clinical::complete_measure, routes::clinical::measures,
        routes::clinical::attach_to_result, routes::clinical::result_attachment,
        routes::inventory::list_items, routes::inventory::create_item, routes::inventory::get_item, routes::inventory::update_item,
        routes::inventory::record_movement, routes::inventory::low_stock, routes::inventory::expiring,
        routes::messages::list_threads, routes::messages::start_thread, routes::messages::read_thread,
        routes::messages::post_message, routes::messages::upload_attachment, routes::messages::attachment,
        routes::reports::utilisation, routes::reports::attendance, routes::reports::revenue,
        routes::reports::outstanding, routes::reports::medicare_caps, routes::reports::credentials,
        routes::fhir::fhir_patient, routes::fhir::fhir_practitioner, routes::fhir::fhir_appointment, routes::fhir::fhir_schedules,
        routes::fhir::fhir_slots, routes::inbox::inbox, routes::inbox::mark_read,
    ),
    components(schemas(Problem, FieldProblemDoc, routes::reports::Format)),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

/// The document as `GET /openapi.json` serves it: [`ApiDoc`] written out as JSON and kept in
/// the repository (`clinic-server-example/openapi.json`), so changes to the API show in review
/// and the server never builds the document at run time (building it composes every route's
/// schemas and briefly takes some 20 MB of heap, a third of the server's 60 MB budget, which
/// the allocator then keeps). The test `the_served_document_is_the_generated_one` fails when
/// the file is stale; `CLINIC_OPENAPI_WRITE=1 cargo test -p clinic-server-example --lib
/// openapi` rewrites it.
pub const JSON: &str = include_str!("../openapi.json");

/// [`ApiDoc`] as [`JSON`] holds it: pretty-printed, two-space indents, one final newline.
#[must_use]
pub fn generate() -> String {
    let mut text = serde_json::to_string_pretty(&ApiDoc::openapi()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    if k == "$ref" {
                        out.push(x.as_str().unwrap_or_default().to_owned());
                    } else {
                        refs(x, out);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    /// Where a schema's `items` is a list (the tuple form OpenAPI 3.1 does not have).
    fn tuple_items(v: &serde_json::Value, at: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    if k == "items" && x.is_array() {
                        out.push(at.to_owned());
                    }
                    tuple_items(x, &format!("{at}/{k}"), out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| tuple_items(x, at, out)),
            _ => {}
        }
    }

    /// The checked-in document is the one the annotations generate.
    #[test]
    fn the_served_document_is_the_generated_one() {
        let generated = generate();
        if std::env::var_os("CLINIC_OPENAPI_WRITE").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
            std::fs::write(path, &generated).unwrap_or_else(|e| panic!("writing {path}: {e}"));
            return;
        }
        assert!(
            JSON == generated,
            "clinic-server-example/openapi.json is stale: rewrite it with \
             CLINIC_OPENAPI_WRITE=1 cargo test -p clinic-server-example --lib openapi"
        );
    }

    /// Every schema is valid OpenAPI 3.1: no `items` is a list.
    #[test]
    fn no_schema_uses_the_tuple_form_of_items() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let mut found = Vec::new();
        tuple_items(&doc, "", &mut found);
        assert!(found.is_empty(), "tuple-form items at {found:?}");
    }

    /// Every `$ref` points at a schema the document defines.
    #[test]
    fn every_reference_resolves() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        if let Ok(path) = std::env::var("CLINIC_OPENAPI_OUT") {
            let _ = std::fs::write(path, doc.to_string());
        }
        let schemas = doc["components"]["schemas"].as_object().cloned().unwrap_or_default();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 50, "{}", all.len());
        for r in all {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(schemas.contains_key(name), "dangling reference {r}");
        }
        // Operation ids are unique, as OpenAPI requires (clients name methods after them).
        let mut ids: Vec<String> = doc["paths"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
            .filter_map(|item| item.as_object())
            .flat_map(|ops| ops.values())
            .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
            .collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate operation ids");
    }
}
