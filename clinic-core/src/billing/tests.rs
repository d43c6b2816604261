//! Invoice edges and properties.

use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::ids::{InvoiceId, PatientId, PaymentId, PracticeId};
use crate::money::Money;
use crate::practice::{Abn, BookingPolicy, Practice};

fn now() -> DateTime<Utc> {
    "2026-11-24T00:00:00Z".parse().unwrap()
}

fn line(cents: i64, supply: SupplyKind) -> LineInput {
    LineInput {
        description: "Session".into(),
        service_date: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
        quantity: 1,
        unit_price: Money::from_cents(cents),
        supply,
        registered_provider: true,
        clinically_necessary: true,
        appointment_id: None,
        medicare: None,
    }
}

fn invoice(lines: &[(i64, SupplyKind)]) -> Invoice {
    let mut inv = Invoice::draft(
        InvoiceId::from_uuid(Uuid::nil()),
        PracticeId::from_uuid(Uuid::nil()),
        PatientId::from_uuid(Uuid::nil()),
        Payer::Patient,
    );
    for (c, s) in lines {
        inv.add_line(line(*c, *s), &GstRates::australia()).unwrap();
    }
    inv
}

fn payment(n: u128, cents: i64) -> Payment {
    Payment {
        id: PaymentId::from_uuid(Uuid::from_u128(n)),
        amount: Money::from_cents(cents),
        method: PaymentMethod::Card,
        at: now(),
        reference: None,
    }
}

fn practice(abn: bool) -> Practice {
    let mut p = Practice::new(
        PracticeId::from_uuid(Uuid::nil()),
        "Harbour Psychology",
        BookingPolicy::default(),
    )
    .unwrap();
    p.abn = abn.then(|| Abn::parse("51824753556").unwrap());
    p
}

#[test]
fn therapy_is_gst_free_a_report_is_taxed() {
    let inv = invoice(&[
        (22000, SupplyKind::PsychologicalService),
        (50000, SupplyKind::MedicoLegalReport),
    ]);
    assert_eq!(inv.lines[0].gst, Money::ZERO);
    assert_eq!(inv.lines[1].gst, Money::from_cents(5000));
    assert_eq!(inv.total(), Money::from_cents(77000));
    assert_eq!(inv.gst_total(), Money::from_cents(5000));
}

#[test]
fn half_cent_gst_rounds_up_per_line() {
    // Two taxable lines of $0.05: 0.5c each, rounded per line to 1c each.
    let inv = invoice(&[(5, SupplyKind::Product), (5, SupplyKind::Product)]);
    assert_eq!(inv.gst_total(), Money::from_cents(2));
    assert_eq!(inv.total(), Money::from_cents(12));
}

#[test]
fn lifecycle_payments_refunds_credits() {
    let mut inv = invoice(&[(22000, SupplyKind::PsychologicalService)]);
    assert_eq!(inv.status(), InvoiceStatus::Draft);
    assert_eq!(inv.pay(payment(1, 100)), Err(BillingError::NotIssued));
    inv.issue(1, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()).unwrap();
    assert_eq!(
        inv.add_line(line(100, SupplyKind::Product), &GstRates::australia()),
        Err(BillingError::NotDraft)
    );
    assert_eq!(inv.status(), InvoiceStatus::Issued);
    inv.pay(payment(1, 10000)).unwrap();
    assert_eq!(inv.status(), InvoiceStatus::PartPaid);
    assert_eq!(
        inv.pay(payment(2, 12001)),
        Err(BillingError::Overpayment {
            balance: Money::from_cents(12000)
        })
    );
    inv.pay(payment(2, 12000)).unwrap();
    assert_eq!(inv.status(), InvoiceStatus::Paid);
    // A correction on a paid invoice is a credit note; the patient is then owed a refund.
    inv.credit(CreditNote {
        amount: Money::from_cents(2000),
        at: now(),
        reason: "discount agreed".into(),
    })
    .unwrap();
    assert_eq!(inv.status(), InvoiceStatus::RefundDue);
    assert_eq!(inv.balance(), Money::from_cents(-2000));
    let refund = |cents| Refund {
        payment_id: PaymentId::from_uuid(Uuid::from_u128(1)),
        amount: Money::from_cents(cents),
        at: now(),
        reason: "credit".into(),
    };
    assert_eq!(
        inv.refund(refund(10001)),
        Err(BillingError::RefundTooLarge {
            refundable: Money::from_cents(10000)
        })
    );
    inv.refund(refund(2000)).unwrap();
    assert_eq!(inv.status(), InvoiceStatus::Paid);
    assert_eq!(
        inv.credit(CreditNote {
            amount: Money::from_cents(20001),
            at: now(),
            reason: "x".into()
        }),
        Err(BillingError::CreditTooLarge {
            creditable: Money::from_cents(20000)
        })
    );
    assert!(inv.issue(2, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()).is_err());
}

