//! Card payments end to end over every store: an intent for the balance, the provider's
//! signed webhook, and the invoice changed exactly once however often the event arrives.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use chrono::NaiveDate;
use clinic_adapters::console::ConsolePayments;
use clinic_adapters::manual_claims::ManualClaims;
use clinic_core::billing::{InvoiceStatus, LineInput, Payer, PaymentMethod, SupplyKind};
use clinic_core::ids::InvoiceId;
use clinic_core::money::Money;
use clinic_core::ports::*;
use clinic_core::service::{BillingService, PaymentOutcome, RefundOutcome, RefundPayment};
use common::{Fixture, practice_on, utc};

async fn issued_invoice(f: &Fixture, billing: &BillingService, cents: i64) -> InvoiceId {
    let line = LineInput {
        description: "Individual therapy, 50 minutes".into(),
        service_date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        quantity: 1,
        unit_price: Money::from_cents(cents),
        supply: SupplyKind::PsychologicalService,
        registered_provider: true,
        clinically_necessary: true,
        appointment_id: None,
        medicare: None,
    };
    let inv = billing
        .create_invoice(f.practice, f.patients[0], Payer::Patient, vec![line])
        .await
        .unwrap();
    billing
        .issue(f.practice, inv.id, chrono_tz::Australia::Sydney)
        .await
        .unwrap()
        .id
}

