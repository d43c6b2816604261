//! The pipe-separated table format of the shipped rule files, with errors that name the
//! line and field.

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// A malformed or inconsistent rule table: where, which field, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, field {field}: {problem}")]
pub struct TableError {
    /// 1-based line number.
    pub line: usize,
    /// The field's name.
    pub field: &'static str,
    /// What is wrong.
    pub problem: String,
}

impl TableError {
    /// The stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        "rule_table_invalid"
    }
}

/// One data row: its line number and trimmed fields.
pub(crate) struct Row<'a> {
    pub line: usize,
    pub fields: Vec<&'a str>,
}

impl<'a> Row<'a> {
    pub fn err(&self, field: &'static str, problem: impl Into<String>) -> TableError {
        TableError {
            line: self.line,
            field,
            problem: problem.into(),
        }
    }

    pub fn get(&self, i: usize, field: &'static str) -> Result<&'a str, TableError> {
        self.fields.get(i).copied().ok_or_else(|| self.err(field, "is missing"))
    }

    pub fn optional(&self, i: usize, field: &'static str) -> Result<Option<&'a str>, TableError> {
        let v = self.get(i, field)?;
        Ok((v != "-").then_some(v))
    }

    pub fn date(&self, i: usize, field: &'static str) -> Result<NaiveDate, TableError> {
        self.get(i, field)?
            .parse()
            .map_err(|_| self.err(field, "must be a date YYYY-MM-DD"))
    }

    pub fn optional_date(&self, i: usize, field: &'static str) -> Result<Option<NaiveDate>, TableError> {
        self.optional(i, field)?
            .map(|v| v.parse().map_err(|_| self.err(field, "must be a date YYYY-MM-DD or -")))
            .transpose()
    }

    pub fn number<T: std::str::FromStr>(&self, i: usize, field: &'static str) -> Result<T, TableError> {
        self.get(i, field)?
            .parse()
            .map_err(|_| self.err(field, "must be a whole number in range"))
    }

    pub fn optional_number<T: std::str::FromStr>(
        &self,
        i: usize,
        field: &'static str,
    ) -> Result<Option<T>, TableError> {
        self.optional(i, field)?
            .map(|v| {
                v.parse()
                    .map_err(|_| self.err(field, "must be a whole number in range or -"))
            })
            .transpose()
    }

    pub fn decimal(&self, i: usize, field: &'static str) -> Result<Decimal, TableError> {
        self.get(i, field)?
            .parse()
            .map_err(|_| self.err(field, "must be a decimal number"))
    }

    pub fn flag(&self, i: usize, field: &'static str) -> Result<bool, TableError> {
        match self.get(i, field)? {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err(self.err(field, "must be yes or no")),
        }
    }
}

/// The data rows of `text`: blank lines and `#` comments skipped, fields split on `|`.
///
/// # Errors
/// [`TableError`] for a row with the wrong number of fields.
pub(crate) fn rows(text: &str, columns: usize) -> Result<Vec<Row<'_>>, TableError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = t.split('|').map(str::trim).collect();
        if fields.len() != columns {
            return Err(TableError {
                line: i + 1,
                field: "row",
                problem: format!("has {} fields, expected {columns}", fields.len()),
            });
        }
        out.push(Row { line: i + 1, fields });
    }
    Ok(out)
}
