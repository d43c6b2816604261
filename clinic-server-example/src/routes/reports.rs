//! Practice reports: JSON for the frontend, CSV for a spreadsheet, and an SVG chart of
//! revenue and utilisation. Managers and administrators read them practice-wide; a
//! clinician reads utilisation and attendance for their own caseload
//! (`clinic-core`'s `ReportsService`, deciding with `access::decide`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use clinic_adapters::export::table_csv;
use clinic_core::ids::{LocationId, PractitionerId};
use clinic_core::people::Role;
use clinic_core::reports::{
    AttendanceRow, CapReport, ExpiringCredential, MonthRevenue, Outstanding, Period, UtilisationRow,
};
use clinic_core::service::Actor;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{practice_today, request_id};
use crate::auth::Principal;
use crate::charts::{Series, stacked_bars};
use crate::error::ApiError;
use crate::state::AppState;

/// The roles that read reports, the practice-wide ones first.
const READERS: &[Role] = &[Role::PracticeManager, Role::Admin, Role::Psychologist, Role::Doctor];

fn actor(who: &Principal, headers: &HeaderMap) -> Actor {
    who.actor_as(READERS, request_id(headers))
}

/// How a report is wanted.
#[derive(Clone, Copy, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Format {
    /// JSON (the default).
    #[default]
    Json,
    /// CSV, for a spreadsheet.
    Csv,
    /// An SVG chart (revenue and utilisation only).
    Svg,
}

/// A period and a format.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PeriodQuery {
    /// First day (local), `YYYY-MM-DD`.
    from: NaiveDate,
    /// Last day (local), at most 366 days after `from`.
    to: NaiveDate,
    /// `json` (default), `csv`, or `svg` where a chart is offered.
    #[serde(default)]
    format: Format,
}

/// A format alone.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct FormatQuery {
    /// `json` (default) or `csv`.
    #[serde(default)]
    format: Format,
}

/// A calendar year and a format.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct YearQuery {
    /// The calendar year (default: this year at the practice).
    year: Option<i32>,
    /// `json` (default) or `csv`.
    #[serde(default)]
    format: Format,
}

/// A horizon and a format.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct HorizonQuery {
    /// Days ahead, 0 to 365 (default 90).
    days: Option<u32>,
    /// `json` (default) or `csv`.
    #[serde(default)]
    format: Format,
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v).map_err(|r| ApiError::bad_request(r.body_text()))
}

fn period(from: NaiveDate, to: NaiveDate) -> Result<Period, ApiError> {
    Ok(Period::new(from, to)?)
}

fn no_chart() -> ApiError {
    clinic_core::FieldError::new("format", "this report is offered as json or csv").into()
}

fn typed(body: String, mime: &'static str, file: &str) -> Response {
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

fn csv(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>, file: &str) -> Response {
    typed(table_csv(header, rows), "text/csv; charset=utf-8", file)
}

fn svg(body: String, file: &str) -> Response {
    typed(body, "image/svg+xml", file)
}

fn opt(v: Option<Decimal>) -> String {
    v.map(|d| d.to_string()).unwrap_or_default()
}

/// Names to show for ids in a CSV or a chart.
async fn names(s: &AppState) -> Result<(HashMap<PractitionerId, String>, HashMap<LocationId, String>), ApiError> {
    let store = &s.store;
    let port = clinic_core::service::ServiceError::Port;
    let people = store.practitioners(s.practice).await.map_err(port)?;
    let places = store.locations(s.practice).await.map_err(port)?;
    Ok((
        people.into_iter().map(|p| (p.id, p.display_name)).collect(),
        places.into_iter().map(|l| (l.id, l.name)).collect(),
    ))
}

/// `GET /api/v1/reports/utilisation?from=&to=&format=`: booked against available hours
/// per practitioner and location.
#[utoipa::path(get, path = "/api/v1/reports/utilisation", tag = "reports", params(PeriodQuery), responses((status = 200, description = "done", content((Vec<UtilisationRow> = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn utilisation(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    q: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let rows = s
        .reports
        .utilisation(&actor(&who, &headers), period(q.from, q.to)?)
        .await?;
    let (people, places) = names(&s).await?;
    let name = |r: &UtilisationRow| {
        (
            people.get(&r.practitioner_id).cloned().unwrap_or_default(),
            places.get(&r.location_id).cloned().unwrap_or_default(),
        )
    };
    Ok(match q.format {
        Format::Json => Json(rows).into_response(),
        Format::Csv => csv(
            &[
                "practitioner_id",
                "practitioner",
                "location_id",
                "location",
                "available_minutes",
                "booked_minutes",
                "utilisation_percent",
            ],
            rows.iter().map(|r| {
                let (p, l) = name(r);
                vec![
                    r.practitioner_id.to_string(),
                    p,
                    r.location_id.to_string(),
                    l,
                    r.available_minutes.to_string(),
                    r.booked_minutes.to_string(),
                    opt(r.utilisation_percent),
                ]
            }),
            "utilisation.csv",
        ),
        Format::Svg => {
            let labels: Vec<String> = rows
                .iter()
                .map(|r| {
                    let (p, l) = name(r);
                    if places.len() > 1 { format!("{p} ({l})") } else { p }
                })
                .collect();
            let values = rows.iter().map(|r| r.utilisation_percent.unwrap_or_default()).collect();
            let title = format!("Utilisation {} to {}", q.from, q.to);
            let series = [Series {
                name: "Booked as a share of available hours",
                colour: "#2b6cb0",
                values,
            }];
            svg(stacked_bars(&title, "%", &labels, &series), "utilisation.svg")
        }
    })
}