async fn a_webhook_delivered_twice_pays_once(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let billing = f.billing(Arc::new(ManualClaims::new()));
    let gateway = ConsolePayments::new(b"whsec_console");
    let inv = issued_invoice(&f, &billing, 22_000).await;

    let intent = billing.start_card_payment(f.practice, inv, 1, &gateway).await.unwrap();
    assert_eq!(intent.amount, Money::from_cents(22_000));
    // The same attempt again is the same intent (the idempotency key is the same).
    let again = billing.start_card_payment(f.practice, inv, 1, &gateway).await.unwrap();
    assert_eq!(again.id, intent.id);

    let (signature, body) = gateway.succeed(&intent.id).unwrap();
    let now = utc("2026-11-23T23:00:00Z");
    let event = gateway.verify_webhook(&signature, &body, now).unwrap();
    match billing.apply_payment_event(&event, &gateway).await.unwrap() {
        PaymentOutcome::Applied(inv) => {
            assert_eq!(inv.status(), InvoiceStatus::Paid);
            assert_eq!(inv.payments.len(), 1);
            assert_eq!(inv.payments[0].method, PaymentMethod::Card);
            assert_eq!(inv.payments[0].reference.as_deref(), Some(intent.id.as_str()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        billing.apply_payment_event(&event, &gateway).await.unwrap(),
        PaymentOutcome::AlreadyApplied
    );
    let stored = f.store.invoice(f.practice, inv).await.unwrap();
    assert_eq!(stored.payments.len(), 1);
    assert_eq!(stored.balance(), Money::ZERO);
    // Nothing owing: no new intent.
    assert_eq!(
        billing
            .start_card_payment(f.practice, inv, 2, &gateway)
            .await
            .unwrap_err()
            .code(),
        "invalid_field"
    );
    // A tampered delivery never reaches billing.
    let mut forged = body.clone();
    forged[0] = b' ';
    assert!(gateway.verify_webhook(&signature, &forged, now).is_err());
}

async fn concurrent_deliveries_of_one_event_record_one_payment(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let billing = Arc::new(f.billing(Arc::new(ManualClaims::new())));
    let gateway = Arc::new(ConsolePayments::new(b"whsec_console"));
    let inv = issued_invoice(&f, &billing, 15_000).await;
    let intent = billing.start_card_payment(f.practice, inv, 1, &*gateway).await.unwrap();
    let (signature, body) = gateway.succeed(&intent.id).unwrap();
    let event = gateway
        .verify_webhook(&signature, &body, utc("2026-11-23T23:00:00Z"))
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (billing, gateway, event) = (billing.clone(), gateway.clone(), event.clone());
            tokio::spawn(async move { billing.apply_payment_event(&event, &*gateway).await })
        })
        .collect();
    let mut applied = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            PaymentOutcome::Applied(_) => applied += 1,
            PaymentOutcome::AlreadyApplied => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(f.store.invoice(f.practice, inv).await.unwrap().payments.len(), 1);
}

async fn provider_refunds_are_recorded_by_their_cumulative_total(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let billing = f.billing(Arc::new(ManualClaims::new()));
    let gateway = ConsolePayments::new(b"whsec_console");
    let inv = issued_invoice(&f, &billing, 22_000).await;
    let intent = billing.start_card_payment(f.practice, inv, 1, &gateway).await.unwrap();
    let now = utc("2026-11-23T23:00:00Z");
    let (s, b) = gateway.succeed(&intent.id).unwrap();
    billing
        .apply_payment_event(&gateway.verify_webhook(&s, &b, now).unwrap(), &gateway)
        .await
        .unwrap();
    // $50 refunded at the provider, announced twice; then another $20.
    gateway
        .refund(&RefundRequest {
            intent: intent.id.clone(),
            amount: Some(Money::from_cents(5_000)),
            idempotency_key: "r1".into(),
        })
        .await
        .unwrap();
    let (s, b) = gateway.refunded(&intent.id).unwrap();
    let first = gateway.verify_webhook(&s, &b, now).unwrap();
    assert!(matches!(
        billing.apply_payment_event(&first, &gateway).await.unwrap(),
        PaymentOutcome::Applied(_)
    ));
    assert_eq!(
        billing.apply_payment_event(&first, &gateway).await.unwrap(),
        PaymentOutcome::AlreadyApplied
    );
    gateway
        .refund(&RefundRequest {
            intent: intent.id.clone(),
            amount: Some(Money::from_cents(2_000)),
            idempotency_key: "r2".into(),
        })
        .await
        .unwrap();
    let (s, b) = gateway.refunded(&intent.id).unwrap();
    billing
        .apply_payment_event(&gateway.verify_webhook(&s, &b, now).unwrap(), &gateway)
        .await
        .unwrap();
    // The earlier delivery arriving late changes nothing.
    assert_eq!(
        billing.apply_payment_event(&first, &gateway).await.unwrap(),
        PaymentOutcome::AlreadyApplied
    );
    let stored = f.store.invoice(f.practice, inv).await.unwrap();
    let refunded: Vec<i64> = stored.refunds.iter().map(|r| r.amount.cents().unwrap()).collect();
    assert_eq!(refunded, vec![5_000, 2_000]);
    assert_eq!(stored.balance(), Money::from_cents(7_000));
}

async fn failed_and_unknown_events_change_nothing(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let billing = f.billing(Arc::new(ManualClaims::new()));
    let gateway = ConsolePayments::new(b"whsec_console");
    let inv = issued_invoice(&f, &billing, 22_000).await;
    let failed = PaymentEvent::Failed {
        event_id: "evt_1".into(),
        intent: "pi_1".into(),
        code: Some("card_declined".into()),
        practice: Some(f.practice),
        invoice: Some(inv),
    };
    assert_eq!(
        billing.apply_payment_event(&failed, &gateway).await.unwrap(),
        PaymentOutcome::NothingToDo
    );
    let orphan = PaymentEvent::Succeeded {
        event_id: "evt_2".into(),
        intent: "pi_2".into(),
        amount: Money::from_cents(100),
        practice: None,
        invoice: None,
    };
    assert_eq!(
        billing.apply_payment_event(&orphan, &gateway).await.unwrap_err().code(),
        "invalid_field"
    );
    // Money taken beyond what is owed is acknowledged for staff, not recorded.
    let over = PaymentEvent::Succeeded {
        event_id: "evt_3".into(),
        intent: "pi_3".into(),
        amount: Money::from_cents(30_000),
        practice: Some(f.practice),
        invoice: Some(inv),
    };
    assert_eq!(
        billing.apply_payment_event(&over, &gateway).await.unwrap(),
        PaymentOutcome::NeedsAttention { code: "overpayment" }
    );
    assert!(f.store.invoice(f.practice, inv).await.unwrap().payments.is_empty());
}

async fn paid_by_card(f: &Fixture, billing: &BillingService, gateway: &ConsolePayments) -> (InvoiceId, String) {
    let inv = issued_invoice(f, billing, 22_000).await;
    let intent = billing.start_card_payment(f.practice, inv, 1, gateway).await.unwrap();
    let (s, b) = gateway.succeed(&intent.id).unwrap();
    let event = gateway.verify_webhook(&s, &b, utc("2026-11-23T23:00:00Z")).unwrap();
    billing.apply_payment_event(&event, gateway).await.unwrap();
    (inv, intent.id)
}

async fn a_card_refund_goes_through_the_provider_and_is_recorded_once(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let billing = f.billing(Arc::new(ManualClaims::new()));
    let gateway = ConsolePayments::new(b"whsec_console");
    let (inv, intent) = paid_by_card(&f, &billing, &gateway).await;
    let payment = f.store.invoice(f.practice, inv).await.unwrap().payments[0].id;
    let ask = |cents, key| RefundPayment {
        payment_id: payment,
        amount: Money::from_cents(cents),
        reason: "session shortened",
        request_key: key,
    };

    let outcome = billing
        .refund_payment(f.practice, inv, &ask(5_000, "req-1"), &gateway)
        .await
        .unwrap();
    let RefundOutcome::Requested { invoice, refund } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(refund.amount, Money::from_cents(5_000));
    assert_eq!(invoice.refunded(), Money::ZERO, "recorded when the provider confirms");
    // The same request again (a retry after a lost answer) is the same refund.
    billing
        .refund_payment(f.practice, inv, &ask(5_000, "req-1"), &gateway)
        .await
        .unwrap();
    assert_eq!(gateway.refunds().len(), 1);
    assert_eq!(gateway.refunds()[0].0, intent);

    // The provider's notification records it, once however often it comes.
    let (s, b) = gateway.refunded(&intent).unwrap();
    let event = gateway.verify_webhook(&s, &b, utc("2026-11-23T23:30:00Z")).unwrap();
    assert!(matches!(
        billing.apply_payment_event(&event, &gateway).await.unwrap(),
        PaymentOutcome::Applied(_)
    ));
    assert_eq!(
        billing.apply_payment_event(&event, &gateway).await.unwrap(),
        PaymentOutcome::AlreadyApplied
    );
    // A second request is a second refund.
    billing
        .refund_payment(f.practice, inv, &ask(2_000, "req-2"), &gateway)
        .await
        .unwrap();
    let (s, b) = gateway.refunded(&intent).unwrap();
    let event = gateway.verify_webhook(&s, &b, utc("2026-11-23T23:40:00Z")).unwrap();
    billing.apply_payment_event(&event, &gateway).await.unwrap();
    let stored = f.store.invoice(f.practice, inv).await.unwrap();
    let refunded: Vec<i64> = stored.refunds.iter().map(|r| r.amount.cents().unwrap()).collect();
    assert_eq!(refunded, vec![5_000, 2_000]);
    assert_eq!(stored.balance(), Money::from_cents(7_000));
}

async fn refunds_over_the_payment_or_of_no_payment_never_reach_the_provider(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let billing = f.billing(Arc::new(ManualClaims::new()));
    let gateway = ConsolePayments::new(b"whsec_console");
    let (inv, _) = paid_by_card(&f, &billing, &gateway).await;
    let payment = f.store.invoice(f.practice, inv).await.unwrap().payments[0].id;
    let ask = |payment_id, cents, key| RefundPayment {
        payment_id,
        amount: Money::from_cents(cents),
        reason: "x",
        request_key: key,
    };
    let code = |r: Result<RefundOutcome, clinic_core::service::ServiceError>| r.unwrap_err().code();
    assert_eq!(
        code(
            billing
                .refund_payment(f.practice, inv, &ask(payment, 22_001, "k"), &gateway)
                .await
        ),
        "refund_too_large"
    );
    assert_eq!(
        code(
            billing
                .refund_payment(f.practice, inv, &ask(payment, 0, "k"), &gateway)
                .await
        ),
        "invalid_field"
    );
    assert_eq!(
        code(
            billing
                .refund_payment(f.practice, inv, &ask(common::ids().new_id(), 100, "k"), &gateway)
                .await
        ),
        "unknown_payment"
    );
    assert_eq!(
        code(
            billing
                .refund_payment(f.practice, inv, &ask(payment, 100, " "), &gateway)
                .await
        ),
        "invalid_field"
    );
    assert!(gateway.refunds().is_empty());
    assert_eq!(f.store.invoice(f.practice, inv).await.unwrap().refunded(), Money::ZERO);
}

async fn a_cash_refund_is_recorded_without_the_provider(store: Arc<dyn Storage>) {
    let f = practice_on(store).await;
    let billing = f.billing(Arc::new(ManualClaims::new()));
    let gateway = ConsolePayments::new(b"whsec_console");
    let inv = issued_invoice(&f, &billing, 22_000).await;
    let paid = billing
        .pay(f.practice, inv, Money::from_cents(22_000), PaymentMethod::Cash, None)
        .await
        .unwrap();
    let outcome = billing
        .refund_payment(
            f.practice,
            inv,
            &RefundPayment {
                payment_id: paid.payments[0].id,
                amount: Money::from_cents(22_000),
                reason: "cancelled",
                request_key: "k1",
            },
            &gateway,
        )
        .await
        .unwrap();
    let RefundOutcome::Recorded(after) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(after.refunded(), Money::from_cents(22_000));
    assert_eq!(
        f.store.invoice(f.practice, inv).await.unwrap().refunded(),
        Money::from_cents(22_000)
    );
    assert!(gateway.refunds().is_empty());
}

on_every_store!(
    a_webhook_delivered_twice_pays_once,
    concurrent_deliveries_of_one_event_record_one_payment,
    provider_refunds_are_recorded_by_their_cumulative_total,
    failed_and_unknown_events_change_nothing,
    a_card_refund_goes_through_the_provider_and_is_recorded_once,
    refunds_over_the_payment_or_of_no_payment_never_reach_the_provider,
    a_cash_refund_is_recorded_without_the_provider,
);
