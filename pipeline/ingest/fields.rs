//! Parsing of single field values: dates, integers, numbers, booleans, codes, NHS numbers.
//!
//! Pure functions over `&str`; no IO. Each returns the typed value or a [`Problem`] that names
//! the reason, so the caller can quarantine the row. Dates: ISO
//! `YYYY-MM-DD` or UK `DD/MM/YYYY`, one format per file, never guessed row by row.

use chrono::{Datelike, NaiveDate};

use super::quarantine::Reason;

/// Why one field failed, with a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub reason: Reason,
    pub detail: String,
}

impl Problem {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Problem {
            reason,
            detail: detail.into(),
        }
    }
}

/// The date format of a file, fixed by the first valid date found in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DateFormat {
    /// `YYYY-MM-DD`
    Iso,
    /// `DD/MM/YYYY` (one- or two-digit day and month)
    Uk,
}

impl DateFormat {
    pub fn pattern(self) -> &'static str {
        match self {
            DateFormat::Iso => "YYYY-MM-DD",
            DateFormat::Uk => "DD/MM/YYYY",
        }
    }
}

/// Dates outside this range are implausible in a health-service extract.
const EARLIEST_YEAR: i32 = 1900;
const LATEST_YEAR: i32 = 2100;

/// Parses a date, fixing the file's format on the first valid date (`format` starts `None`).
pub fn parse_date(raw: &str, format: &mut Option<DateFormat>) -> Result<NaiveDate, Problem> {
    let text = strip_midnight(raw.trim());
    let shape = date_shape(text).ok_or_else(|| {
        Problem::new(
            Reason::BadDate,
            format!("'{raw}' is not a date; expected YYYY-MM-DD or DD/MM/YYYY"),
        )
    })?;
    if let Some(expected) = *format
        && expected != shape
    {
        return Err(Problem::new(
            Reason::DateFormatMismatch,
            format!(
                "'{raw}' is written {} but this file's dates are {} (a file must use one format)",
                shape.pattern(),
                expected.pattern()
            ),
        ));
    }
    let date = match shape {
        DateFormat::Iso => parse_iso(text),
        DateFormat::Uk => parse_uk(text),
    }
    .ok_or_else(|| {
        let hint = if shape == DateFormat::Uk {
            " (dates are read as DD/MM/YYYY; MM/DD/YYYY is not accepted)"
        } else {
            ""
        };
        Problem::new(
            Reason::BadDate,
            format!("'{raw}' is not a valid calendar date{hint}"),
        )
    })?;
    if !(EARLIEST_YEAR..=LATEST_YEAR).contains(&date.year()) {
        return Err(Problem::new(
            Reason::OutOfRange,
            format!("date '{raw}' is outside {EARLIEST_YEAR}..{LATEST_YEAR}"),
        ));
    }
    format.get_or_insert(shape);
    Ok(date)
}

/// Database exports often append a midnight time (`2024-04-01 00:00:00.000`, SQL Server's
/// `datetime2` writes seven fractional digits, ISO writers a `T` and a `Z`); it carries no
/// information for a date column, so it is dropped. Any other time is left for the parser to
/// refuse.
fn strip_midnight(text: &str) -> &str {
    let Some(split) = text.find([' ', 'T']) else {
        return text;
    };
    let (date, time) = (&text[..split], &text[split + 1..]);
    let time = time.strip_suffix('Z').unwrap_or(time);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let midnight = matches!(clock, "00:00" | "00:00:00")
        && fraction.bytes().all(|digit| digit == b'0')
        && (fraction.is_empty() || clock == "00:00:00");
    if midnight { date } else { text }
}

