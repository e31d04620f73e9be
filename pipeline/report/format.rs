//! Number formatting for the published report: one style for every table, chart label and
//! sentence (ratios to 2 decimals, money in whole pounds with a sign, p-values to 3 decimals
//! or "<0.001"). Counts are formatted by `disclosure`, never here.

use serde_json::Value;

/// A JSON number as f64 (None for null, strings and non-finite values).
pub fn float(value: &Value) -> Option<f64> {
    value.as_f64().filter(|value| value.is_finite())
}

/// A JSON count as u64.
pub fn count(value: &Value) -> Option<u64> {
    value.as_u64()
}

pub fn decimals(value: Option<f64>, places: usize) -> String {
    value.map_or_else(|| "n/a".into(), |value| format!("{value:.places$}"))
}

pub fn ratio(value: Option<f64>) -> String {
    decimals(value, 2)
}

/// A rate ratio, or in a word why there is none: "no data" (nothing to estimate from) or
/// "not estimable" (too few events), never a number the data cannot support.
pub fn ratio_or_reason(not_estimated: Option<&str>, rate_ratio: Option<f64>) -> String {
    match not_estimated {
        Some(reason) if reason.starts_with("no data") => "no data".into(),
        Some(_) => "not estimable".into(),
        None => ratio(rate_ratio),
    }
}

pub fn ci(value: Option<(f64, f64)>, places: usize) -> String {
    value.map_or_else(
        || "n/a".into(),
        |(low, high)| format!("{low:.places$} to {high:.places$}"),
    )
}

pub fn p_value(value: Option<f64>) -> String {
    match value {
        Some(p) if p < 0.001 => "<0.001".into(),
        Some(p) => format!("{p:.3}"),
        None => "n/a".into(),
    }
}

/// Whole pounds with thousands separators and a minus sign: "£1,234", "−£469".
pub fn gbp(value: Option<f64>) -> String {
    let Some(value) = value else {
        return "n/a".into();
    };
    let rounded = value.round();
    let sign = if rounded < 0.0 { "−" } else { "" };
    format!(
        "{sign}£{}",
        super::disclosure::thousands(rounded.abs() as u64)
    )
}

pub fn gbp_ci(value: Option<(f64, f64)>) -> String {
    value.map_or_else(
        || "n/a".into(),
        |(low, high)| format!("{} to {}", gbp(Some(low)), gbp(Some(high))),
    )
}

/// A rate ratio as a percentage change: 0.88 -> "12% lower", 1.05 -> "5% higher".
pub fn change_words(rate_ratio: f64) -> String {
    let percent = ((rate_ratio - 1.0) * 100.0).round();
    if percent == 0.0 {
        "no different".into()
    } else if percent < 0.0 {
        format!("{}% lower", -percent)
    } else {
        format!("{percent}% higher")
    }
}

/// A percentage with no decimals.
pub fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".into(), |value| format!("{value:.0}%"))
}

/// The text with its first letter in upper case.
pub fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_stable() {
        assert_eq!(gbp(Some(-469.43)), "−£469");
        assert_eq!(gbp(Some(1095.6)), "£1,096");
        assert_eq!(p_value(Some(0.0002)), "<0.001");
        assert_eq!(p_value(Some(0.41122)), "0.411");
        assert_eq!(change_words(0.877), "12% lower");
        assert_eq!(change_words(1.05), "5% higher");
        assert_eq!(ci(Some((0.8175, 0.9407)), 2), "0.82 to 0.94");
    }
}
