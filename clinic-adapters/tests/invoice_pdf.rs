//! An invoice rendered to PDF and read back: the totals, the GST and the Medicare
//! particulars are all in the text a reader extracts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use clinic_adapters::pdf::PdfRenderer;
use clinic_core::billing::{GstRates, Invoice, LineInput, LineMedicare, Payer, Payment, PaymentMethod, SupplyKind};
use clinic_core::ids::PracticeId;
use clinic_core::money::Money;
use clinic_core::people::ProviderNumber;
use clinic_core::ports::DocumentRenderer;
use clinic_core::practice::{Abn, BookingPolicy, Practice};
use uuid::Uuid;

fn line(description: &str, cents: i64, supply: SupplyKind, medicare: Option<LineMedicare>) -> LineInput {
    LineInput {
        description: description.into(),
        service_date: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
        quantity: 1,
        unit_price: Money::from_cents(cents),
        supply,
        registered_provider: true,
        clinically_necessary: true,
        appointment_id: None,
        medicare,
    }
}

fn render(inv: &Invoice, practice: &Practice) -> String {
    let doc = inv.document(practice, "Zoë Nguyen").unwrap().to_document();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let pdf = rt.block_on(PdfRenderer.render_pdf(&doc)).unwrap();
    if let Ok(dir) = std::env::var("CLINIC_PDF_OUT") {
        std::fs::write(format!("{dir}/{}.pdf", doc.title.replace(' ', "-")), &pdf).unwrap();
    }
    pdf_extract::extract_text_from_mem(&pdf).unwrap()
}

#[test]
fn a_mixed_tax_invoice_reads_back_with_its_totals_gst_and_medicare_particulars() {
    let practice_id: PracticeId = Uuid::now_v7().into();
    let mut practice = Practice::new(practice_id, "Harbour Psychology", BookingPolicy::default()).unwrap();
    practice.abn = Some(Abn::parse("51824753556").unwrap());
    let mut inv = Invoice::draft(
        Uuid::now_v7().into(),
        practice_id,
        Uuid::now_v7().into(),
        Payer::Patient,
    );
    let rates = GstRates::australia();
    inv.add_line(
        line(
            "Individual therapy, 50 minutes",
            22_000,
            SupplyKind::PsychologicalService,
            Some(LineMedicare {
                item: "80110".into(),
                provider_name: "Sam Lee".into(),
                provider_number: Some(ProviderNumber::parse("2429581T").unwrap()),
                rebate: Money::from_cents(10_155),
                bulk_billed: false,
                referral: Some("Dr Jane Citizen, 1 November 2026".into()),
            }),
        ),
        &rates,
    )
    .unwrap();
    inv.add_line(
        line("Report for a court", 55_000, SupplyKind::MedicoLegalReport, None),
        &rates,
    )
    .unwrap();
    inv.issue(42, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()).unwrap();
    let text = render(&inv, &practice);
    for expected in [
        "Tax invoice INV-000042",
        "Harbour Psychology",
        "ABN 51 824 753 556",
        "Issued",
        "24 November 2026",
        "Zoë Nguyen",
        "Individual therapy, 50 minutes",
        "GST-free",
        "Medicare item 80110",
        "Sam Lee, provider number 2429581T",
        "Medicare benefit $101.55",
        "Referred by Dr Jane Citizen, 1 November 2026",
        "Report for a court",
        "Taxable: includes GST of $55.00",
        "GST",
        "$55.00",
        "$825.00",
        "Total price includes GST",
        "Amount owing",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Paid in full, a GST-free invoice becomes a receipt.
    let mut therapy = Invoice::draft(
        Uuid::now_v7().into(),
        practice_id,
        Uuid::now_v7().into(),
        Payer::Patient,
    );
    therapy
        .add_line(
            line(
                "Individual therapy, 50 minutes",
                22_000,
                SupplyKind::PsychologicalService,
                None,
            ),
            &rates,
        )
        .unwrap();
    therapy
        .issue(43, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())
        .unwrap();
    therapy
        .pay(Payment {
            id: Uuid::now_v7().into(),
            amount: Money::from_cents(22_000),
            method: PaymentMethod::Card,
            at: "2026-11-24T01:00:00Z".parse().unwrap(),
            reference: None,
        })
        .unwrap();
    let text = render(&therapy, &practice);
    assert!(text.contains("Receipt INV-000043"), "{text}");
    assert!(!text.contains("Total price includes GST"));
    assert!(text.contains("$220.00") && text.contains("$0.00"));
}
