//! `sp-impact synth`: synthetic contract extracts with known ground truth.
//!
//! Generates a registered population with realistic service use, referral at a peak of need
//! (so regression to the mean is present, as in real services), questionnaires, community
//! activities, and true effects applied after each person's index date. `truth.json` holds
//! the true rate ratios and the true comparison-adjusted saving per treated person, computed
//! from each treated person's counterfactual path under the same random draws.
//!
//! Determinism: person `i` draws from its own ChaCha8 stream (seed, stream i), persons are
//! generated in fixed-size chunks and written in chunk order, so the same seed and N give
//! byte-identical files on any number of threads. Memory is bounded by the chunks in flight.
//!
//! Files: `world.rs` simulates one person; `defects.rs` injects contract violations;
//! `truth.rs` accumulates the truth; this file runs chunks in parallel and writes files.

mod defects;
mod truth;
mod world;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::progress::Progress;

pub use truth::Truth;

/// The service-use measures an effect can act on (`outcomes::MEASURES` codes).
pub const MEASURES: [&str; 5] = [
    "gp_demand",
    "ae_attendances",
    "emergency_admissions",
    "outpatient_attendances",
    "elective_admissions",
];

/// Measures the synthetic world draws unaffected by the service (with the rows that are not
/// demand, at a rate rising with long-term conditions): their events are in the truth, but
/// an effect on them is refused.
pub const UNAFFECTED_MEASURES: [&str; 1] = ["ambulance_conveyances"];

/// Every measure whose follow-up events truth.json counts, by index: the affected measures,
/// then the unaffected ones.
pub fn truth_measures() -> impl Iterator<Item = &'static str> {
    MEASURES.into_iter().chain(UNAFFECTED_MEASURES)
}

/// How many measures truth.json counts.
pub const TRUTH_MEASURES: usize = MEASURES.len() + UNAFFECTED_MEASURES.len();

/// True rate ratios applied to events after the index date, by measure.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Effects(pub BTreeMap<&'static str, f64>);

impl Effects {
    /// The default effect of the bundled sample: modest reductions in GP demand and
    /// unplanned hospital use, none in planned care.
    pub fn default_effect() -> Self {
        Effects::from_pairs(&[
            ("gp_demand", 0.90),
            ("ae_attendances", 0.85),
            ("emergency_admissions", 0.85),
            ("outpatient_attendances", 1.0),
            ("elective_admissions", 1.0),
        ])
    }

    /// No effect on any measure.
    pub fn none() -> Self {
        Effects::from_pairs(&MEASURES.map(|measure| (measure, 1.0)))
    }

    fn from_pairs(pairs: &[(&'static str, f64)]) -> Self {
        Effects(pairs.iter().copied().collect())
    }

    /// Parses `none`, or `measure=ratio,...` (unlisted measures keep the default).
    pub fn parse(text: &str) -> Result<Self> {
        if text.trim().eq_ignore_ascii_case("none") {
            return Ok(Effects::none());
        }
        let mut effects = Effects::default_effect();
        for pair in text
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
        {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| Error::Usage(format!("--effect: '{pair}' is not measure=ratio")))?;
            if UNAFFECTED_MEASURES.contains(&name.trim()) {
                return Err(Error::Usage(format!(
                    "--effect: the synthetic world draws {} unaffected by the service",
                    name.trim()
                )));
            }
            let measure = MEASURES
                .iter()
                .find(|measure| **measure == name.trim())
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "--effect: unknown measure '{}' (one of {})",
                        name.trim(),
                        MEASURES.join(", ")
                    ))
                })?;
            let ratio: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|ratio: &f64| *ratio > 0.0 && *ratio <= 5.0)
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "--effect: '{value}' for {measure} is not a rate ratio in (0, 5]"
                    ))
                })?;
            effects.0.insert(measure, ratio);
        }
        Ok(effects)
    }

    pub fn ratio(&self, measure: usize) -> f64 {
        self.0[MEASURES[measure]]
    }
}

/// How people come to be referred, and what else shapes their service use, in one simulated
/// world. Every design is checked in every world (`benches/validate.py`): a design that is
/// right only in the world it was tuned to is not right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorldKind {
    /// Referral follows two months of a latent crisis episode (use x3 GP, x2.5 A&E and
    /// emergency) that the data show only through noisy counts.
    LatentCrisis,
    /// Referral follows a rise in the person's RECORDED GP demand in the three months before
    /// over their own level in months -12..-4: selection on observed history.
    ObservedHistory,
    /// Need follows an AR(1) process on the log rate (persistence 0.9, SD 0.5) on top of the
    /// crisis episodes, and referral follows high recent need: shocks last for months.
    PersistentNeed,
    /// As the latent crisis world, and most GP- and nurse-route referrals are made during an
    /// attended consultation on the referral day (a visit in both the factual and the
    /// counterfactual path, which a comparison person's pseudo index date does not have).
    ReferralVisit,
    /// As the latent crisis world, with a secular trend that differs by baseline level: use
    /// drifts down for high users and up for low users (about 6% a year per doubling).
    SecularTrend,
    /// As the latent crisis world, and a crisis reveals frailty: from a person's first
    /// episode on, a death hazard of 0.4% a month is added, so referred people (caught in a
    /// crisis) die more; death ends use in both paths.
    InformativeDeath,
    /// As the latent crisis world, and a crisis unsettles: from a person's first episode on,
    /// a hazard of leaving the practice of 1% a month is added, so referred people leave more.
    /// They go on using the NHS elsewhere: that use is in the truth, not in the extracts.
    InformativeDeregistration,
    /// As the latent crisis world, and referral goes on after the study window to the end of
    /// the data, so some comparison people are referred during their follow-up
    /// (not-yet-treated).
    LaterReferrals,
}

