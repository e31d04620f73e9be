//! Published evaluations of social prescribing, to read this study's estimates beside: a
//! table of facts with their sources (`comparators/published-evaluations.csv`, built into the
//! binary), so that it can be corrected or extended without code. One row per study and
//! measure: design, population, follow-up, the finding in words, and (only where the study
//! itself reports a relative change) that change as a rate ratio for the comparison chart.

use serde::Deserialize;

use crate::error::{Error, Result};

const PUBLISHED: &str = include_str!("../comparators/published-evaluations.csv");

/// One published finding.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Comparator {
    pub study: String,
    pub design: String,
    pub population: String,
    pub follow_up: String,
    /// A service-use measure code (`outcomes::MEASURES`), "wellbeing", or empty for a
    /// finding about the evidence as a whole.
    pub measure: String,
    pub finding: String,
    /// The study's own relative change as a rate ratio (0.72 for "28% fewer"), if it gives one.
    pub rate_ratio: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub citation: String,
    /// A DOI, a web address, or the publisher and year of a report.
    pub source: String,
}

impl Comparator {
    pub fn interval(&self) -> Option<(f64, f64)> {
        self.ci_lower.zip(self.ci_upper)
    }
}

/// The bundled published evaluations, in file order.
pub fn published() -> Result<Vec<Comparator>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(PUBLISHED.as_bytes());
    reader
        .deserialize()
        .enumerate()
        .map(|(index, row)| {
            row.map_err(|error| {
                Error::Usage(format!(
                    "comparators/published-evaluations.csv line {}: {error}",
                    index + 2
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row names its source and citation, a design, a measure the pipeline knows, and a
    /// rate ratio only as a plausible relative change with a consistent interval.
    #[test]
    fn every_published_finding_is_sourced_and_well_formed() {
        let rows = published().unwrap();
        assert!(rows.len() >= 8);
        for row in &rows {
            let what = &row.study;
            for (field, value) in [
                ("design", &row.design),
                ("population", &row.population),
                ("follow_up", &row.follow_up),
                ("finding", &row.finding),
                ("citation", &row.citation),
                ("source", &row.source),
            ] {
                assert!(!value.is_empty(), "{what}: no {field}");
            }
            assert!(
                row.measure.is_empty()
                    || row.measure == "wellbeing"
                    || crate::outcomes::by_code(&row.measure).is_some(),
                "{what}: unknown measure {}",
                row.measure
            );
            if let Some(ratio) = row.rate_ratio {
                assert!(ratio > 0.0 && ratio < 3.0, "{what}: ratio {ratio}");
                assert!(!row.measure.is_empty(), "{what}: a ratio of nothing");
            }
            assert_eq!(row.ci_lower.is_some(), row.ci_upper.is_some(), "{what}");
            if let (Some(ratio), Some((low, high))) = (row.rate_ratio, row.interval()) {
                assert!(low <= ratio && ratio <= high, "{what}: interval");
            }
        }
        // Both kinds of evidence are there: uncontrolled before/after and controlled.
        assert!(rows.iter().any(|row| row.design.contains("uncontrolled")));
        assert!(
            rows.iter()
                .any(|row| row.design.contains("difference-in-differences"))
        );
    }
}
