//! Invoices: lines with their GST, payments, refunds and credit notes, and a balance that
//! is always derived from them.
//!
//! Lifecycle: a draft takes lines; issuing gives it the practice's next number and freezes
//! its lines; payments, refunds and credit notes then change what is owed, never the lines.
//! Corrections are credit notes.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::gst::{GstRates, GstTreatment, SupplyKind, classify, gst_on};
use crate::error::FieldError;
use crate::ids::{AppointmentId, InvoiceId, PatientId, PaymentId, PracticeId};
use crate::money::Money;
use crate::people::{Email, ProviderNumber};
use crate::practice::{Abn, Practice, non_blank};

/// Who pays: the patient, or someone else (a parent, a third party, an organisation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payer {
    /// The patient.
    Patient,
    /// Another person.
    Person {
        /// Name.
        name: String,
        /// Email for the invoice.
        email: Option<Email>,
    },
    /// An organisation (an employer, an insurer, a school).
    Organisation {
        /// Name.
        name: String,
        /// ABN, when it has one.
        abn: Option<Abn>,
    },
}

/// The Medicare particulars of a line (what a claimable account must show).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineMedicare {
    /// MBS item.
    pub item: String,
    /// The practitioner's name.
    pub provider_name: String,
    /// Their provider number at the location.
    pub provider_number: Option<ProviderNumber>,
    /// The Medicare rebate for the line.
    pub rebate: Money,
    /// Bulk billed: the rebate is accepted as full payment.
    pub bulk_billed: bool,
    /// Referrer and date, as the account shows them.
    pub referral: Option<String>,
}

/// A line as entered, before GST is worked out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineInput {
    /// Description (administrative: never clinical detail).
    pub description: String,
    /// The date of service or supply.
    pub service_date: NaiveDate,
    /// Quantity (at least 1).
    pub quantity: u32,
    /// Unit price, excluding GST.
    pub unit_price: Money,
    /// What is supplied.
    pub supply: SupplyKind,
    /// The provider is a recognised professional (registered psychologist).
    pub registered_provider: bool,
    /// The service is clinically necessary for the recipient.
    pub clinically_necessary: bool,
    /// The appointment it is for.
    pub appointment_id: Option<AppointmentId>,
    /// Medicare particulars, for a claimable service.
    pub medicare: Option<LineMedicare>,
}

/// An invoice line with its GST.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceLine {
    /// Description.
    pub description: String,
    /// Date of service.
    pub service_date: NaiveDate,
    /// Quantity.
    pub quantity: u32,
    /// Unit price, excluding GST.
    pub unit_price: Money,
    /// What is supplied.
    pub supply: SupplyKind,
    /// GST-free or taxable.
    pub gst_treatment: GstTreatment,
    /// quantity × unit price.
    pub net: Money,
    /// GST on the line (zero when GST-free).
    pub gst: Money,
    /// net + GST.
    pub total: Money,
    /// The appointment.
    pub appointment_id: Option<AppointmentId>,
    /// Medicare particulars.
    pub medicare: Option<LineMedicare>,
}

impl InvoiceLine {
    /// Works out a line's GST from the rate in force on its service date.
    ///
    /// # Errors
    /// [`BillingError::Invalid`] for a blank description, a zero quantity or a negative or
    /// sub-cent price; [`BillingError::NoGstRate`] when no rate is in force on the date.
    pub fn new(input: LineInput, rates: &GstRates) -> Result<Self, BillingError> {
        let description = non_blank("description", &input.description, 300)?;
        if input.quantity == 0 || input.quantity > 10_000 {
            return Err(FieldError::new("quantity", "must be between 1 and 10000").into());
        }
        if input.unit_price.is_negative() {
            return Err(FieldError::new("unit_price", "must not be negative").into());
        }
        if input.unit_price.amount() != input.unit_price.amount().round_dp(2) {
            return Err(FieldError::new("unit_price", "must be in whole cents").into());
        }
        let gst_treatment = classify(input.supply, input.registered_provider, input.clinically_necessary);
        let net = input.unit_price.times(Decimal::from(input.quantity));
        let gst = match gst_treatment {
            GstTreatment::Free(_) => Money::ZERO,
            GstTreatment::Taxable => gst_on(
                net,
                rates.as_at(input.service_date).ok_or(BillingError::NoGstRate {
                    date: input.service_date,
                })?,
            ),
        };
        if let Some(m) = &input.medicare {
            if m.rebate > net {
                return Err(FieldError::new("medicare.rebate", "must not exceed the fee charged").into());
            }
            // Bulk billing: the benefit is accepted as full payment, no other charge of any
            // kind (MBS note AN.0.12).
            if m.bulk_billed && m.rebate != net {
                return Err(FieldError::new(
                    "medicare.bulk_billed",
                    "a bulk-billed service is charged the Medicare benefit and nothing more",
                )
                .into());
            }
        }
        Ok(Self {
            description,
            service_date: input.service_date,
            quantity: input.quantity,
            unit_price: input.unit_price,
            supply: input.supply,
            gst_treatment,
            net,
            gst,
            total: net + gst,
            appointment_id: input.appointment_id,
            medicare: input.medicare,
        })
    }
}

