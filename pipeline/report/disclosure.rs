//! Disclosure control: the one place a published number is made safe (docs/domain.md,
//! Disclosure control: the HES/ECDS rule).
//!
//! - counts 1..=`suppress_at_or_below` are published as "*", other counts rounded to the
//!   nearest `round_to` (zero stays zero);
//! - means, rates and shares from `suppress_at_or_below` people or fewer are suppressed;
//! - totals are computed from unrounded data and then rounded (callers pass exact totals);
//! - percentages are computed from the rounded figures;
//! - model-based statistics (rate ratios, CIs, regression estimates) need no control.
//!
//! Every count, mean or share that reaches `published/` goes through [`Disclosure`].

/// What a suppressed value is published as.
pub const SUPPRESSED: &str = "*";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disclosure {
    pub suppress_at_or_below: u64,
    pub round_to: u64,
}

impl Disclosure {
    pub fn new(suppress_at_or_below: u32, round_to: u32) -> Disclosure {
        Disclosure {
            suppress_at_or_below: u64::from(suppress_at_or_below),
            round_to: u64::from(round_to.max(1)),
        }
    }

    /// The published count: None when suppressed, else rounded to the nearest `round_to`
    /// (halves round up).
    pub fn rounded(&self, count: u64) -> Option<u64> {
        if count == 0 {
            Some(0)
        } else if count <= self.suppress_at_or_below {
            None
        } else {
            Some((count + self.round_to / 2) / self.round_to * self.round_to)
        }
    }

    /// A count as published text: "*", "0" or the rounded count with thousands separators.
    pub fn count(&self, count: u64) -> String {
        self.rounded(count)
            .map_or_else(|| SUPPRESSED.to_string(), thousands)
    }

    /// Whether a statistic from `people` people may be published.
    pub fn allows_statistic_of(&self, people: u64) -> bool {
        people > self.suppress_at_or_below
    }

    /// A statistic (mean, rate, share) from `people` people, formatted by `format`, or "*".
    pub fn statistic(
        &self,
        people: u64,
        value: Option<f64>,
        format: impl Fn(f64) -> String,
    ) -> String {
        match value {
            Some(value) if value.is_finite() && self.allows_statistic_of(people) => format(value),
            Some(_) if !self.allows_statistic_of(people) => SUPPRESSED.to_string(),
            _ => "n/a".to_string(),
        }
    }

    /// A percentage `part / whole` from the rounded figures; "*" when either is suppressed.
    pub fn percentage(&self, part: u64, whole: u64) -> String {
        match (self.rounded(part), self.rounded(whole)) {
            (Some(part), Some(whole)) if whole > 0 => {
                format!("{:.0}%", 100.0 * part as f64 / whole as f64)
            }
            (Some(_), Some(_)) => "n/a".to_string(),
            _ => SUPPRESSED.to_string(),
        }
    }
}

/// 12345 -> "12,345".
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_hes_rule() {
        let rule = Disclosure::new(7, 5);
        assert_eq!(rule.count(0), "0");
        for small in 1..=7 {
            assert_eq!(rule.count(small), "*");
        }
        assert_eq!(rule.count(8), "10");
        assert_eq!(rule.count(12), "10");
        assert_eq!(rule.count(13), "15");
        assert_eq!(rule.count(12_347), "12,345");
        assert_eq!(rule.count(1_000_002), "1,000,000");
        // A statistic from 7 people is suppressed, from 8 it is shown.
        assert_eq!(rule.statistic(7, Some(3.2), |v| format!("{v:.1}")), "*");
        assert_eq!(rule.statistic(8, Some(3.2), |v| format!("{v:.1}")), "3.2");
        // Percentages come from the rounded figures: 12 of 48 -> 10 of 50.
        assert_eq!(rule.percentage(12, 48), "20%");
        assert_eq!(rule.percentage(3, 48), "*");
        // Thresholds come from the config.
        let strict = Disclosure::new(10, 10);
        assert_eq!(strict.count(10), "*");
        assert_eq!(strict.count(14), "10");
        assert_eq!(strict.count(15), "20");
    }
}