fn date_shape(text: &str) -> Option<DateFormat> {
    let bytes = text.as_bytes();
    let digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    if bytes.len() == 10 && bytes[4] == b'-' && bytes[7] == b'-' {
        if digits(&bytes[..4]) && digits(&bytes[5..7]) && digits(&bytes[8..]) {
            return Some(DateFormat::Iso);
        }
        return None;
    }
    let parts: Vec<&str> = text.split('/').collect();
    if parts.len() == 3
        && (1..=2).contains(&parts[0].len())
        && (1..=2).contains(&parts[1].len())
        && parts[2].len() == 4
        && parts.iter().all(|part| digits(part.as_bytes()))
    {
        return Some(DateFormat::Uk);
    }
    None
}

fn parse_iso(text: &str) -> Option<NaiveDate> {
    let year = text[..4].parse().ok()?;
    let month = text[5..7].parse().ok()?;
    let day = text[8..].parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

fn parse_uk(text: &str) -> Option<NaiveDate> {
    let mut parts = text.split('/');
    let day = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let year = parts.next()?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Parses a whole number in `min..=max`. A decimal with a zero fraction (`3.0`, as Excel
/// sometimes writes) is accepted; any other fraction is refused.
pub fn parse_int(raw: &str, min: i64, max: i64) -> Result<i64, Problem> {
    let text = raw.trim();
    let value = match text.parse::<i64>() {
        Ok(value) => value,
        Err(_) => {
            let integral = text
                .strip_suffix(".0")
                .or_else(|| text.strip_suffix(".00"))
                .and_then(|whole| whole.parse::<i64>().ok());
            integral.ok_or_else(|| {
                Problem::new(Reason::BadNumber, format!("'{raw}' is not a whole number"))
            })?
        }
    };
    if value < min || value > max {
        return Err(Problem::new(
            Reason::OutOfRange,
            format!("{value} is outside the allowed range {min}..{max}"),
        ));
    }
    Ok(value)
}

/// Parses a finite decimal number in `min..=max`.
pub fn parse_number(raw: &str, min: f64, max: f64) -> Result<f64, Problem> {
    let value: f64 = raw
        .trim()
        .parse()
        .ok()
        .filter(|value: &f64| value.is_finite())
        .ok_or_else(|| Problem::new(Reason::BadNumber, format!("'{raw}' is not a number")))?;
    if value < min || value > max {
        return Err(Problem::new(
            Reason::OutOfRange,
            format!("{value} is outside the allowed range {min}..{max}"),
        ));
    }
    Ok(value)
}

/// Parses a boolean written as true/false, yes/no, y/n, t/f or 1/0 (any case).
pub fn parse_bool(raw: &str) -> Result<bool, Problem> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Ok(true),
        "false" | "f" | "no" | "n" | "0" => Ok(false),
        _ => Err(Problem::new(
            Reason::UnknownCode,
            format!("'{raw}' is not a yes/no value (true/false, yes/no, 1/0)"),
        )),
    }
}

/// A closed set of codes: each accepted spelling (lower case) and the value written out.
#[derive(Debug)]
pub struct CodeSet {
    pub name: &'static str,
    pub spellings: &'static [(&'static str, &'static str)],
}

impl CodeSet {
    /// Looks a code up case-insensitively and returns its normalised form. (Spellings are
    /// lower case; a unit test checks it.)
    pub fn normalise(&self, raw: &str) -> Result<&'static str, Problem> {
        let key = raw.trim();
        self.spellings
            .iter()
            .find(|(spelling, _)| spelling.eq_ignore_ascii_case(key))
            .map(|(_, canonical)| *canonical)
            .ok_or_else(|| {
                Problem::new(
                    Reason::UnknownCode,
                    format!("'{raw}' is not a known {} ({})", self.name, self.listing()),
                )
            })
    }

    fn listing(&self) -> String {
        let mut canonical: Vec<&str> = Vec::new();
        for (_, value) in self.spellings {
            if !canonical.contains(value) {
                canonical.push(value);
            }
        }
        canonical.join(", ")
    }
}