/// `GET /api/v1/reports/attendance?from=&to=&format=`: no-show and late-cancellation
/// rates per practitioner and for the practice (the row without a practitioner).
#[utoipa::path(get, path = "/api/v1/reports/attendance", tag = "reports", params(PeriodQuery), responses((status = 200, description = "done", content((Vec<AttendanceRow> = "application/json"), (String = "text/csv"))), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn attendance(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    q: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let rows: Vec<AttendanceRow> = s
        .reports
        .attendance(&actor(&who, &headers), period(q.from, q.to)?)
        .await?;
    Ok(match q.format {
        Format::Json => Json(rows).into_response(),
        Format::Svg => return Err(no_chart()),
        Format::Csv => {
            let (people, _) = names(&s).await?;
            csv(
                &[
                    "practitioner_id",
                    "practitioner",
                    "due",
                    "attended",
                    "no_shows",
                    "late_cancellations",
                    "cancellations",
                    "no_show_percent",
                    "late_cancellation_percent",
                ],
                rows.iter().map(|r| {
                    vec![
                        r.practitioner_id.map(|p| p.to_string()).unwrap_or_default(),
                        r.practitioner_id
                            .and_then(|p| people.get(&p).cloned())
                            .unwrap_or_else(|| "All practitioners".to_owned()),
                        r.due.to_string(),
                        r.attended.to_string(),
                        r.no_shows.to_string(),
                        r.late_cancellations.to_string(),
                        r.cancellations.to_string(),
                        opt(r.no_show_percent),
                        opt(r.late_cancellation_percent),
                    ]
                }),
                "attendance.csv",
            )
        }
    })
}

/// `GET /api/v1/reports/revenue?from=&to=&format=`: by month of issue, split into Medicare
/// rebates, gaps and private fees, with GST collected.
#[utoipa::path(get, path = "/api/v1/reports/revenue", tag = "reports", params(PeriodQuery), responses((status = 200, description = "done", content((Vec<MonthRevenue> = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn revenue(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    q: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let months = s.reports.revenue(&actor(&who, &headers), period(q.from, q.to)?).await?;
    Ok(match q.format {
        Format::Json => Json(months).into_response(),
        Format::Csv => csv(
            &[
                "month",
                "invoices",
                "medicare_rebate",
                "gap",
                "private_fees",
                "gst",
                "total",
            ],
            months.iter().map(|m| {
                vec![
                    m.month.clone(),
                    m.invoices.to_string(),
                    m.medicare_rebate.amount().round_dp(2).to_string(),
                    m.gap.amount().round_dp(2).to_string(),
                    m.private_fees.amount().round_dp(2).to_string(),
                    m.gst.amount().round_dp(2).to_string(),
                    m.total.amount().round_dp(2).to_string(),
                ]
            }),
            "revenue.csv",
        ),
        Format::Svg => {
            let labels: Vec<String> = months.iter().map(|m| m.month.clone()).collect();
            let series = [
                Series {
                    name: "Medicare rebates",
                    colour: "#2b6cb0",
                    values: months.iter().map(|m| m.medicare_rebate.amount()).collect(),
                },
                Series {
                    name: "Gap fees",
                    colour: "#dd6b20",
                    values: months.iter().map(|m| m.gap.amount()).collect(),
                },
                Series {
                    name: "Private fees",
                    colour: "#38a169",
                    values: months.iter().map(|m| m.private_fees.amount()).collect(),
                },
            ];
            let title = format!("Revenue by month, {} to {} (AUD)", q.from, q.to);
            svg(stacked_bars(&title, "", &labels, &series), "revenue.svg")
        }
    })
}