impl WorldKind {
    /// Every world, in the order validation reports them.
    pub const ALL: [WorldKind; 8] = [
        WorldKind::LatentCrisis,
        WorldKind::ObservedHistory,
        WorldKind::PersistentNeed,
        WorldKind::ReferralVisit,
        WorldKind::SecularTrend,
        WorldKind::InformativeDeath,
        WorldKind::InformativeDeregistration,
        WorldKind::LaterReferrals,
    ];

    pub fn name(self) -> &'static str {
        match self {
            WorldKind::LatentCrisis => "latent-crisis",
            WorldKind::ObservedHistory => "observed-history",
            WorldKind::PersistentNeed => "persistent-need",
            WorldKind::ReferralVisit => "referral-visit",
            WorldKind::SecularTrend => "secular-trend",
            WorldKind::InformativeDeath => "informative-death",
            WorldKind::InformativeDeregistration => "informative-deregistration",
            WorldKind::LaterReferrals => "later-referrals",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        WorldKind::ALL
            .into_iter()
            .find(|world| world.name() == text.trim())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--world: unknown world '{text}' (one of {})",
                    WorldKind::ALL.map(WorldKind::name).join(", ")
                ))
            })
    }
}

/// The study period the synthetic service runs over (it matches `sample-data/study.toml`).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct StudyDates {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub data_end: NaiveDate,
    pub pre_months: i32,
    pub post_months: i32,
}