/// How a payment was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Card (terminal or online).
    Card,
    /// Cash.
    Cash,
    /// Bank transfer.
    BankTransfer,
    /// Medicare benefit paid to the practice (bulk billing or an assigned claim).
    Medicare,
    /// A health fund.
    HealthFund,
}

/// A payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Payment {
    /// Id.
    pub id: PaymentId,
    /// Amount (positive).
    pub amount: Money,
    /// Method.
    pub method: PaymentMethod,
    /// When.
    pub at: DateTime<Utc>,
    /// The provider's reference (e.g. a payment intent id).
    pub reference: Option<String>,
}

/// A refund of (part of) a payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refund {
    /// The payment refunded.
    pub payment_id: PaymentId,
    /// Amount (positive).
    pub amount: Money,
    /// When.
    pub at: DateTime<Utc>,
    /// Why (administrative).
    pub reason: String,
}

/// A credit note: a correction reducing what the invoice charges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreditNote {
    /// Amount (positive).
    pub amount: Money,
    /// When.
    pub at: DateTime<Utc>,
    /// Why (administrative).
    pub reason: String,
}

/// Where an invoice is, derived from its contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Not yet issued.
    Draft,
    /// Issued, nothing paid.
    Issued,
    /// Part paid.
    PartPaid,
    /// Nothing owed after payments.
    Paid,
    /// Fully credited.
    Credited,
    /// More paid than owed: a refund is due.
    RefundDue,
}

/// Why an invoice operation was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BillingError {
    /// A field is invalid.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// Lines can change only on a draft.
    #[error("the invoice is issued: corrections are credit notes")]
    NotDraft,
    /// The invoice must be issued first.
    #[error("the invoice is still a draft")]
    NotIssued,
    /// An invoice needs at least one line.
    #[error("an invoice needs at least one line")]
    NoLines,
    /// No GST rate in force on a line's date.
    #[error("no GST rate is in force on {date}")]
    NoGstRate {
        /// The date.
        date: NaiveDate,
    },
    /// A payment larger than what is owed.
    #[error("the payment is more than the {balance} owed")]
    Overpayment {
        /// What is owed.
        balance: Money,
    },
    /// A refund larger than what is left of the payment.
    #[error("at most {refundable} of that payment can be refunded")]
    RefundTooLarge {
        /// What can be refunded.
        refundable: Money,
    },
    /// A credit larger than what is left to credit.
    #[error("at most {creditable} can be credited")]
    CreditTooLarge {
        /// What can be credited.
        creditable: Money,
    },
    /// The payment named does not exist on this invoice.
    #[error("no such payment on this invoice")]
    UnknownPayment,
    /// A tax invoice needs the supplier's ABN.
    #[error("a tax invoice needs the practice's ABN")]
    MissingAbn,
    /// A tax invoice of $1,000 or more needs the buyer's identity or ABN.
    #[error("a tax invoice of $1,000 or more needs the buyer's name or ABN")]
    MissingBuyer,
}

impl BillingError {
    /// The stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(e) => e.code(),
            Self::NotDraft => "invoice_not_draft",
            Self::NotIssued => "invoice_not_issued",
            Self::NoLines => "invoice_without_lines",
            Self::NoGstRate { .. } => "no_gst_rate",
            Self::Overpayment { .. } => "overpayment",
            Self::RefundTooLarge { .. } => "refund_too_large",
            Self::CreditTooLarge { .. } => "credit_too_large",
            Self::UnknownPayment => "unknown_payment",
            Self::MissingAbn => "missing_abn",
            Self::MissingBuyer => "missing_buyer",
        }
    }
}