/// True when `raw` is a valid NHS number: 10 digits (spaces or hyphens allowed between
/// groups) whose modulus-11 check digit is right (NHS Data Dictionary; docs/domain.md, NHS number).
pub fn is_nhs_number(raw: &str) -> bool {
    // Most fields are too short to hold ten digits; this test is on every field ingested.
    if raw.len() < 10 {
        return false;
    }
    let mut digits = [0u32; 10];
    let mut count = 0;
    for ch in raw.trim().chars() {
        match ch {
            '0'..='9' => {
                if count == 10 {
                    return false;
                }
                digits[count] = ch as u32 - '0' as u32;
                count += 1;
            }
            ' ' | '-' => {}
            _ => return false,
        }
    }
    if count != 10 || digits.iter().all(|digit| *digit == digits[0]) {
        return false;
    }
    let weighted: u32 = digits[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(digit, weight)| digit * weight)
        .sum();
    let check = match 11 - weighted % 11 {
        11 => 0,
        10 => return false,
        check => check,
    };
    check == digits[9]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_midnight_time_of_any_database_style_is_dropped_and_other_times_are_kept() {
        for text in [
            "2024-04-01 00:00:00.000",
            "2024-04-01 00:00:00.0000000",
            "2024-04-01 00:00:00",
            "2024-04-01 00:00",
            "2024-04-01T00:00:00Z",
            "2024-04-01T00:00:00.000",
        ] {
            assert_eq!(strip_midnight(text), "2024-04-01", "{text}");
        }
        for text in [
            "2024-04-01 13:45:00",
            "2024-04-01 00:00:01",
            "2024-04-01 00:00.5",
        ] {
            assert_eq!(strip_midnight(text), text);
        }
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn first_valid_date_fixes_the_file_format() {
        let mut format = None;
        assert_eq!(parse_date("29/02/2024", &mut format), Ok(ymd(2024, 2, 29)));
        assert_eq!(format, Some(DateFormat::Uk));
        let mixed = parse_date("2024-03-01", &mut format).unwrap_err();
        assert_eq!(mixed.reason, Reason::DateFormatMismatch);
        assert_eq!(parse_date("1/4/2024", &mut format), Ok(ymd(2024, 4, 1)));
    }

    #[test]
    fn american_and_impossible_dates_are_refused() {
        let mut format = Some(DateFormat::Uk);
        assert_eq!(
            parse_date("03/25/2024", &mut format).unwrap_err().reason,
            Reason::BadDate
        );
        let mut iso = None;
        assert_eq!(
            parse_date("2023-02-29", &mut iso).unwrap_err().reason,
            Reason::BadDate
        );
        assert_eq!(iso, None, "an invalid date must not fix the format");
        assert_eq!(
            parse_date("2024-04-01 00:00:00", &mut iso),
            Ok(ymd(2024, 4, 1))
        );
        assert_eq!(
            parse_date("1850-01-01", &mut iso).unwrap_err().reason,
            Reason::OutOfRange
        );
    }

    #[test]
    fn integers_allow_zero_fraction_only() {
        assert_eq!(parse_int(" 7 ", 0, 10), Ok(7));
        assert_eq!(parse_int("3.0", 0, 10), Ok(3));
        assert_eq!(
            parse_int("3.5", 0, 10).unwrap_err().reason,
            Reason::BadNumber
        );
        assert_eq!(
            parse_int("11", 0, 10).unwrap_err().reason,
            Reason::OutOfRange
        );
    }

    #[test]
    fn nhs_number_modulus_11() {
        // The worked example in docs/domain.md, NHS number: 943 476 5919 is valid.
        assert!(is_nhs_number("943 476 5919"));
        assert!(is_nhs_number("9434765919"));
        assert!(!is_nhs_number("9434765918"));
        assert!(!is_nhs_number("1111111111"));
        assert!(!is_nhs_number("94347659190"));
        assert!(!is_nhs_number("P000001"));
    }
}
