//! Wellbeing outcome measures: the one place that knows each questionnaire.
//!
//! To add an instrument, add one entry to [`INSTRUMENTS`]: its item count and range, how it is
//! scored, its direction and its meaningful-change threshold, citing the source. Ingest uses
//! this table to validate and score questionnaires; later stages use it for thresholds.
//!
//! Scoring rules, thresholds and norms with their sources: docs/domain.md, Wellbeing
//! questionnaires (Warwick WEMWBS/SWEMWBS user guide, ONS personal well-being user guidance,
//! UCLA-3 ONS harmonised, PHQ-9, GAD-7, MYCaW).

/// How item responses become a score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scoring {
    /// Total = sum of items.
    Sum,
    /// Raw sum converted to a metric score through a table indexed from the minimum raw sum.
    RaschTable(&'static [f64]),
    /// Each item is its own outcome and is never summed (ONS4); names in item order.
    SeparateItems(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Instrument {
    /// Canonical code as written in `wellbeing.csv` (matched case-insensitively).
    pub code: &'static str,
    pub items: usize,
    pub item_min: i32,
    pub item_max: i32,
    pub scoring: Scoring,
    /// True when a higher score means better wellbeing (PHQ-9, GAD-7, UCLA-3 are the reverse).
    pub higher_is_better: bool,
    /// Smallest individual change counted as meaningful, if one is set.
    pub meaningful_change: Option<f64>,
    /// Width of the bins of the report's chart of paired change: two points on the long
    /// scales (WEMWBS 14-70, PHQ-9 0-27), so the bars are not one person each; one otherwise.
    pub change_bin_width: f64,
}

/// SWEMWBS raw sum 7..=35 to metric score (the Rasch conversion table of the Warwick
/// SWEMWBS user guide).
pub const SWEMWBS_METRIC: [f64; 29] = [
    7.00, 9.51, 11.25, 12.40, 13.33, 14.08, 14.75, 15.32, 15.84, 16.36, 16.88, 17.43, 17.98, 18.59,
    19.25, 19.98, 20.73, 21.54, 22.35, 23.21, 24.11, 25.03, 26.02, 27.03, 28.13, 29.31, 30.70,
    32.55, 35.00,
];

/// ONS4 items in questionnaire order; anxiety is reverse-direction (lower is better).
pub const ONS4_ITEMS: [&str; 4] = ["life_satisfaction", "worthwhile", "happiness", "anxiety"];

/// MYCaW items in questionnaire order: the person's first and second named concern and their
/// overall wellbeing, each rated 0 (as good as it could be) to 6 (as bad as it could be).
pub const MYCAW_ITEMS: [&str; 3] = ["concern_1", "concern_2", "wellbeing"];

pub const INSTRUMENTS: &[Instrument] = &[
    // WEMWBS: 14 items 1..5, total = sum 14..70; meaningful change 3 points (Maheswaran 2012).
    Instrument {
        code: "WEMWBS",
        items: 14,
        item_min: 1,
        item_max: 5,
        scoring: Scoring::Sum,
        higher_is_better: true,
        meaningful_change: Some(3.0),
        change_bin_width: 2.0,
    },
    // SWEMWBS: 7 items 1..5, raw 7..35 Rasch-converted; meaningful change 3 metric points
    // (Shah et al. 2018, strict end).
    Instrument {
        code: "SWEMWBS",
        items: 7,
        item_min: 1,
        item_max: 5,
        scoring: Scoring::RaschTable(&SWEMWBS_METRIC),
        higher_is_better: true,
        meaningful_change: Some(3.0),
        change_bin_width: 1.0,
    },
    // ONS4: four 0..10 items analysed separately; meaningful change 1 point per item.
    Instrument {
        code: "ONS4",
        items: 4,
        item_min: 0,
        item_max: 10,
        scoring: Scoring::SeparateItems(&ONS4_ITEMS),
        higher_is_better: true,
        meaningful_change: Some(1.0),
        change_bin_width: 1.0,
    },
    // UCLA-3 loneliness: 3 items 1..3, sum 3..9, higher = lonelier; no agreed threshold.
    Instrument {
        code: "UCLA3",
        items: 3,
        item_min: 1,
        item_max: 3,
        scoring: Scoring::Sum,
        higher_is_better: false,
        meaningful_change: None,
        change_bin_width: 1.0,
    },
    // PHQ-9: 9 items 0..3, sum 0..27; reliable improvement 6 (NHS Talking Therapies).
    Instrument {
        code: "PHQ9",
        items: 9,
        item_min: 0,
        item_max: 3,
        scoring: Scoring::Sum,
        higher_is_better: false,
        meaningful_change: Some(6.0),
        change_bin_width: 2.0,
    },
    // MYCaW (Measure Yourself Concerns and Wellbeing; Paterson et al. 2007, Complementary
    // Therapies in Medicine 15(1):38-45): up to two concerns the person names and their
    // wellbeing, each 0..6, higher = worse, analysed item by item (never summed); a second
    // concern may be left blank, which leaves that item unpaired. No minimal important
    // difference has been validated (the paper reports mean changes: concern 1 about 2.9,
    // wellbeing about 1.4 in cancer support), so none is set.
    Instrument {
        code: "MYCAW",
        items: 3,
        item_min: 0,
        item_max: 6,
        scoring: Scoring::SeparateItems(&MYCAW_ITEMS),
        higher_is_better: false,
        meaningful_change: None,
        change_bin_width: 1.0,
    },
    // GAD-7: 7 items 0..3, sum 0..21; reliable improvement 4 (NHS Talking Therapies).
    Instrument {
        code: "GAD7",
        items: 7,
        item_min: 0,
        item_max: 3,
        scoring: Scoring::Sum,
        higher_is_better: false,
        meaningful_change: Some(4.0),
        change_bin_width: 1.0,
    },
];

/// Population reference means for comparison (docs/domain.md): WEMWBS, Scottish
/// Health Survey 2018 adults (49.4); SWEMWBS, Health Survey for England 2010-13 (about 23.5:
/// men 23.7, women 23.2; Ng Fat et al. 2017); ONS4, UK year ending March 2023 (ONS).
pub fn population_norm(instrument: &str, item: Option<&str>) -> Option<(f64, &'static str)> {
    match (instrument, item) {
        ("WEMWBS", None) => Some((49.4, "Scottish Health Survey 2018, adults")),
        ("SWEMWBS", None) => Some((
            23.5,
            "Health Survey for England 2010-13 (Ng Fat et al. 2017)",
        )),
        ("ONS4", Some("life_satisfaction")) => Some((7.45, "ONS APS, UK, year ending March 2023")),
        ("ONS4", Some("worthwhile")) => Some((7.73, "ONS APS, UK, year ending March 2023")),
        ("ONS4", Some("happiness")) => Some((7.39, "ONS APS, UK, year ending March 2023")),
        ("ONS4", Some("anxiety")) => Some((3.23, "ONS APS, UK, year ending March 2023")),
        _ => None,
    }
}

/// Test-retest reliability (the correlation of two measurements of the same people with no
/// change between them), for the regression-to-the-mean adjustment (docs/domain.md,
/// Wellbeing questionnaires): WEMWBS 0.83 at one week (Tennant et al. 2007, Health Qual Life
/// Outcomes 5:63). None where no published value is held here.
pub fn test_retest_reliability(
    instrument: &str,
    item: Option<&str>,
) -> Option<(f64, &'static str)> {
    match (instrument, item) {
        ("WEMWBS", None) => Some((0.83, "Tennant et al. 2007, HQLO 5:63 (one week)")),
        _ => None,
    }
}

/// The instruments the report answers "did wellbeing improve?" from, in order of preference:
/// the first one the data hold.
pub const HEADLINE_INSTRUMENTS: [&str; 2] = ["WEMWBS", "SWEMWBS"];

/// Each instrument's meaningful change and which ones read lower as better, in words for the
/// methods (from `INSTRUMENTS`, so a new instrument is described without editing this).
pub fn meaningful_change_text() -> String {
    let thresholds: Vec<String> = INSTRUMENTS
        .iter()
        .map(|instrument| {
            let qualifier = match instrument.scoring {
                Scoring::Sum => "",
                Scoring::RaschTable(_) => " (metric)",
                Scoring::SeparateItems(_) => " per item",
            };
            match instrument.meaningful_change {
                Some(threshold) => format!("{} {threshold}{qualifier}", instrument.code),
                None => format!("{} none", instrument.code),
            }
        })
        .collect();
    let lower_is_better: Vec<String> = INSTRUMENTS
        .iter()
        .flat_map(|instrument| match instrument.scoring {
            Scoring::SeparateItems(items) if instrument.higher_is_better => items
                .iter()
                .filter(|item| !higher_is_better(instrument, Some(item)))
                .map(|item| format!("{} {item}", instrument.code))
                .collect(),
            _ if !instrument.higher_is_better => vec![instrument.code.to_string()],
            _ => Vec::new(),
        })
        .collect();
    format!(
        "{}; lower is better on {}",
        thresholds.join(", "),
        lower_is_better.join(", ")
    )
}

/// Whether a higher value is better for an instrument, or an ONS4 item (anxiety: lower is
/// better).
pub fn higher_is_better(instrument: &Instrument, item: Option<&str>) -> bool {
    instrument.higher_is_better && item != Some("anxiety")
}

/// Every item analysed on its own (instruments scored `SeparateItems`): instrument code,
/// 1-based position in the questionnaire, item name.
pub fn separate_items() -> Vec<(&'static str, i64, &'static str)> {
    INSTRUMENTS
        .iter()
        .flat_map(|instrument| match instrument.scoring {
            Scoring::SeparateItems(names) => names
                .iter()
                .enumerate()
                .map(|(index, name)| (instrument.code, index as i64 + 1, *name))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The largest item count of any instrument: `wellbeing.csv` has columns item_1..item_MAX.
pub const MAX_ITEMS: usize = 14;

/// Looks an instrument up by its code, case-insensitively.
pub fn instrument(code: &str) -> Option<&'static Instrument> {
    INSTRUMENTS
        .iter()
        .find(|instrument| instrument.code.eq_ignore_ascii_case(code))
}

impl Instrument {
    /// Scores complete item responses. Returns `None` when any item is missing (a
    /// questionnaire with a missing item is kept and flagged, not scored), when
    /// a response is outside the instrument's item range (ingest quarantines those first; a
    /// library caller gets no score rather than an overflowing sum, found by fuzzing), or when
    /// the instrument's items are never summed (ONS4).
    pub fn score(&self, items: &[Option<i32>]) -> Option<f64> {
        let responses: Option<Vec<i32>> = items.iter().take(self.items).copied().collect();
        let responses = responses?;
        if responses.len() != self.items
            || responses
                .iter()
                .any(|response| !(self.item_min..=self.item_max).contains(response))
        {
            return None;
        }
        let raw: i32 = responses.iter().sum();
        match self.scoring {
            Scoring::Sum => Some(f64::from(raw)),
            Scoring::RaschTable(table) => {
                let index = usize::try_from(raw - self.raw_min()).ok()?;
                table.get(index).copied()
            }
            Scoring::SeparateItems(_) => None,
        }
    }

    /// Whether a vendor-supplied total is a possible score for this instrument. For a Rasch
    /// table only the table's metric values are possible, so a raw SWEMWBS sum is refused
    /// rather than silently treated as a metric score.
    pub fn is_possible_score(&self, score: f64) -> bool {
        match self.scoring {
            Scoring::Sum => {
                score.fract() == 0.0
                    && score >= f64::from(self.raw_min())
                    && score <= f64::from(self.raw_max())
            }
            Scoring::RaschTable(table) => table.iter().any(|metric| (metric - score).abs() < 0.005),
            Scoring::SeparateItems(_) => false,
        }
    }

    fn raw_min(&self) -> i32 {
        self.item_min * self.items as i32
    }

    fn raw_max(&self) -> i32 {
        self.item_max * self.items as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meaningful_change_text_is_read_from_the_instruments() {
        let text = meaningful_change_text();
        assert_eq!(
            text,
            "WEMWBS 3, SWEMWBS 3 (metric), ONS4 1 per item, UCLA3 none, PHQ9 6, MYCAW none, \
             GAD7 4; lower is better on ONS4 anxiety, UCLA3, PHQ9, MYCAW, GAD7"
        );
    }

    #[test]
    fn swemwbs_table_spans_raw_7_to_35() {
        let swemwbs = instrument("swemwbs").unwrap();
        assert_eq!(swemwbs.score(&[Some(1); 7]), Some(7.00));
        assert_eq!(swemwbs.score(&[Some(5); 7]), Some(35.00));
        // raw 3*7 = 21 -> 19.25 (Warwick table).
        assert_eq!(swemwbs.score(&[Some(3); 7]), Some(19.25));
        assert!(swemwbs.is_possible_score(19.25));
        assert!(!swemwbs.is_possible_score(21.0));
    }

    #[test]
    fn missing_item_is_not_scored_and_ons4_never_summed() {
        let wemwbs = instrument("WEMWBS").unwrap();
        let mut items = vec![Some(3); 14];
        assert_eq!(wemwbs.score(&items), Some(42.0));
        items[5] = None;
        assert_eq!(wemwbs.score(&items), None);
        assert_eq!(instrument("ONS4").unwrap().score(&[Some(5); 4]), None);
        // Out-of-range responses are not scored (fuzzing found an i32 overflow here).
        assert_eq!(wemwbs.score(&[Some(i32::MAX); 14]), None);
        let swemwbs = instrument("SWEMWBS").unwrap();
        assert_eq!(
            swemwbs.score(&[
                Some(6),
                Some(1),
                Some(1),
                Some(1),
                Some(1),
                Some(1),
                Some(1)
            ]),
            None
        );
    }
}
