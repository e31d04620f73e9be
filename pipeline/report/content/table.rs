//! A published table, built once and shown two ways: as formatted text in the HTML and
//! Markdown reports ("20,000", "0.82 to 0.94", "<0.001", "*"), and tidy in
//! `published/tables/<name>.csv` for a researcher to combine: one value per cell, numbers as
//! numbers, an interval as `_ci_lower`/`_ci_upper` (or `_lower`/`_upper`) columns, a count
//! as the published (rounded) integer, and a suppressed value as an empty cell with `true`
//! in the column's `_suppressed` flag. What a column becomes in the CSV is its [`Shape`];
//! what a cell holds is a [`Cell`], made by the constructor that says what it is.

use serde::{Serialize, Serializer};

use crate::report::disclosure::{Disclosure, SUPPRESSED};
use crate::report::format;

/// What a column holds: its CSV columns (the key plus each suffix), whether it carries a
/// `_suppressed` flag, and its class in the HTML (how the governance test finds counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    suffixes: &'static [&'static str],
    pub suppressible: bool,
    class: &'static str,
}

/// Words: a label, a step, a source.
pub const TEXT: Shape = Shape {
    suffixes: &[""],
    suppressible: false,
    class: "text",
};
/// A count under the disclosure rule: the rounded integer, or empty and flagged.
pub const COUNT: Shape = Shape {
    suffixes: &[""],
    suppressible: true,
    class: "count",
};
/// One number.
pub const NUMBER: Shape = Shape {
    suffixes: &[""],
    suppressible: false,
    class: "number",
};
/// An estimate with its 95% interval: `<key>`, `<key>_ci_lower`, `<key>_ci_upper`.
pub const ESTIMATE: Shape = Shape {
    suffixes: &["", "_ci_lower", "_ci_upper"],
    suppressible: false,
    class: "number",
};
/// An interval alone: `<key>_lower`, `<key>_upper`.
pub const INTERVAL: Shape = Shape {
    suffixes: &["_lower", "_upper"],
    suppressible: false,
    class: "number",
};
/// A chi-squared test statistic with its degrees of freedom: `<key>`, `<key>_df`.
pub const TEST: Shape = Shape {
    suffixes: &["", "_df"],
    suppressible: false,
    class: "number",
};

impl Shape {
    /// Several numbers under one header, one CSV column per suffix (`<key><suffix>`).
    pub const fn numbers(suffixes: &'static [&'static str]) -> Shape {
        Shape {
            suffixes,
            suppressible: false,
            class: "number",
        }
    }

    /// The same shape for a statistic (mean, rate, share) that the disclosure rule may
    /// suppress: it gains a `_suppressed` flag column.
    pub const fn suppressible(self) -> Shape {
        Shape {
            suppressible: true,
            ..self
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// CSV key (snake_case; counts end in `_count`).
    pub key: String,
    pub header: String,
    /// The HTML class: "count", "number" or "text".
    pub kind: &'static str,
    #[serde(skip)]
    pub shape: Shape,
}

impl Column {
    /// The column's CSV headers.
    fn csv_headers(&self) -> impl Iterator<Item = String> + '_ {
        let flag = self
            .shape
            .suppressible
            .then(|| format!("{}_suppressed", self.key));
        self.shape
            .suffixes
            .iter()
            .map(|suffix| format!("{}{suffix}", self.key))
            .chain(flag)
    }
}

/// How many digits of a number the CSV keeps: those the report shows, so that the CSV says
/// no more than the report (a mean to eight digits could give away the exact number of
/// people behind it, which the rounded count hides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Decimals(usize),
    /// For p-values, which the report shows as "<0.001" below 0.001.
    Significant(usize),
}

/// Pounds: whole pounds.
pub const POUNDS: Precision = Precision::Decimals(0);

/// What a cell holds for the CSV.
#[derive(Debug, Clone, PartialEq)]
enum Tidy {
    Text(String),
    /// Numbers, one per CSV column of the shape; None is an empty cell (no value).
    Numbers(Vec<Option<f64>>, Precision),
    /// Nothing to publish: not estimable, no data, not applicable.
    Empty,
    Suppressed,
}

/// One cell: the report's text and the tidy value.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    text: String,
    tidy: Tidy,
}