/// An invoice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invoice {
    /// Id.
    pub id: InvoiceId,
    /// Owning practice.
    pub practice_id: PracticeId,
    /// Sequential number within the practice, given on issue.
    pub number: Option<u64>,
    /// The patient the services were for.
    pub patient_id: PatientId,
    /// Who pays.
    pub payer: Payer,
    /// Issue date.
    pub issued_on: Option<NaiveDate>,
    /// Lines.
    pub lines: Vec<InvoiceLine>,
    /// Payments.
    pub payments: Vec<Payment>,
    /// Refunds.
    pub refunds: Vec<Refund>,
    /// Credit notes.
    pub credit_notes: Vec<CreditNote>,
    /// Storage revision, for the guarded update.
    pub revision: u64,
}

fn positive(field: &'static str, amount: Money) -> Result<(), BillingError> {
    if amount.is_negative() || amount.amount().is_zero() {
        return Err(FieldError::new(field, "must be more than zero").into());
    }
    if amount.amount() != amount.amount().round_dp(2) {
        return Err(FieldError::new(field, "must be in whole cents").into());
    }
    Ok(())
}

fn sum(it: impl Iterator<Item = Money>) -> Money {
    it.fold(Money::ZERO, |a, b| a + b)
}

impl Invoice {
    /// A new draft.
    #[must_use]
    pub fn draft(id: InvoiceId, practice_id: PracticeId, patient_id: PatientId, payer: Payer) -> Self {
        Self {
            id,
            practice_id,
            number: None,
            patient_id,
            payer,
            issued_on: None,
            lines: Vec::new(),
            payments: Vec::new(),
            refunds: Vec::new(),
            credit_notes: Vec::new(),
            revision: 0,
        }
    }

    /// Adds a line to a draft.
    ///
    /// # Errors
    /// [`BillingError::NotDraft`] once issued; the line's own errors.
    pub fn add_line(&mut self, input: LineInput, rates: &GstRates) -> Result<(), BillingError> {
        if self.number.is_some() {
            return Err(BillingError::NotDraft);
        }
        self.lines.push(InvoiceLine::new(input, rates)?);
        Ok(())
    }

    /// Issues the draft with `number` on `date`. Numbers come from the storage port, which
    /// hands them out without gaps.
    ///
    /// # Errors
    /// [`BillingError::NotDraft`] when already issued; [`BillingError::NoLines`].
    pub fn issue(&mut self, number: u64, date: NaiveDate) -> Result<(), BillingError> {
        if self.number.is_some() {
            return Err(BillingError::NotDraft);
        }
        if self.lines.is_empty() {
            return Err(BillingError::NoLines);
        }
        self.number = Some(number);
        self.issued_on = Some(date);
        Ok(())
    }

    /// Sum of the lines' net amounts.
    #[must_use]
    pub fn net_total(&self) -> Money {
        sum(self.lines.iter().map(|l| l.net))
    }

    /// Sum of the lines' GST.
    #[must_use]
    pub fn gst_total(&self) -> Money {
        sum(self.lines.iter().map(|l| l.gst))
    }

    /// Sum of the lines' totals (GST included).
    #[must_use]
    pub fn total(&self) -> Money {
        sum(self.lines.iter().map(|l| l.total))
    }

    /// Sum of payments.
    #[must_use]
    pub fn paid(&self) -> Money {
        sum(self.payments.iter().map(|p| p.amount))
    }

    /// Sum of refunds.
    #[must_use]
    pub fn refunded(&self) -> Money {
        sum(self.refunds.iter().map(|r| r.amount))
    }

    /// Sum of credit notes.
    #[must_use]
    pub fn credited(&self) -> Money {
        sum(self.credit_notes.iter().map(|c| c.amount))
    }

    /// What is owed: total − payments + refunds − credits. Negative when a refund is due.
    #[must_use]
    pub fn balance(&self) -> Money {
        self.total() - self.paid() + self.refunded() - self.credited()
    }

    /// Sum of the lines' Medicare rebates.
    #[must_use]
    pub fn rebate_total(&self) -> Money {
        sum(self.lines.iter().filter_map(|l| l.medicare.as_ref().map(|m| m.rebate)))
    }

    /// True when any line is taxable: the invoice must then be a tax invoice.
    #[must_use]
    pub fn has_taxable_lines(&self) -> bool {
        self.lines.iter().any(|l| l.gst_treatment == GstTreatment::Taxable)
    }