/// `GET /api/v1/reports/outstanding?format=`: issued invoices with a balance, by age.
#[utoipa::path(get, path = "/api/v1/reports/outstanding", tag = "reports", params(FormatQuery), responses((status = 200, description = "done", content((Outstanding = "application/json"), (String = "text/csv"))), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn outstanding(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    q: Result<Query<FormatQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let today = practice_today(&s).await?;
    let o = s.reports.outstanding(&actor(&who, &headers), today).await?;
    Ok(match q.format {
        Format::Json => Json(o).into_response(),
        Format::Svg => return Err(no_chart()),
        Format::Csv => csv(
            &[
                "invoice_id",
                "number",
                "patient_id",
                "issued_on",
                "days",
                "age",
                "balance",
            ],
            o.invoices.iter().map(|i| {
                vec![
                    i.invoice_id.to_string(),
                    i.number.map(|n| n.to_string()).unwrap_or_default(),
                    i.patient_id.to_string(),
                    i.issued_on.map(|d| d.to_string()).unwrap_or_default(),
                    i.days.to_string(),
                    i.age.to_owned(),
                    i.balance.amount().round_dp(2).to_string(),
                ]
            }),
            "outstanding.csv",
        ),
    })
}

/// `GET /api/v1/reports/medicare-caps?year=&format=`: patients by individual sessions
/// claimed in the year against the cap.
#[utoipa::path(get, path = "/api/v1/reports/medicare-caps", tag = "reports", params(YearQuery), responses((status = 200, description = "done", content((CapReport = "application/json"), (String = "text/csv"))), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 404, description = "no cap rule covers the year", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn medicare_caps(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    q: Result<Query<YearQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let today = practice_today(&s).await?;
    let year = q.year.unwrap_or(today.year());
    // The cap in force today for this year, on 31 December for a past year, on 1 January
    // for a future one.
    let on = match year.cmp(&today.year()) {
        std::cmp::Ordering::Equal => Some(today),
        std::cmp::Ordering::Less => NaiveDate::from_ymd_opt(year, 12, 31),
        std::cmp::Ordering::Greater => NaiveDate::from_ymd_opt(year, 1, 1),
    }
    .ok_or_else(|| clinic_core::FieldError::new("year", "is out of range"))?;
    let r = s.reports.medicare_caps(&actor(&who, &headers), year, on).await?;
    Ok(match q.format {
        Format::Json => Json(r).into_response(),
        Format::Svg => return Err(no_chart()),
        Format::Csv => csv(
            &["year", "cap", "sessions_from", "sessions_to", "patients"],
            r.bands.iter().map(|b| {
                vec![
                    r.year.to_string(),
                    r.cap.to_string(),
                    b.from.to_string(),
                    b.to.to_string(),
                    b.patients.to_string(),
                ]
            }),
            "medicare-caps.csv",
        ),
    })
}

/// `GET /api/v1/reports/credentials?days=90&format=`: registrations and policies lapsing
/// within the horizon, or lapsed.
#[utoipa::path(get, path = "/api/v1/reports/credentials", tag = "reports", params(HorizonQuery), responses((status = 200, description = "done", content((Vec<ExpiringCredential> = "application/json"), (String = "text/csv"))), (status = 401, description = "not signed in, or the token is not valid", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 403, description = "the role may not do this", content_type = "application/problem+json", body = crate::openapi::Problem), (status = 422, description = "a field was refused", content_type = "application/problem+json", body = crate::openapi::Problem)), security(("bearer" = [])))]
pub(crate) async fn credentials(
    State(s): State<AppState>,
    who: Principal,
    headers: HeaderMap,
    q: Result<Query<HorizonQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let days = q.days.unwrap_or(90);
    if days > 365 {
        return Err(clinic_core::FieldError::new("days", "must be 0 to 365").into());
    }
    let today = practice_today(&s).await?;
    let list = s
        .reports
        .expiring_credentials(&actor(&who, &headers), today, days)
        .await?;
    Ok(match q.format {
        Format::Json => Json(list).into_response(),
        Format::Svg => return Err(no_chart()),
        Format::Csv => {
            let (people, _) = names(&s).await?;
            csv(
                &[
                    "practitioner_id",
                    "practitioner",
                    "credential",
                    "expires_on",
                    "days_left",
                    "lapsed",
                ],
                list.iter().map(|e| {
                    vec![
                        e.practitioner_id.to_string(),
                        people.get(&e.practitioner_id).cloned().unwrap_or_default(),
                        e.credential.to_owned(),
                        e.expires_on.to_string(),
                        e.days_left.to_string(),
                        e.lapsed.to_string(),
                    ]
                }),
                "credentials.csv",
            )
        }
    })
}
