//! `truth.json`: what the synthetic service really did.
//!
//! For eligible treated persons (the eligibility rules of `queries/cohort/treated.sql`) the factual and counterfactual
//! paths share every random draw, so the effect is known exactly: events avoided per measure
//! over follow-up months 0..post_months-1, the cost saving per treated person by follow-up
//! month at the bundled unit costs (`costs::PSSRU_2024`), and the true wellbeing change at
//! follow-up per instrument (and ONS4 item). Leaving the practice ends the extracts, not a
//! person's NHS use: the events and days alive after it (drawn on a stream of their own,
//! never written) are in the truth, so it is the saving per person referred whether or not
//! they stayed registered; death ends both paths. Sums are merged in chunk order, so the file is
//! byte-identical on any thread count.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::world::Paths;
use super::{Effects, FILES, StudyDates, SynthOptions, TRUTH_MEASURES, WorldKind, truth_measures};
use crate::costs::PSSRU_2024;
use crate::error::{Error, Result};
use crate::measures::{Instrument, Scoring};

/// The Green Book / NICE discount rate used for the discounted truth (docs/methods.md, Economics).
pub const DISCOUNT_RATE: f64 = 0.035;

/// DF_m = (1 + r)^(-(m-1)/12) of follow-up month m = `month` + 1 (month 1 undiscounted).
fn discount_factor(month: usize) -> f64 {
    (1.0 + DISCOUNT_RATE).powf(-(month as f64) / 12.0)
}

/// One chunk's contribution.
#[derive(Debug, Default)]
pub struct TruthPart {
    pub referred_persons: u64,
    pub eligible_treated: u64,
    pub events_factual: [u64; TRUTH_MEASURES],
    pub events_counterfactual: [u64; TRUTH_MEASURES],
    /// Factual events after leaving the practice: in the truth, in no extract.
    pub events_factual_unrecorded: [u64; TRUTH_MEASURES],
    /// Counterfactual-only events (avoided), each discounted by its follow-up month.
    pub avoided_discounted: [f64; TRUTH_MEASURES],
    /// Counterfactual minus factual cost by follow-up month (index = relative month k).
    pub saving_by_month: Vec<f64>,
    /// (instrument, item) -> (pairs, summed factual - counterfactual change).
    pub wellbeing: BTreeMap<(&'static str, Option<&'static str>), (u64, f64)>,
    pub rows: [u64; 6],
    pub defects: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    pub post_months: usize,
    /// Days alive in follow-up months 0..post_months-1, registered or not.
    pub days_alive: u64,
}

impl TruthPart {
    /// Adds one person's follow-up events; `recorded`: they are in the extracts (not after
    /// leaving the practice).
    pub fn add_paths(&mut self, paths: &Paths, recorded: bool) {
        if self.saving_by_month.is_empty() {
            self.saving_by_month = vec![0.0; self.post_months];
        }
        for &(measure, month, cost, factual) in &paths.events {
            let Ok(month) = usize::try_from(month) else {
                continue;
            };
            if month >= self.saving_by_month.len() {
                continue;
            }
            self.events_counterfactual[measure] += 1;
            self.saving_by_month[month] += cost;
            if !factual {
                self.avoided_discounted[measure] += discount_factor(month);
            }
            if factual {
                self.events_factual[measure] += 1;
                self.events_factual_unrecorded[measure] += u64::from(!recorded);
                self.saving_by_month[month] -= cost;
            }
        }
    }