    /// The derived status.
    #[must_use]
    pub fn status(&self) -> InvoiceStatus {
        let balance = self.balance();
        if self.number.is_none() {
            InvoiceStatus::Draft
        } else if balance.is_negative() {
            InvoiceStatus::RefundDue
        } else if self.credited() == self.total() {
            InvoiceStatus::Credited
        } else if balance.amount().is_zero() {
            InvoiceStatus::Paid
        } else if self.paid() > Money::ZERO {
            InvoiceStatus::PartPaid
        } else {
            InvoiceStatus::Issued
        }
    }

    /// Records a payment of at most the balance.
    ///
    /// # Errors
    /// [`BillingError::NotIssued`], [`BillingError::Overpayment`], or an invalid amount.
    pub fn pay(&mut self, payment: Payment) -> Result<(), BillingError> {
        if self.number.is_none() {
            return Err(BillingError::NotIssued);
        }
        positive("amount", payment.amount)?;
        let balance = self.balance();
        if payment.amount > balance {
            return Err(BillingError::Overpayment {
                balance: balance.max(Money::ZERO),
            });
        }
        self.payments.push(payment);
        Ok(())
    }

    /// Refunds part or all of a payment.
    ///
    /// # Errors
    /// [`BillingError::UnknownPayment`], [`BillingError::RefundTooLarge`], or an invalid
    /// amount or reason.
    pub fn refund(&mut self, refund: Refund) -> Result<(), BillingError> {
        positive("amount", refund.amount)?;
        let paid = self
            .payments
            .iter()
            .find(|p| p.id == refund.payment_id)
            .ok_or(BillingError::UnknownPayment)?
            .amount;
        let already = sum(self
            .refunds
            .iter()
            .filter(|r| r.payment_id == refund.payment_id)
            .map(|r| r.amount));
        let refundable = paid - already;
        if refund.amount > refundable {
            return Err(BillingError::RefundTooLarge { refundable });
        }
        self.refunds.push(refund);
        Ok(())
    }

    /// Credits part or all of the invoice.
    ///
    /// # Errors
    /// [`BillingError::NotIssued`], [`BillingError::CreditTooLarge`], or an invalid amount.
    pub fn credit(&mut self, note: CreditNote) -> Result<(), BillingError> {
        if self.number.is_none() {
            return Err(BillingError::NotIssued);
        }
        positive("amount", note.amount)?;
        non_blank("reason", &note.reason, 500)?;
        let creditable = self.total() - self.credited();
        if note.amount > creditable {
            return Err(BillingError::CreditTooLarge { creditable });
        }
        self.credit_notes.push(note);
        Ok(())
    }

    /// The document a patient receives: a tax invoice when any line is taxable (with the
    /// words, the supplier's ABN, the GST, and the buyer's identity at $1,000 or more: ATO
    /// tax invoice requirements, GST Act s29-70), otherwise an invoice (a receipt once
    /// paid) that still shows the Medicare particulars.
    ///
    /// # Errors
    /// [`BillingError::NotIssued`], [`BillingError::MissingAbn`],
    /// [`BillingError::MissingBuyer`].
    pub fn document(&self, practice: &Practice, patient_name: &str) -> Result<InvoiceDocument, BillingError> {
        let (Some(number), Some(issued_on)) = (self.number, self.issued_on) else {
            return Err(BillingError::NotIssued);
        };
        let tax_invoice = self.has_taxable_lines();
        if tax_invoice && practice.abn.is_none() {
            return Err(BillingError::MissingAbn);
        }
        let buyer = match &self.payer {
            Payer::Patient => patient_name.to_owned(),
            Payer::Person { name, .. } => name.clone(),
            Payer::Organisation { name, abn } => abn
                .as_ref()
                .map_or_else(|| name.clone(), |a| format!("{name} (ABN {a})")),
        };
        if tax_invoice && self.total() >= Money::from_cents(100_000) && buyer.trim().is_empty() {
            return Err(BillingError::MissingBuyer);
        }
        let title = if tax_invoice {
            "Tax invoice"
        } else if self.status() == InvoiceStatus::Paid {
            "Receipt"
        } else {
            "Invoice"
        };
        Ok(InvoiceDocument {
            title,
            supplier: practice.name.clone(),
            supplier_abn: practice.abn.clone(),
            number,
            issued_on,
            patient: patient_name.to_owned(),
            buyer,
            lines: self.lines.clone(),
            gst_total: self.gst_total(),
            total: self.total(),
            gst_statement: tax_invoice.then_some("Total price includes GST"),
            paid: self.paid() - self.refunded(),
            credited: self.credited(),
            outstanding: self.balance(),
        })
    }
}