impl Default for StudyDates {
    fn default() -> Self {
        StudyDates {
            start: NaiveDate::from_ymd_opt(2022, 4, 1).expect("valid date"),
            end: NaiveDate::from_ymd_opt(2024, 3, 31).expect("valid date"),
            data_end: NaiveDate::from_ymd_opt(2026, 3, 31).expect("valid date"),
            pre_months: DEFAULT_HISTORY_MONTHS,
            post_months: 24,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub persons: u64,
    pub seed: u64,
    /// How people come to be referred (the data-generating process).
    pub world: WorldKind,
    pub effects: Effects,
    /// True change in WEMWBS points caused by the service (other instruments move by the
    /// same latent amount).
    pub wellbeing_change: f64,
    /// Share of clean rows followed by an injected defective copy (0..=0.2).
    pub defects: f64,
    pub threads: usize,
    /// Write `.csv.gz` instead of `.csv` for these extracts (the bundled sample compresses
    /// the large ones).
    pub gzip: Vec<&'static str>,
    /// Months of history before the study start: the longest look-back (`pre_months`) a study
    /// of these extracts can use, and the one truth.json's eligibility assumes (24, as the
    /// sample's; 48 lets the default design's placebo index date be estimated).
    pub history_months: i32,
}

/// The history the bundled sample and `sp-impact synth` generate unless told otherwise.
pub const DEFAULT_HISTORY_MONTHS: i32 = 24;

/// The largest defect rate: above it, injected NHS numbers could reach the share at which a
/// whole column is refused.
pub const MAX_DEFECT_RATE: f64 = 0.2;

/// Persons per chunk: fixed, so output never depends on the thread count.
const CHUNK_PERSONS: u64 = 2048;

/// The six extract files in writing order, with their headers.
pub const FILES: [(&str, &[&str]); 6] = [
    (
        "patients",
        &[
            "person_id",
            "practice_code",
            "year_of_birth",
            "sex",
            "ethnic_category",
            "imd_decile",
            "ltc_count",
            "registered_from",
            "registered_to",
            "date_of_death",
        ],
    ),
    (
        "referrals",
        &[
            "referral_id",
            "person_id",
            "referral_date",
            "snomed_code",
            "referral_source",
            "referral_reasons",
            "first_contact_date",
            "discharge_date",
            "link_worker_contacts",
            "status",
        ],
    ),
    (
        "wellbeing",
        &[
            "person_id",
            "referral_id",
            "survey_date",
            "instrument",
            "item_1",
            "item_2",
            "item_3",
            "item_4",
            "item_5",
            "item_6",
            "item_7",
            "item_8",
            "item_9",
            "item_10",
            "item_11",
            "item_12",
            "item_13",
            "item_14",
            "score",
        ],
    ),
    (
        "gp_appointments",
        &[
            "person_id",
            "appointment_date",
            "status",
            "hcp_type",
            "mode",
            "duration_minutes",
        ],
    ),
    (
        "hospital_activity",
        &[
            "person_id",
            "activity_date",
            "setting",
            "discharge_date",
            "attended",
        ],
    ),
    (
        "activities",
        &[
            "person_id",
            "referral_id",
            "activity_date",
            "activity_type",
            "provider",
            "attended",
        ],
    ),
];

/// Generates the extracts and truth.json into `out_dir` (created if needed).
pub fn synth(options: &SynthOptions, out_dir: &Path, progress: &Progress) -> Result<Truth> {
    if options.persons == 0 {
        return Err(Error::Usage("--persons must be at least 1".into()));
    }
    if !(0.0..=MAX_DEFECT_RATE).contains(&options.defects) {
        return Err(Error::Usage(format!(
            "--defects must be between 0 and {MAX_DEFECT_RATE}"
        )));
    }
    if !(12..=60).contains(&options.history_months) {
        return Err(Error::Usage(
            "--history-months must be between 12 and 60".into(),
        ));
    }
    std::fs::create_dir_all(out_dir).map_err(|source| Error::io("creating", out_dir, source))?;
    let dates = StudyDates {
        pre_months: options.history_months,
        ..StudyDates::default()
    };
    let world = world::World::new(options, dates);
    let mut writers = FILES
        .iter()
        .map(|(name, header)| {
            ExtractWriter::create(out_dir, name, header, options.gzip.contains(name))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut truth = Truth::new(options, dates);

    let chunks = options.persons.div_ceil(CHUNK_PERSONS);
    let threads = options.threads.max(1) as u64;
    let bar = progress.file_bar("synth persons", options.persons);
    let mut next_chunk = 0;
    while next_chunk < chunks {
        let batch: Vec<u64> = (next_chunk..(next_chunk + threads).min(chunks)).collect();
        let outputs: Vec<world::ChunkOutput> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .iter()
                .map(|&chunk| {
                    let world = &world;
                    scope.spawn(move || {
                        let first = chunk * CHUNK_PERSONS;
                        let last = (first + CHUNK_PERSONS).min(options.persons);
                        world.generate_chunk(first..last)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("synth worker thread panicked"))
                .collect()
        });
        for output in outputs {
            for (writer, bytes) in writers.iter_mut().zip(&output.files) {
                writer.write(bytes)?;
            }
            truth.absorb(&output.truth);
        }
        next_chunk += batch.len() as u64;
        bar.set_position((next_chunk * CHUNK_PERSONS).min(options.persons));
    }
    bar.finish();
    for writer in writers {
        writer.finish()?;
    }
    truth.finish();
    truth.write(&out_dir.join("truth.json"))?;
    progress.log(&format!(
        "synth: {} persons, {} referred, {} eligible treated; files in {}",
        options.persons,
        truth.treated.referred_persons,
        truth.treated.eligible_treated,
        out_dir.display()
    ));
    Ok(truth)
}

/// Writes one extract: header, then chunk bytes, optionally gzip-compressed.
struct ExtractWriter {
    path: PathBuf,
    sink: Sink,
}

enum Sink {
    Plain(BufWriter<File>),
    Gzip(Box<flate2::write::GzEncoder<BufWriter<File>>>),
}

impl Sink {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Plain(writer) => writer,
            Sink::Gzip(writer) => writer,
        }
    }
}

impl ExtractWriter {
    fn create(dir: &Path, name: &str, header: &[&str], gzip: bool) -> Result<Self> {
        let path = dir.join(if gzip {
            format!("{name}.csv.gz")
        } else {
            format!("{name}.csv")
        });
        let file = File::create(&path).map_err(|source| Error::io("creating", &path, source))?;
        let buffered = BufWriter::with_capacity(1 << 20, file);
        let mut sink = if gzip {
            Sink::Gzip(Box::new(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .write(buffered, flate2::Compression::default()),
            ))
        } else {
            Sink::Plain(buffered)
        };
        writeln!(sink.writer(), "{}", header.join(","))
            .map_err(|source| Error::io("writing", &path, source))?;
        Ok(ExtractWriter { path, sink })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.sink
            .writer()
            .write_all(bytes)
            .map_err(|source| Error::io("writing", &self.path, source))
    }

    fn finish(self) -> Result<()> {
        let finished = match self.sink {
            Sink::Plain(mut writer) => writer.flush(),
            Sink::Gzip(encoder) => encoder.finish().and_then(|mut writer| writer.flush()),
        };
        finished.map_err(|source| Error::io("writing", &self.path, source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_truth_counts_every_counted_measure_of_the_registry() {
        let registry: Vec<&str> = crate::outcomes::counted().map(|m| m.code).collect();
        let mut truth: Vec<&str> = truth_measures().collect();
        let mut expected = registry.clone();
        truth.sort_unstable();
        expected.sort_unstable();
        assert_eq!(truth, expected);
    }

    #[test]
    fn an_effect_on_an_unaffected_measure_is_refused() {
        let error = Effects::parse("ambulance_conveyances=0.8").unwrap_err();
        assert!(error.to_string().contains("unaffected"), "{error}");
        assert!(Effects::parse("gp_demand=0.8").is_ok());
    }
}