#[test]
fn bad_amounts_are_refused() {
    let mut inv = invoice(&[(22000, SupplyKind::PsychologicalService)]);
    inv.issue(1, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()).unwrap();
    assert!(matches!(inv.pay(payment(1, 0)), Err(BillingError::Invalid(_))));
    assert!(matches!(inv.pay(payment(1, -5)), Err(BillingError::Invalid(_))));
    let mut bad = line(100, SupplyKind::Product);
    bad.quantity = 0;
    assert!(InvoiceLine::new(bad, &GstRates::australia()).is_err());
    let mut bad = line(100, SupplyKind::Product);
    bad.unit_price = Money::aud("1.005".parse().unwrap());
    assert!(InvoiceLine::new(bad, &GstRates::australia()).is_err());
    assert_eq!(
        invoice(&[]).issue(1, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()),
        Err(BillingError::NoLines)
    );
}

#[test]
fn bulk_billing_charges_the_benefit_and_nothing_more() {
    let medicare = |rebate: i64, bulk_billed: bool| LineMedicare {
        item: "80110".into(),
        provider_name: "Sam Lee".into(),
        provider_number: None,
        rebate: Money::from_cents(rebate),
        bulk_billed,
        referral: None,
    };
    let with = |price: i64, m: LineMedicare| {
        let mut l = line(price, SupplyKind::PsychologicalService);
        l.medicare = Some(m);
        InvoiceLine::new(l, &GstRates::australia())
    };
    assert!(with(10155, medicare(10155, true)).is_ok());
    assert!(
        with(10156, medicare(10155, true)).is_err(),
        "a gap of one cent is not bulk billing"
    );
    assert!(with(22000, medicare(10155, false)).is_ok());
    assert!(with(10000, medicare(10155, false)).is_err(), "a rebate above the fee");
}

#[test]
fn tax_invoice_requirements() {
    let date = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let mut therapy = invoice(&[(22000, SupplyKind::PsychologicalService)]);
    therapy.issue(7, date).unwrap();
    let doc = therapy.document(&practice(false), "Alex Taylor").unwrap();
    assert_eq!(
        (doc.title, doc.gst_statement),
        ("Invoice", None),
        "no taxable line: a plain invoice, no ABN needed"
    );
    therapy.pay(payment(1, 22000)).unwrap();
    assert_eq!(
        therapy.document(&practice(false), "Alex Taylor").unwrap().title,
        "Receipt"
    );
    let mut report = invoice(&[(50000, SupplyKind::MedicoLegalReport)]);
    report.issue(8, date).unwrap();
    assert_eq!(
        report.document(&practice(false), "Alex Taylor"),
        Err(BillingError::MissingAbn)
    );
    let doc = report.document(&practice(true), "Alex Taylor").unwrap();
    assert_eq!(doc.title, "Tax invoice");
    assert_eq!(doc.gst_statement, Some("Total price includes GST"));
    assert_eq!(doc.supplier_abn.unwrap().to_string(), "51 824 753 556");
    assert_eq!(doc.gst_total, Money::from_cents(5000));
    // $1,000 or more needs the buyer's identity.
    let mut big = invoice(&[(100_000, SupplyKind::TrainingOrConsulting)]);
    big.payer = Payer::Organisation {
        name: String::new(),
        abn: None,
    };
    big.issue(9, date).unwrap();
    assert_eq!(big.document(&practice(true), "Alex"), Err(BillingError::MissingBuyer));
    big.payer = Payer::Organisation {
        name: "Acme Pty Ltd".into(),
        abn: Some(Abn::parse("53004085616").unwrap()),
    };
    assert_eq!(
        big.document(&practice(true), "Alex").unwrap().buyer,
        "Acme Pty Ltd (ABN 53 004 085 616)"
    );
}