/// What an issued invoice shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceDocument {
    /// "Tax invoice", "Invoice" or "Receipt".
    pub title: &'static str,
    /// Supplier.
    pub supplier: String,
    /// Supplier ABN.
    pub supplier_abn: Option<Abn>,
    /// Invoice number.
    pub number: u64,
    /// Issue date.
    pub issued_on: NaiveDate,
    /// The patient the services were for.
    pub patient: String,
    /// The buyer (payer).
    pub buyer: String,
    /// Lines, each with its GST treatment and Medicare particulars.
    pub lines: Vec<InvoiceLine>,
    /// GST.
    pub gst_total: Money,
    /// Total.
    pub total: Money,
    /// "Total price includes GST" on a tax invoice.
    pub gst_statement: Option<&'static str>,
    /// Paid, net of refunds.
    pub paid: Money,
    /// Credited.
    pub credited: Money,
    /// Outstanding.
    pub outstanding: Money,
}

impl InvoiceDocument {
    /// The invoice number as printed: `INV-000042`.
    #[must_use]
    pub fn number_text(&self) -> String {
        format!("INV-{:06}", self.number)
    }

    /// The invoice as a renderable document. Rows put amounts after a tab (renderers align
    /// them right). Every line shows its GST treatment, so a mixed invoice flags its taxable
    /// lines (ATO: a tax invoice shows the extent to which each supply is taxable), and every
    /// Medicare-claimable line its particulars: item, provider and provider number, the
    /// benefit, bulk billing and the referral (Services Australia's account and receipt
    /// requirements for claiming).
    #[must_use]
    pub fn to_document(&self) -> crate::ports::Document {
        let date = |d: NaiveDate| d.format("%-d %B %Y").to_string();
        let mut from = vec![self.supplier.clone()];
        if let Some(abn) = &self.supplier_abn {
            from.push(format!("ABN {abn}"));
        }
        let details = vec![
            format!("Number\t{}", self.number_text()),
            format!("Issued\t{}", date(self.issued_on)),
            format!("Patient\t{}", self.patient),
            format!("Bill to\t{}", self.buyer),
        ];
        let mut items = Vec::new();
        for l in &self.lines {
            items.push(format!(
                "{} \u{2014} {}\t{}",
                date(l.service_date),
                l.description,
                l.total
            ));
            let gst = match l.gst_treatment {
                crate::billing::GstTreatment::Free(_) => "GST-free".to_owned(),
                crate::billing::GstTreatment::Taxable => format!("Taxable: includes GST of {}", l.gst),
            };
            items.push(format!("  {} \u{00d7} {} \u{00b7} {gst}", l.quantity, l.unit_price));
            if let Some(m) = &l.medicare {
                let provider = match &m.provider_number {
                    Some(n) => format!("{}, provider number {n}", m.provider_name),
                    None => m.provider_name.clone(),
                };
                items.push(format!("  Medicare item {} \u{00b7} {provider}", m.item));
                let mut benefit = format!("  Medicare benefit {}", m.rebate);
                if m.bulk_billed {
                    benefit.push_str(" \u{00b7} bulk billed: no charge beyond the benefit");
                }
                items.push(benefit);
                if let Some(r) = &m.referral {
                    items.push(format!("  Referred by {r}"));
                }
            }
        }
        let mut totals = Vec::new();
        if let Some(statement) = self.gst_statement {
            totals.push(format!("GST\t{}", self.gst_total));
            totals.push(format!("Total\t{}", self.total));
            totals.push(statement.to_owned());
        } else {
            totals.push(format!("Total\t{}", self.total));
        }
        if self.credited > Money::ZERO {
            totals.push(format!("Credited\t{}", self.credited));
        }
        totals.push(format!("Paid\t{}", self.paid));
        totals.push(format!("Amount owing\t{}", self.outstanding));
        crate::ports::Document {
            title: format!("{} {}", self.title, self.number_text()),
            sections: vec![
                ("From".into(), from),
                ("Details".into(), details),
                ("Services".into(), items),
                ("Totals".into(), totals),
            ],
        }
    }
}