    pub fn add_wellbeing(
        &mut self,
        instrument: &Instrument,
        factual: &[Option<i32>],
        counterfactual: &[Option<i32>],
    ) {
        match instrument.scoring {
            Scoring::SeparateItems(names) => {
                for (position, name) in names.iter().enumerate() {
                    if let (Some(f), Some(c)) = (factual[position], counterfactual[position]) {
                        let entry = self
                            .wellbeing
                            .entry((instrument.code, Some(name)))
                            .or_default();
                        entry.0 += 1;
                        entry.1 += f64::from(f - c);
                    }
                }
            }
            _ => {
                if let (Some(f), Some(c)) =
                    (instrument.score(factual), instrument.score(counterfactual))
                {
                    let entry = self.wellbeing.entry((instrument.code, None)).or_default();
                    entry.0 += 1;
                    entry.1 += f - c;
                }
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    pub schema_version: u32,
    pub generator: String,
    pub seed: u64,
    /// How people came to be referred (the data-generating process).
    pub world: WorldKind,
    pub persons: u64,
    pub study: StudyDates,
    /// The true rate ratios applied after the index date.
    pub effects: Effects,
    pub wellbeing_change_wemwbs_points: f64,
    pub unit_costs: String,
    pub price_year: String,
    pub discount_rate: f64,
    pub treated: TreatedTruth,
    pub wellbeing: Vec<WellbeingTruth>,
    /// Clean rows written per extract (excluding injected defects).
    pub rows: BTreeMap<&'static str, u64>,
    /// Injected defective rows per extract and quarantine reason.
    pub defects: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TreatedTruth {
    pub referred_persons: u64,
    /// Persons with an index date who meet the design's eligibility rules.
    pub eligible_treated: u64,
    /// Events in follow-up months 0..post_months-1 of eligible treated persons.
    pub follow_up_events: BTreeMap<&'static str, FollowUpEvents>,
    /// Days alive in the follow-up months per eligible treated person, whether or not still
    /// registered (from the index date; the day of death counts, as in `stg_patients`).
    pub follow_up_days_alive_per_person: f64,
    /// Counterfactual minus factual cost per eligible treated person, follow-up month 1..
    pub saving_per_person_by_month: Vec<f64>,
    pub saving_per_person_18m: f64,
    pub saving_per_person_24m: f64,
    /// Discounted with DF_m = (1 + r)^(-(m-1)/12).
    pub discounted_saving_per_person_18m: f64,
    pub discounted_saving_per_person_24m: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FollowUpEvents {
    pub factual: u64,
    pub counterfactual: u64,
    /// Of the factual events, those after leaving the practice (in no extract): the extracts
    /// hold factual - unrecorded_factual.
    pub unrecorded_factual: u64,
    /// factual / counterfactual: the realised rate ratio in this sample.
    pub realised_rate_ratio: Option<f64>,
    pub avoided_per_person: f64,
    /// Avoided per person, each discounted by its follow-up month as the savings are (the
    /// effect on the cost-effectiveness plane).
    pub discounted_avoided_per_person: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WellbeingTruth {
    pub instrument: &'static str,
    pub item: Option<&'static str>,
    pub pairs: u64,
    /// Mean of (factual - counterfactual) follow-up score: the true effect.
    pub true_mean_change: f64,
}

impl Truth {
    pub fn new(options: &SynthOptions, study: StudyDates) -> Self {
        Truth {
            schema_version: 1,
            generator: format!("sp-impact synth {}", env!("CARGO_PKG_VERSION")),
            seed: options.seed,
            world: options.world,
            persons: options.persons,
            study,
            effects: options.effects.clone(),
            wellbeing_change_wemwbs_points: options.wellbeing_change,
            unit_costs: PSSRU_2024.name.clone(),
            price_year: PSSRU_2024.price_year.clone(),
            discount_rate: DISCOUNT_RATE,
            treated: TreatedTruth {
                saving_per_person_by_month: vec![0.0; study.post_months as usize],
                ..TreatedTruth::default()
            },
            wellbeing: Vec::new(),
            rows: FILES.iter().map(|(name, _)| (*name, 0)).collect(),
            defects: BTreeMap::new(),
        }
    }

    /// Adds one chunk (called in chunk order).
    pub fn absorb(&mut self, part: &TruthPart) {
        let treated = &mut self.treated;
        treated.referred_persons += part.referred_persons;
        treated.eligible_treated += part.eligible_treated;
        treated.follow_up_days_alive_per_person += part.days_alive as f64;
        for (measure, name) in truth_measures().enumerate() {
            let events = treated.follow_up_events.entry(name).or_default();
            events.factual += part.events_factual[measure];
            events.counterfactual += part.events_counterfactual[measure];
            events.unrecorded_factual += part.events_factual_unrecorded[measure];
            events.discounted_avoided_per_person += part.avoided_discounted[measure];
        }
        for (total, saving) in treated
            .saving_per_person_by_month
            .iter_mut()
            .zip(&part.saving_by_month)
        {
            *total += saving;
        }
        for (key, (pairs, sum)) in &part.wellbeing {
            match self
                .wellbeing
                .iter_mut()
                .find(|w| (w.instrument, w.item) == *key)
            {
                Some(entry) => {
                    entry.pairs += pairs;
                    entry.true_mean_change += sum;
                }
                None => self.wellbeing.push(WellbeingTruth {
                    instrument: key.0,
                    item: key.1,
                    pairs: *pairs,
                    true_mean_change: *sum,
                }),
            }
        }
        for ((name, _), rows) in FILES.iter().zip(part.rows) {
            *self.rows.entry(name).or_default() += rows;
        }
        for (file, reasons) in &part.defects {
            for (reason, count) in reasons {
                *self
                    .defects
                    .entry(file)
                    .or_default()
                    .entry(reason)
                    .or_default() += count;
            }
        }
    }

    /// Turns sums into per-person means and totals.
    pub fn finish(&mut self) {
        let treated = &mut self.treated;
        let persons = treated.eligible_treated.max(1) as f64;
        for events in treated.follow_up_events.values_mut() {
            events.realised_rate_ratio = (events.counterfactual > 0)
                .then(|| events.factual as f64 / events.counterfactual as f64);
            events.avoided_per_person =
                (events.counterfactual as f64 - events.factual as f64) / persons;
            events.discounted_avoided_per_person /= persons;
        }
        treated.follow_up_days_alive_per_person /= persons;
        for saving in &mut treated.saving_per_person_by_month {
            *saving /= persons;
        }
        let sum_to = |months: usize, discounted: bool| -> f64 {
            treated
                .saving_per_person_by_month
                .iter()
                .take(months)
                .enumerate()
                .map(|(index, saving)| {
                    let factor = if discounted {
                        discount_factor(index)
                    } else {
                        1.0
                    };
                    saving * factor
                })
                .sum()
        };
        treated.saving_per_person_18m = sum_to(18, false);
        treated.saving_per_person_24m = sum_to(24, false);
        treated.discounted_saving_per_person_18m = sum_to(18, true);
        treated.discounted_saving_per_person_24m = sum_to(24, true);
        for wellbeing in &mut self.wellbeing {
            wellbeing.true_mean_change /= wellbeing.pairs.max(1) as f64;
        }
        self.wellbeing.sort_by_key(|w| (w.instrument, w.item));
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("truth serialises");
        std::fs::write(path, json + "\n").map_err(|source| Error::io("writing", path, source))
    }
}
