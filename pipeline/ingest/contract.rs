//! What a contract is, and the generic machinery that applies one to a record.
//!
//! A contract (one module per extract under `contracts/`) lists its columns with their type,
//! code list and range, its unique key, and a function for rules that span columns. This file
//! turns a raw text record into typed [`Value`]s by those rules, and typed rows into Arrow
//! columns. It knows no particular extract.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, ListBuilder,
    StringBuilder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::fields::{self, CodeSet, DateFormat, Problem};
use super::quarantine::Reason;

/// The type of a column and the rules its values must meet.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A pseudonymised identifier or other free text (kept as written, trimmed).
    Text,
    /// A whole number in `min..=max`.
    Int { min: i64, max: i64 },
    /// A decimal number in `min..=max`.
    Number { min: f64, max: f64 },
    /// A calendar date (ISO or UK, one format per file).
    Date,
    /// A yes/no value.
    Bool,
    /// One code from a closed list, case-insensitive, normalised on output.
    Code(&'static CodeSet),
    /// A `;`-separated list of codes from a closed list.
    CodeList(&'static CodeSet),
}

/// One column of a contract.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// The code a blank value stands for (e.g. ethnic category blank = "99" not known).
    pub blank_means: Option<&'static str>,
}

impl ColumnSpec {
    pub const fn required(name: &'static str, kind: Kind) -> Self {
        ColumnSpec {
            name,
            kind,
            required: true,
            blank_means: None,
        }
    }

    pub const fn optional(name: &'static str, kind: Kind) -> Self {
        ColumnSpec {
            name,
            kind,
            required: false,
            blank_means: None,
        }
    }

    pub const fn blank_means(mut self, code: &'static str) -> Self {
        self.blank_means = Some(code);
        self
    }
}