impl Serialize for Cell {
    /// The templates see the report's text only.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.shown())
    }
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Cell {
        let text = text.into();
        Cell {
            tidy: Tidy::Text(text.clone()),
            text,
        }
    }

    /// What the report shows.
    pub fn shown(&self) -> &str {
        &self.text
    }

    /// A count as the disclosure rule publishes it.
    pub fn count(rule: Disclosure, count: u64) -> Cell {
        match rule.rounded(count) {
            Some(rounded) => Cell::numbers(
                rule.count(count),
                &[Some(rounded as f64)],
                Precision::Decimals(0),
            ),
            None => Cell::suppressed(),
        }
    }

    /// Numbers shown as `text`, one per CSV column of the column's shape, kept in the CSV to
    /// `precision`. A missing number is an empty CSV cell.
    pub fn numbers(text: impl Into<String>, values: &[Option<f64>], precision: Precision) -> Cell {
        let values: Vec<Option<f64>> = values
            .iter()
            .map(|value| value.filter(|value| value.is_finite()))
            .collect();
        Cell {
            text: text.into(),
            tidy: if values.iter().all(Option::is_none) {
                Tidy::Empty
            } else {
                Tidy::Numbers(values, precision)
            },
        }
    }

    /// One number shown as `text`.
    pub fn number(value: Option<f64>, text: impl Into<String>, precision: Precision) -> Cell {
        Cell::numbers(text, &[value], precision)
    }

    /// A number to `places` decimals ("n/a" when absent).
    pub fn decimals(value: Option<f64>, places: usize) -> Cell {
        Cell::number(
            value,
            format::decimals(value, places),
            Precision::Decimals(places),
        )
    }

    /// Whole pounds: "−£469" in the report, -469 in the CSV.
    pub fn gbp(value: Option<f64>) -> Cell {
        Cell::number(value, format::gbp(value), POUNDS)
    }

    /// A p-value: "<0.001" or "0.412" in the report, three significant digits in the CSV.
    pub fn p_value(value: Option<f64>) -> Cell {
        Cell::number(value, format::p_value(value), Precision::Significant(3))
    }

    /// An estimate with its interval (an ESTIMATE column).
    pub fn estimate(
        value: Option<f64>,
        interval: Option<(f64, f64)>,
        text: impl Into<String>,
        precision: Precision,
    ) -> Cell {
        Cell::numbers(
            text,
            &[
                value,
                interval.map(|(low, _)| low),
                interval.map(|(_, high)| high),
            ],
            precision,
        )
    }

    /// An interval (an INTERVAL column).
    pub fn interval(
        interval: Option<(f64, f64)>,
        text: impl Into<String>,
        precision: Precision,
    ) -> Cell {
        Cell::numbers(
            text,
            &[interval.map(|(low, _)| low), interval.map(|(_, high)| high)],
            precision,
        )
    }

    /// No value, for a reason the report states ("not estimable", "n/a", "not adjusted").
    pub fn missing(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            tidy: Tidy::Empty,
        }
    }

    pub fn suppressed() -> Cell {
        Cell {
            text: SUPPRESSED.into(),
            tidy: Tidy::Suppressed,
        }
    }

    /// `cell`, a statistic from `people` people, or suppressed when the rule forbids it (a
    /// cell with no value has nothing to suppress).
    pub fn statistic(rule: Disclosure, people: u64, cell: Cell) -> Cell {
        if rule.allows_statistic_of(people) || cell.tidy == Tidy::Empty {
            cell
        } else {
            Cell::suppressed()
        }
    }

    /// A percentage `part / whole` from the rounded figures, as the disclosure rule
    /// publishes it (the CSV holds the percentage as a number: 55 for 55%).
    pub fn percentage(rule: Disclosure, part: u64, whole: u64) -> Cell {
        let text = rule.percentage(part, whole);
        match (rule.rounded(part), rule.rounded(whole)) {
            (Some(part), Some(whole)) if whole > 0 => Cell::number(
                Some(100.0 * part as f64 / whole as f64),
                text,
                Precision::Decimals(0),
            ),
            (Some(_), Some(_)) => Cell::missing(text),
            _ => Cell::suppressed(),
        }
    }

    /// The CSV values of this cell in a column of `shape`, or why it does not fit.
    fn csv_values(&self, shape: Shape) -> Result<Vec<String>, String> {
        let width = shape.suffixes.len();
        let mut values = match &self.tidy {
            Tidy::Text(text) if width == 1 => vec![text.clone()],
            Tidy::Numbers(numbers, precision) if numbers.len() == width => numbers
                .iter()
                .map(|value| tidy_number(*value, *precision))
                .collect(),
            Tidy::Empty | Tidy::Suppressed => vec![String::new(); width],
            _ => {
                return Err(format!(
                    "the cell \"{}\" does not fit a column of {width} value(s)",
                    self.text
                ));
            }
        };
        if shape.suppressible {
            values.push((self.tidy == Tidy::Suppressed).to_string());
        } else if self.tidy == Tidy::Suppressed {
            return Err(format!(
                "a suppressed cell in a column that cannot be suppressed (\"{}\")",
                self.text
            ));
        }
        Ok(values)
    }
}