#[derive(Debug, Clone)]
enum Op {
    Pay(i64),
    Refund(usize, i64),
    Credit(i64),
}

fn supply() -> impl Strategy<Value = SupplyKind> {
    prop_oneof![
        Just(SupplyKind::PsychologicalService),
        Just(SupplyKind::GoodsDuringService),
        Just(SupplyKind::MedicoLegalReport),
        Just(SupplyKind::Product),
        Just(SupplyKind::TrainingOrConsulting),
        Just(SupplyKind::CancellationFee),
    ]
}

proptest! {
    /// Totals are exact sums of lines; GST-free lines carry no GST; taxable GST is the
    /// rounded 10%; the balance always equals total − payments + refunds − credits and the
    /// operations never let refunds exceed payments or credits exceed the total.
    #[test]
    fn invoice_arithmetic_holds(
        lines in proptest::collection::vec((0i64..500_000, 1u32..5, supply(), any::<bool>()), 1..8),
        ops in proptest::collection::vec(prop_oneof![
            (1i64..300_000).prop_map(Op::Pay),
            (0usize..8, 1i64..300_000).prop_map(|(i, c)| Op::Refund(i, c)),
            (1i64..300_000).prop_map(Op::Credit),
        ], 0..20),
    ) {
        let rates = GstRates::australia();
        let mut inv = Invoice::draft(InvoiceId::from_uuid(Uuid::nil()), PracticeId::from_uuid(Uuid::nil()), PatientId::from_uuid(Uuid::nil()), Payer::Patient);
        for (cents, qty, kind, registered) in &lines {
            let mut l = line(*cents, *kind);
            l.quantity = *qty;
            l.registered_provider = *registered;
            inv.add_line(l, &rates).unwrap();
        }
        let sum = |f: &dyn Fn(&InvoiceLine) -> Money| inv.lines.iter().map(f).fold(Money::ZERO, |a, b| a + b);
        prop_assert_eq!(inv.total(), sum(&|l| l.total));
        prop_assert_eq!(inv.total(), inv.net_total() + inv.gst_total());
        for l in &inv.lines {
            match l.gst_treatment {
                GstTreatment::Free(_) => prop_assert_eq!(l.gst, Money::ZERO),
                GstTreatment::Taxable => prop_assert_eq!(l.gst, gst_on(l.net, "0.10".parse().unwrap())),
            }
        }
        inv.issue(1, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()).unwrap();
        for (n, op) in ops.into_iter().enumerate() {
            let _ = match op {
                Op::Pay(c) => inv.pay(payment(n as u128, c)),
                Op::Refund(i, c) => {
                    let target = inv.payments.get(i % inv.payments.len().max(1)).map(|p| p.id);
                    match target {
                        Some(id) => inv.refund(Refund { payment_id: id, amount: Money::from_cents(c), at: now(), reason: "r".into() }),
                        None => Ok(()),
                    }
                }
                Op::Credit(c) => inv.credit(CreditNote { amount: Money::from_cents(c), at: now(), reason: "c".into() }),
            };
            prop_assert_eq!(inv.balance(), inv.total() - inv.paid() + inv.refunded() - inv.credited());
            prop_assert!(inv.refunded() <= inv.paid());
            prop_assert!(inv.credited() <= inv.total());
        }
    }
}