/// A typed value of one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Number(f64),
    /// Days since 1970-01-01.
    Date(i32),
    Bool(bool),
    Code(&'static str),
    Codes(Vec<&'static str>),
}

impl Value {
    pub fn as_date(&self) -> Option<i32> {
        match self {
            Value::Date(days) => Some(*days),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(value) => Some(*value),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(value) => Some(*value),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            Value::Code(code) => Some(code),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// A problem found by a contract's cross-column rules, naming the column to blame.
#[derive(Debug, Clone, PartialEq)]
pub struct RowProblem {
    pub column: &'static str,
    pub problem: Problem,
}

impl RowProblem {
    pub fn new(column: &'static str, reason: Reason, detail: impl Into<String>) -> Self {
        RowProblem {
            column,
            problem: Problem::new(reason, detail),
        }
    }
}

/// The contract of one extract.
pub struct Contract {
    /// The extract's name, which is also its file stem and output table name.
    pub name: &'static str,
    /// Whether a run needs this extract (optional ones may be absent).
    pub required: bool,
    /// The input columns.
    pub columns: &'static [ColumnSpec],
    /// Columns computed by `rules` and written after the input columns.
    pub derived: &'static [ColumnSpec],
    /// The column whose values must be unique across the file, if any.
    pub unique_key: Option<&'static str>,
    /// Cross-column rules; may fill the derived columns. Runs on rows whose fields all parsed.
    pub rules: fn(&mut Row<'_>) -> Result<(), RowProblem>,
    /// Columns whose values must be keys of another extract; that extract is loaded first.
    pub references: &'static [Reference],
}

/// A column whose values, when given, must be keys loaded from another extract.
#[derive(Debug, Clone, Copy)]
pub struct Reference {
    pub column: &'static str,
    /// The extract whose unique key the values refer to.
    pub extract: &'static str,
    /// The referenced row must belong to the same person_id as the referring row.
    pub same_person: bool,
    /// What a value not among the loaded keys is quarantined as.
    pub unknown: Reason,
}

/// person_id, which every extract but patients carries: a person loaded from patients.
pub const PERSON: Reference = Reference {
    column: "person_id",
    extract: "patients",
    same_person: false,
    unknown: Reason::OrphanPersonId,
};

/// referral_id, when given: a referral loaded from referrals, of the same person.
pub const REFERRAL: Reference = Reference {
    column: "referral_id",
    extract: "referrals",
    same_person: true,
    unknown: Reason::UnknownReferralId,
};

impl Contract {
    /// Index of a column (input then derived) by name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.all_columns().position(|column| column.name == name)
    }

    /// Whether a column of this extract must be a key of `extract`.
    pub fn refers_to(&self, extract: &str) -> bool {
        self.references
            .iter()
            .any(|reference| reference.extract == extract)
    }

    pub fn all_columns(&self) -> impl Iterator<Item = &ColumnSpec> {
        self.columns.iter().chain(self.derived.iter())
    }

    /// The Arrow schema of the loaded table: input columns, derived columns, then the
    /// 1-based line of the source file each row came from.
    pub fn schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .all_columns()
            .map(|column| {
                let nullable = !column.required || column.blank_means.is_some();
                Field::new(column.name, arrow_type(column.kind), nullable)
            })
            .collect();
        fields.push(Field::new("source_line", DataType::UInt64, false));
        Arc::new(Schema::new(fields))
    }
}

fn arrow_type(kind: Kind) -> DataType {
    match kind {
        Kind::Text | Kind::Code(_) => DataType::Utf8,
        Kind::Int { .. } => DataType::Int32,
        Kind::Number { .. } => DataType::Float64,
        Kind::Date => DataType::Date32,
        Kind::Bool => DataType::Boolean,
        Kind::CodeList(_) => DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
    }
}

/// A row being validated: typed values of input then derived columns.
pub struct Row<'a> {
    pub contract: &'a Contract,
    pub values: Vec<Value>,
}

impl Row<'_> {
    /// The value of a column by name; `Null` for an unknown name.
    pub fn get(&self, name: &str) -> &Value {
        self.contract
            .index(name)
            .and_then(|index| self.values.get(index))
            .unwrap_or(&Value::Null)
    }

    pub fn set(&mut self, name: &str, value: Value) {
        if let Some(index) = self.contract.index(name) {
            self.values[index] = value;
        }
    }
}

/// Checks that the second date is not before the first, when both are present.
pub fn check_not_before(
    row: &Row<'_>,
    earlier: &'static str,
    later: &'static str,
) -> Result<(), RowProblem> {
    if let (Some(start), Some(end)) = (row.get(earlier).as_date(), row.get(later).as_date())
        && end < start
    {
        return Err(RowProblem::new(
            later,
            Reason::DateOrder,
            format!("{later} is before {earlier}"),
        ));
    }
    Ok(())
}

/// Parses one field by its column's rules. Blank means missing.
pub fn parse_field(
    spec: &ColumnSpec,
    raw: &str,
    date_format: &mut Option<DateFormat>,
) -> Result<Value, Problem> {
    let text = raw.trim();
    if text.is_empty() {
        return match (spec.blank_means, spec.required) {
            (Some(code), _) => Ok(Value::Code(code)),
            (None, true) => Err(Problem::new(
                Reason::MissingRequired,
                format!("{} is required but blank", spec.name),
            )),
            (None, false) => Ok(Value::Null),
        };
    }
    Ok(match spec.kind {
        Kind::Text => Value::Text(text.to_string()),
        Kind::Int { min, max } => Value::Int(fields::parse_int(text, min, max)?),
        Kind::Number { min, max } => Value::Number(fields::parse_number(text, min, max)?),
        Kind::Date => Value::Date(crate::calendar::days_since_epoch(fields::parse_date(
            text,
            date_format,
        )?)),
        Kind::Bool => Value::Bool(fields::parse_bool(text)?),
        Kind::Code(codes) => Value::Code(codes.normalise(text)?),
        Kind::CodeList(codes) => Value::Codes(
            text.split(CODE_LIST_SEPARATOR)
                .map(str::trim)
                .filter(|code| !code.is_empty())
                .map(|code| codes.normalise(code))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Separates the codes of a multi-valued field in a text file (`a;b`); a Parquet list column
/// is read as its items joined by it.
pub const CODE_LIST_SEPARATOR: char = ';';

/// Accumulates typed rows as Arrow columns.
pub struct TableBuilder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    source_line: UInt64Builder,
    rows: usize,
}

enum ColumnBuilder {
    Text(StringBuilder),
    Int(Int32Builder),
    Number(Float64Builder),
    Date(Date32Builder),
    Bool(BooleanBuilder),
    CodeList(ListBuilder<StringBuilder>),
}

impl TableBuilder {
    pub fn new(contract: &Contract) -> Self {
        let columns = contract
            .all_columns()
            .map(|column| match column.kind {
                Kind::Text | Kind::Code(_) => ColumnBuilder::Text(StringBuilder::new()),
                Kind::Int { .. } => ColumnBuilder::Int(Int32Builder::new()),
                Kind::Number { .. } => ColumnBuilder::Number(Float64Builder::new()),
                Kind::Date => ColumnBuilder::Date(Date32Builder::new()),
                Kind::Bool => ColumnBuilder::Bool(BooleanBuilder::new()),
                Kind::CodeList(_) => {
                    ColumnBuilder::CodeList(ListBuilder::new(StringBuilder::new()))
                }
            })
            .collect();
        TableBuilder {
            schema: contract.schema(),
            columns,
            source_line: UInt64Builder::new(),
            rows: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn append(&mut self, values: &[Value], line: u64) {
        for (builder, value) in self.columns.iter_mut().zip(values) {
            match (builder, value) {
                (ColumnBuilder::Text(b), Value::Text(text)) => b.append_value(text),
                (ColumnBuilder::Text(b), Value::Code(code)) => b.append_value(code),
                (ColumnBuilder::Int(b), Value::Int(value)) => b.append_value(*value as i32),
                (ColumnBuilder::Number(b), Value::Number(value)) => b.append_value(*value),
                (ColumnBuilder::Date(b), Value::Date(days)) => b.append_value(*days),
                (ColumnBuilder::Bool(b), Value::Bool(value)) => b.append_value(*value),
                (ColumnBuilder::CodeList(b), Value::Codes(codes)) => {
                    for code in codes {
                        b.values().append_value(code);
                    }
                    b.append(true);
                }
                (builder, _) => builder.append_null(),
            }
        }
        self.source_line.append_value(line);
        self.rows += 1;
    }

    /// Takes the rows so far as a record batch and starts afresh.
    pub fn finish_batch(&mut self) -> arrow::record_batch::RecordBatch {
        let mut arrays: Vec<ArrayRef> =
            self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        arrays.push(Arc::new(self.source_line.finish()));
        self.rows = 0;
        arrow::record_batch::RecordBatch::try_new(self.schema.clone(), arrays)
            .expect("builders match the contract schema")
    }
}

impl ColumnBuilder {
    fn append_null(&mut self) {
        match self {
            ColumnBuilder::Text(b) => b.append_null(),
            ColumnBuilder::Int(b) => b.append_null(),
            ColumnBuilder::Number(b) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::CodeList(b) => b.append(false),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Number(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::CodeList(b) => Arc::new(b.finish()),
        }
    }
}