/// A number for the CSV, rounded as the report rounds it (the same `format!` rounding), with
/// no trailing zeros, never in exponent form, and no negative zero.
fn tidy_number(value: Option<f64>, precision: Precision) -> String {
    let Some(value) = value else {
        return String::new();
    };
    let rounded = match precision {
        Precision::Decimals(places) => format!("{value:.places$}"),
        Precision::Significant(digits) => format!("{value:.*e}", digits.saturating_sub(1)),
    };
    let rounded: f64 = rounded.parse().unwrap_or(value);
    if rounded == 0.0 {
        "0".into()
    } else {
        format!("{rounded}")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// CSV file stem under published/tables/.
    pub name: String,
    pub caption: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(name: &str, caption: &str, columns: &[(&str, &str, Shape)]) -> Table {
        Table {
            name: name.into(),
            caption: caption.into(),
            columns: columns
                .iter()
                .map(|(key, header, shape)| Column {
                    key: (*key).into(),
                    header: (*header).into(),
                    kind: shape.class,
                    shape: *shape,
                })
                .collect(),
            rows: Vec::new(),
        }
    }

    /// The tidy CSV: its header and records, or which cell does not fit its column.
    pub fn csv_records(&self) -> Result<Vec<Vec<String>>, String> {
        let mut records = vec![
            self.columns
                .iter()
                .flat_map(Column::csv_headers)
                .collect::<Vec<_>>(),
        ];
        for (line, row) in self.rows.iter().enumerate() {
            if row.len() != self.columns.len() {
                return Err(format!(
                    "table {} row {}: {} cells for {} columns",
                    self.name,
                    line + 1,
                    row.len(),
                    self.columns.len()
                ));
            }
            let mut record = Vec::new();
            for (cell, column) in row.iter().zip(&self.columns) {
                let values = cell.csv_values(column.shape).map_err(|reason| {
                    format!(
                        "table {} row {} column {}: {reason}",
                        self.name,
                        line + 1,
                        column.key
                    )
                })?;
                record.extend(values);
            }
            records.push(record);
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_tidy_in_csv_and_formatted_in_the_report() {
        let rule = Disclosure::new(7, 5);
        let mut table = Table::new(
            "t",
            "caption",
            &[
                ("group", "Group", TEXT),
                ("people_count", "People", COUNT),
                ("rate_ratio", "Rate ratio", ESTIMATE),
                ("mean", "Mean", NUMBER.suppressible()),
                ("chi2", "Chi-squared (df)", TEST),
                ("share", "Share", NUMBER.suppressible()),
                ("p", "p", NUMBER),
            ],
        );
        table.rows.push(vec![
            Cell::text("all, \"quoted\""),
            Cell::count(rule, 20_002),
            Cell::estimate(
                Some(0.8234),
                Some((0.75, 0.9)),
                "0.82 (0.75 to 0.90)",
                Precision::Decimals(2),
            ),
            Cell::statistic(rule, 20, Cell::decimals(Some(-0.0001), 2)),
            Cell::numbers(
                "2.07 (4)",
                &[Some(2.0712345678), Some(4.0)],
                Precision::Decimals(2),
            ),
            Cell::percentage(rule, 12, 48),
            Cell::p_value(Some(0.0000123456)),
        ]);
        table.rows.push(vec![
            Cell::text("small"),
            Cell::count(rule, 3),
            Cell::missing("not estimable"),
            Cell::statistic(rule, 3, Cell::decimals(Some(1.5), 1)),
            Cell::missing("not tested"),
            Cell::percentage(rule, 3, 48),
            Cell::p_value(None),
        ]);
        let records = table.csv_records().unwrap();
        assert_eq!(
            records[0],
            [
                "group",
                "people_count",
                "people_count_suppressed",
                "rate_ratio",
                "rate_ratio_ci_lower",
                "rate_ratio_ci_upper",
                "mean",
                "mean_suppressed",
                "chi2",
                "chi2_df",
                "share",
                "share_suppressed",
                "p"
            ]
        );
        // Numbers as the report rounds them (a mean of -0.0001 shown as 0.00 is 0, not -0).
        assert_eq!(
            records[1],
            [
                "all, \"quoted\"",
                "20000",
                "false",
                "0.82",
                "0.75",
                "0.9",
                "0",
                "false",
                "2.07",
                "4",
                "20",
                "false",
                "0.0000123"
            ]
        );
        assert_eq!(
            records[2],
            [
                "small", "", "true", "", "", "", "", "true", "", "", "", "true", ""
            ]
        );
        // The report shows the formatted text.
        let shown: Vec<&str> = table.rows[1].iter().map(Cell::shown).collect();
        assert_eq!(
            shown,
            ["small", "*", "not estimable", "*", "not tested", "*", "n/a"]
        );
        assert_eq!(serde_json::to_value(&table.rows[0][6]).unwrap(), "<0.001");
        // A cell that does not fit its column is an error naming it, not a ragged CSV.
        table.rows.push(vec![
            Cell::text("bad"),
            Cell::count(rule, 10),
            Cell::decimals(Some(1.0), 2),
            Cell::missing(""),
            Cell::missing(""),
            Cell::missing(""),
            Cell::missing(""),
        ]);
        let error = table.csv_records().unwrap_err();
        assert!(error.contains("table t row 3 column rate_ratio"), "{error}");
        assert_eq!(tidy_number(Some(1234567.891), POUNDS), "1234568");
        assert_eq!(tidy_number(Some(-0.4), POUNDS), "0");
    }
}
