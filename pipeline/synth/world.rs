//! The synthetic world: one person at a time, from registration to the last event.
//!
//! Model (per person; rates per person-year, see the constants below):
//! - demographics: age, sex, ethnicity, IMD decile, long-term conditions (LTC), practice;
//! - registration, deregistration (3%/yr) and death (Gompertz in age) censor all events;
//! - monthly event counts are Poisson with a person frailty (gamma, shared across measures
//!   plus a measure-specific part), winter seasonality, and transient "crisis" episodes that
//!   multiply use for 2-4 months;
//! - referral to a link worker is far more likely during an episode and when wellbeing is
//!   low, so referred people are caught at a peak and their use falls anyway (regression to
//!   the mean);
//! - the service's true effect multiplies event rates from the index date (first referral
//!   not declined). Counts are drawn by inverse CDF from one uniform per segment for both the
//!   factual and the counterfactual rate, so the counterfactual path shares every random
//!   draw: the factual events are the first n of the counterfactual ones, and the truth is
//!   exact, not estimated. Random draws never depend on the effect size, so the same seed
//!   with different effects gives the same people, the same referrals and the same
//!   counterfactual world.

use std::fmt::Write as _;
use std::ops::Range;

use chrono::{Datelike, Duration, NaiveDate};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, StandardNormal};

use super::defects::Defects;
use super::truth::TruthPart;
use super::{Effects, FILES, StudyDates, SynthOptions, WorldKind};
use crate::calendar;
use crate::costs::PSSRU_2024;
use crate::ingest::contracts::referrals::{SNOMED_DECLINED, SNOMED_REFERRAL};
use crate::measures::{self, Instrument, Scoring};

// Indices into MEASURES, then UNAFFECTED_MEASURES (`synth::truth_measures`).
const GP: usize = 0;
const AE: usize = 1;
const EMERGENCY: usize = 2;
const OUTPATIENT: usize = 3;
const AMBULANCE: usize = 5;

/// Chance per month of a crisis episode starting, and its multipliers per measure.
const EPISODE_START_PER_MONTH: f64 = 0.012;
const EPISODE_MULTIPLIER: [f64; 5] = [3.0, 2.5, 2.5, 1.2, 1.0];
/// Referral hazard per month (adults), and its multiplier when the two preceding months
/// were in an episode.
const REFERRAL_BASE_PER_MONTH: f64 = 0.00095;
const REFERRAL_PEAK_MULTIPLIER: f64 = 15.0;
/// Share of referrals declined (SNOMED 871711000000103).
const DECLINE_SHARE: f64 = 0.12;
/// Persistent-need world: AR(1) on the log rate with this persistence and stationary SD, and
/// the referral hazard's log-linear slope on last month's state.
const NEED_PERSISTENCE: f64 = 0.9;
const NEED_SD: f64 = 0.5;
const NEED_REFERRAL_SLOPE: f64 = 1.5;
/// Observed-history world: the referral hazard multiplier is
/// ((recent + c) / (usual + c))^power, capped, where recent is the mean monthly recorded GP
/// demand in the three months before and usual the mean over months -12..-4.
const HISTORY_OFFSET: f64 = 0.25;
const HISTORY_POWER: f64 = 2.0;
const HISTORY_CAP: f64 = 25.0;
/// Referral-visit world: share of GP- and nurse-route referrals made in an attended
/// consultation on the referral day.
const REFERRAL_VISIT_SHARE: f64 = 0.8;
/// Secular-trend world: yearly log-rate drift per doubling of the person's GP rate over the
/// population's typical rate (negative: high users drift down).
const TREND_PER_DOUBLING: f64 = -0.06;
const TYPICAL_GP_RATE: f64 = 7.0;
/// Informative-death world: death hazard per month added from a person's first crisis
/// episode on (about 5% a year, several times the Gompertz hazard below 75).
const CRISIS_DEATH_PER_MONTH: f64 = 0.004;
/// Informative-deregistration world: hazard of leaving the practice per month added from a
/// person's first crisis episode on (about 11% a year, against everyone's 3%).
const CRISIS_LEAVING_PER_MONTH: f64 = 0.01;
/// Everyone's hazard of leaving the practice per month (3% a year).
const LEAVING_PER_MONTH: f64 = 0.03 / 12.0;
/// Salt of the random stream of a person's life after leaving the practice (never in the
/// extracts), so drawing it changes no extract row.
const UNSEEN_STREAM_SALT: u64 = 0x005E_EDAF_7E12_1EF7;
/// Latent wellbeing drop during an episode (SD units).
const EPISODE_WELLBEING_DROP: f64 = 0.8;
/// WEMWBS points per SD of latent wellbeing (14 items x 0.75 points per item).
const WEMWBS_POINTS_PER_SD: f64 = 10.5;

/// What a crisis ends in the informative worlds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CrisisExit {
    Death,
    Leaving,
}

/// Everyone's monthly death hazard at `age` (Gompertz).
fn monthly_death_hazard(age: i32) -> f64 {
    ((-10.0 + 0.085 * f64::from(age)).exp()).min(0.5) / 12.0
}

/// Calendar months for the synthetic world, whose dates all lie between 1900 and 2100 by
/// construction (study dates and births), well inside chrono's range.
fn add_months(date: NaiveDate, months: i32) -> NaiveDate {
    calendar::add_months(date, months).expect("synthetic dates lie within 1900..2100")
}

fn relative_month(index: NaiveDate, date: NaiveDate) -> i32 {
    calendar::relative_month(index, date).expect("synthetic dates lie within 1900..2100")
}

/// Everything a chunk of persons produced: CSV bytes per file and its part of the truth.
pub struct ChunkOutput {
    pub files: Vec<Vec<u8>>,
    pub truth: TruthPart,
}

pub struct World {
    seed: u64,
    kind: WorldKind,
    effects: Effects,
    /// Latent shift (SD units) of wellbeing at follow-up caused by the service.
    wellbeing_shift: f64,
    defect_rate: f64,
    dates: StudyDates,
    /// First day of the first month with events (study start - pre_months).
    data_start: NaiveDate,
    months: i32,
    practices: Vec<String>,
}

impl World {
    pub fn new(options: &SynthOptions, dates: StudyDates) -> Self {
        let data_start = add_months(dates.start, -dates.pre_months);
        let months = relative_month(data_start, dates.data_end) + 1;
        let practice_count = (options.persons / 7_000).clamp(3, 400);
        let practices = (0..practice_count)
            .map(|k| format!("A{}", 81001 + k))
            .collect();
        World {
            seed: options.seed,
            kind: options.world,
            effects: options.effects.clone(),
            wellbeing_shift: options.wellbeing_change / WEMWBS_POINTS_PER_SD,
            defect_rate: options.defects,
            dates,
            data_start,
            months,
            practices,
        }
    }

    pub fn generate_chunk(&self, persons: Range<u64>) -> ChunkOutput {
        let mut out = Emitter::new(self.defect_rate, self.seed ^ persons.start.rotate_left(17));
        let mut truth = TruthPart {
            post_months: self.dates.post_months as usize,
            ..TruthPart::default()
        };
        for person in persons {
            self.generate_person(person, &mut out, &mut truth);
        }
        truth.rows = out.rows;
        truth.defects = out.defects.counts.clone();
        ChunkOutput {
            files: out.files,
            truth,
        }
    }

    fn generate_person(&self, index_number: u64, out: &mut Emitter, truth: &mut TruthPart) {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(index_number);
        let mut person = Person::draw(self, index_number, &mut rng);
        let episodes = self.draw_episodes(&mut rng);
        match self.kind {
            WorldKind::InformativeDeath => {
                self.draw_crisis_exit(&mut person, &episodes, CrisisExit::Death, &mut rng);
            }
            WorldKind::InformativeDeregistration => {
                self.draw_crisis_exit(&mut person, &episodes, CrisisExit::Leaving, &mut rng);
            }
            _ => {}
        }
        out.patient(&person);

        let need = self.draw_need(&mut rng);
        // Referral on latent need is decided up front; on observed history it is decided
        // month by month as the recorded events are drawn.
        let mut referrals = if self.kind == WorldKind::ObservedHistory {
            Vec::new()
        } else {
            self.draw_referrals(&person, &episodes, &need, &mut rng)
        };
        let registered = person.registered_from..person.exit;
        let mut events = self.draw_events(
            &person,
            &episodes,
            &need,
            &mut referrals,
            registered,
            &mut rng,
            out,
        );
        if self.kind == WorldKind::ReferralVisit {
            self.draw_referral_visits(&person, &referrals, &mut rng, out, &mut events);
        }
        let index_date = referrals
            .iter()
            .find(|referral| !referral.declined)
            .map(|referral| referral.date);
        if !referrals.is_empty() {
            truth.referred_persons += 1;
        }
        let eligible = index_date.is_some_and(|index| self.is_eligible(&person, index));
        for referral in &referrals {
            out.referral(&person, referral);
        }
        if let (true, Some(index)) = (eligible, index_date) {
            truth.eligible_treated += 1;
            truth.add_paths(&Paths::follow_up(&events, index), true);
            let (unseen, life_end) =
                self.draw_life_after_leaving(index_number, &person, &episodes, &need, &referrals);
            truth.add_paths(&Paths::follow_up(&unseen, index), false);
            let follow_up_end = add_months(index, self.dates.post_months).min(life_end);
            truth.days_alive += (follow_up_end - index).num_days().max(0) as u64;
        }
        if let Some(accepted) = referrals.iter().find(|referral| !referral.declined) {
            self.draw_link_worker_contacts(&person, accepted, &mut rng, out);
            self.draw_questionnaires(&person, accepted, &episodes, eligible, &mut rng, out, truth);
            self.draw_activities(&person, accepted, &mut rng, out);
        }
    }

    /// The eligibility of `queries/cohort/treated.sql`: adult at index, registered for the whole
    /// look-back, still registered and alive at the index date.
    fn is_eligible(&self, person: &Person, index: NaiveDate) -> bool {
        index >= self.dates.start
            && index <= self.dates.end
            && index.year() - person.year_of_birth >= 18
            && person.registered_from <= add_months(index, -self.dates.pre_months)
            && person.exit > index
    }

    /// Crisis episodes: a flag per month of the data window.
    fn draw_episodes(&self, rng: &mut ChaCha8Rng) -> Vec<bool> {
        let mut in_episode = vec![false; self.months as usize];
        let mut month = 0;
        while month < in_episode.len() {
            if rng.random::<f64>() < EPISODE_START_PER_MONTH {
                let length = rng.random_range(2..=4);
                for flag in in_episode.iter_mut().skip(month).take(length) {
                    *flag = true;
                }
                month += length;
            } else {
                month += 1;
            }
        }
        in_episode
    }

    /// The informative-death and informative-deregistration worlds: from the month of the
    /// first episode, a monthly hazard of dying (`CRISIS_DEATH_PER_MONTH`) or of leaving the
    /// practice (`CRISIS_LEAVING_PER_MONTH`) on top of the ones drawn with the person.
    fn draw_crisis_exit(
        &self,
        person: &mut Person,
        episodes: &[bool],
        exit: CrisisExit,
        rng: &mut ChaCha8Rng,
    ) {
        let Some(first) = episodes.iter().position(|&in_episode| in_episode) else {
            return;
        };
        let hazard = match exit {
            CrisisExit::Death => CRISIS_DEATH_PER_MONTH,
            CrisisExit::Leaving => CRISIS_LEAVING_PER_MONTH,
        };
        for month in first..episodes.len() {
            let month_start = add_months(self.data_start, month as i32);
            if month_start >= person.exit {
                return;
            }
            let u: f64 = rng.random();
            let date = month_start + Duration::days(rng.random_range(0..28));
            // Leaving on the day of registering would leave no day registered.
            let leaves_after_joining = exit == CrisisExit::Death || date > person.registered_from;
            if u < hazard && person.registered_at(date) && leaves_after_joining {
                match exit {
                    CrisisExit::Death => person.date_of_death = Some(date),
                    CrisisExit::Leaving => {
                        // A later death is no longer in the practice's record; the life
                        // after leaving is drawn for the truth alone.
                        person.registered_to = Some(date);
                        person.date_of_death = None;
                    }
                }
                person.exit = date;
                return;
            }
        }
    }

    /// Leaving the practice ends the data, not the person's NHS use. For a person who left
    /// (not died) this draws the life after leaving: death by the same hazards as before, and
    /// every demand event until death or the end of the data on both paths, for the truth
    /// alone (the estimand is the saving per person referred, deregistered or not:
    /// docs/methods.md, Economics). Its own random stream, so no extract row changes.
    /// Returns those events and the first day not alive within the data (the day after
    /// death, as `stg_patients` counts the day of death, or the day after the data end).
    fn draw_life_after_leaving(
        &self,
        index_number: u64,
        person: &Person,
        episodes: &[bool],
        need: &[f64],
        referrals: &[Referral],
    ) -> (Vec<DemandEvent>, NaiveDate) {
        let data_stop = self.dates.data_end + Duration::days(1);
        let Some(left) = person.registered_to.filter(|&left| left == person.exit) else {
            let died = person.date_of_death.filter(|&death| death == person.exit);
            let life_end = died.map_or(data_stop, |death| death + Duration::days(1));
            return (Vec::new(), life_end.min(data_stop));
        };
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ UNSEEN_STREAM_SALT);
        rng.set_stream(index_number);
        let first_episode = episodes.iter().position(|&in_episode| in_episode);
        let mut death = None;
        let mut month = self.month_index(left);
        while month < self.months as usize {
            let month_start = add_months(self.data_start, month as i32);
            let age = month_start.year() - person.year_of_birth;
            let crisis = self.kind == WorldKind::InformativeDeath
                && first_episode.is_some_and(|first| first <= month);
            let hazard =
                monthly_death_hazard(age) + if crisis { CRISIS_DEATH_PER_MONTH } else { 0.0 };
            let u: f64 = rng.random();
            let date = month_start + Duration::days(rng.random_range(0..28));
            if date > left && date <= self.dates.data_end && u < hazard {
                death = Some(date);
                break;
            }
            month += 1;
        }
        let mut referrals = referrals.to_vec();
        let mut unseen = Emitter::new(0.0, 0);
        // Events stop before the day of death, as in the extracts' world.
        let events = self.draw_events(
            person,
            episodes,
            need,
            &mut referrals,
            left..death.unwrap_or(data_stop),
            &mut rng,
            &mut unseen,
        );
        let life_end = death.map_or(data_stop, |death| death + Duration::days(1));
        (events, life_end)
    }

    /// The months in which a first referral can happen: the study window, or in the
    /// later-referrals world the study window and everything after it.
    fn referral_months(&self) -> std::ops::RangeInclusive<usize> {
        self.month_index(self.dates.start)..=self.month_index(self.referral_end())
    }

    /// The last day a referral (a first one, or a repeat) can be made.
    fn referral_end(&self) -> NaiveDate {
        if self.kind == WorldKind::LaterReferrals {
            self.dates.data_end
        } else {
            self.dates.end
        }
    }

    /// The persistent-need world's AR(1) state of the log rate per month (stationary, SD
    /// `NEED_SD`); all zeros (no draws) in the other worlds.
    fn draw_need(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let months = self.months as usize;
        if self.kind != WorldKind::PersistentNeed {
            return vec![0.0; months];
        }
        let innovation_sd = NEED_SD * (1.0 - NEED_PERSISTENCE * NEED_PERSISTENCE).sqrt();
        let start: f64 = StandardNormal.sample(rng);
        let mut state = NEED_SD * start;
        let mut need = Vec::with_capacity(months);
        for _ in 0..months {
            need.push(state);
            let shock: f64 = StandardNormal.sample(rng);
            state = NEED_PERSISTENCE * state + innovation_sd * shock;
        }
        need
    }

    /// Multiplier of every demand rate in `month` beyond episodes and season: the need
    /// state (mean-one lognormal) and the secular trend.
    fn rate_multiplier(&self, person: &Person, need: &[f64], month: i32) -> f64 {
        let need_factor = (need[month as usize] - NEED_SD * NEED_SD / 2.0).exp();
        let need_factor = if self.kind == WorldKind::PersistentNeed {
            need_factor
        } else {
            1.0
        };
        let trend = if self.kind == WorldKind::SecularTrend {
            let doublings = (person.annual_rate[GP] / TYPICAL_GP_RATE).log2();
            (TREND_PER_DOUBLING * doublings * f64::from(month) / 12.0).exp()
        } else {
            1.0
        };
        need_factor * trend
    }

    fn month_index(&self, date: NaiveDate) -> usize {
        relative_month(self.data_start, date).max(0) as usize
    }

    /// Referrals on latent need: a monthly hazard that is far higher when the two preceding
    /// months were in a crisis episode (the GP refers after a run of high use), when last
    /// month's need state is high (persistent-need world) and when wellbeing is low.
    /// A decliner is sometimes referred again and accepts; an accepted person is sometimes
    /// referred a second time.
    fn draw_referrals(
        &self,
        person: &Person,
        episodes: &[bool],
        need: &[f64],
        rng: &mut ChaCha8Rng,
    ) -> Vec<Referral> {
        for month in self.referral_months() {
            let recent_peak = month >= 2 && episodes[month - 1] && episodes[month - 2];
            let mut multiplier = if recent_peak {
                REFERRAL_PEAK_MULTIPLIER
            } else {
                1.0
            };
            if self.kind == WorldKind::PersistentNeed && month >= 1 {
                let slope = NEED_REFERRAL_SLOPE;
                multiplier *= (slope * need[month - 1] - (slope * NEED_SD).powi(2) / 2.0).exp();
            }
            if let Some(referrals) = self.referral_step(person, month, multiplier, rng) {
                return referrals;
            }
        }
        Vec::new()
    }

    /// One month's chance of a first referral at the base hazard times `multiplier`: draws
    /// the day and the uniform, and the referral history when it happens.
    fn referral_step(
        &self,
        person: &Person,
        month: usize,
        multiplier: f64,
        rng: &mut ChaCha8Rng,
    ) -> Option<Vec<Referral>> {
        let date = self.random_day_in_month(month, rng);
        let u: f64 = rng.random();
        let adult = date.year() - person.year_of_birth >= 18;
        let hazard = REFERRAL_BASE_PER_MONTH
            * multiplier
            * (-0.5 * person.wellbeing).exp()
            * if adult { 1.0 } else { 0.05 };
        (person.registered_at(date) && u < hazard).then(|| self.referral_history(person, date, rng))
    }

    /// The observed-history world's referral multiplier in `month`: recorded GP demand in the
    /// three months before over the person's own level in months -12..-4.
    fn history_multiplier(gp_by_month: &[u32], month: usize) -> f64 {
        let mean = |range: std::ops::Range<usize>| {
            let months = range.len() as f64;
            gp_by_month[range]
                .iter()
                .map(|&n| f64::from(n))
                .sum::<f64>()
                / months
        };
        let recent = mean(month.saturating_sub(3)..month);
        let usual = mean(month.saturating_sub(12)..month.saturating_sub(3));
        ((recent + HISTORY_OFFSET) / (usual + HISTORY_OFFSET))
            .powf(HISTORY_POWER)
            .min(HISTORY_CAP)
    }

    /// The first referral and any later ones it leads to.
    fn referral_history(
        &self,
        person: &Person,
        first_date: NaiveDate,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Referral> {
        let first = Referral::draw(self, person, first_date, 0, false, rng);
        let (again_share, gap_months) = if first.declined {
            (0.30, 2..=9)
        } else {
            (0.06, 3..=12)
        };
        let again = rng.random::<f64>() < again_share;
        let later = add_months(first_date, rng.random_range(gap_months));
        let mut referrals = vec![first];
        if again && later <= self.referral_end() && person.registered_at(later) {
            // Never declined: a decliner who is referred again accepts.
            referrals.push(Referral::draw(self, person, later, 1, true, rng));
        }
        referrals
    }

    fn random_day_in_month(&self, month: usize, rng: &mut ChaCha8Rng) -> NaiveDate {
        let month_start = add_months(self.data_start, month as i32);
        let days = (add_months(month_start, 1) - month_start).num_days();
        month_start + Duration::days(rng.random_range(0..days))
    }

    /// Monthly event counts for every measure over the days in `window`, split at the index
    /// date, with the coupled counterfactual. Writes the factual events and returns every
    /// demand event of both paths (for the truth). In the observed-history world the referral
    /// is decided here, at the start of each study month, from the GP demand recorded so far.
    #[allow(clippy::too_many_arguments)]
    fn draw_events(
        &self,
        person: &Person,
        episodes: &[bool],
        need: &[f64],
        referrals: &mut Vec<Referral>,
        window: Range<NaiveDate>,
        rng: &mut ChaCha8Rng,
        out: &mut Emitter,
    ) -> Vec<DemandEvent> {
        let mut events = Vec::new();
        let mut gp_by_month = vec![0u32; self.months as usize];
        let study_months = self.referral_months();
        for month in 0..self.months {
            if self.kind == WorldKind::ObservedHistory
                && referrals.is_empty()
                && study_months.contains(&(month as usize))
            {
                let multiplier = Self::history_multiplier(&gp_by_month, month as usize);
                if let Some(drawn) = self.referral_step(person, month as usize, multiplier, rng) {
                    *referrals = drawn;
                }
            }
            let index_date = referrals
                .iter()
                .find(|referral| !referral.declined)
                .map(|referral| referral.date);
            let month_start = add_months(self.data_start, month);
            let month_end = add_months(month_start, 1).min(self.dates.data_end + Duration::days(1));
            let from = month_start.max(window.start);
            let to = month_end.min(window.end);
            if from >= to {
                continue;
            }
            let days_in_month = (add_months(month_start, 1) - month_start).num_days() as f64;
            let season = 1.0
                + 0.15 * (2.0 * std::f64::consts::PI * (month_start.month0() as f64) / 12.0).cos();
            let multiplier = self.rate_multiplier(person, need, month);
            let segments: Vec<(NaiveDate, NaiveDate, bool)> = match index_date {
                Some(index) if index > from && index < to => {
                    vec![(from, index, false), (index, to, true)]
                }
                Some(index) if index <= from => vec![(from, to, true)],
                _ => vec![(from, to, false)],
            };
            for (start, end, treated) in segments {
                let fraction = (end - start).num_days() as f64 / days_in_month;
                for (measure, episode_multiplier) in EPISODE_MULTIPLIER.iter().enumerate() {
                    let mut rate = person.annual_rate[measure] / 12.0 * fraction;
                    if measure <= EMERGENCY {
                        rate *= season * multiplier;
                    }
                    if episodes[month as usize] {
                        rate *= episode_multiplier;
                    }
                    let ratio = if treated {
                        self.effects.ratio(measure)
                    } else {
                        1.0
                    };
                    let u: f64 = rng.random();
                    let counterfactual = poisson_inverse_cdf(u, rate);
                    let factual = if treated {
                        poisson_inverse_cdf(u, rate * ratio)
                    } else {
                        counterfactual
                    };
                    for event in 0..counterfactual {
                        let date =
                            start + Duration::days(rng.random_range(0..(end - start).num_days()));
                        let factual = event < factual;
                        let cost = self.event(person, measure, date, factual, rng, out);
                        if measure == GP && factual {
                            gp_by_month[month as usize] += 1;
                        }
                        events.push(DemandEvent {
                            measure,
                            date,
                            cost,
                            factual,
                        });
                    }
                }
                // Rows not affected by the service: DNAs, cancellations, admin and
                // outpatient DNAs (never demand) and ambulance conveyances (a measure).
                events.extend(self.draw_other_rows(
                    person,
                    start,
                    end,
                    fraction * if episodes[month as usize] { 2.0 } else { 1.0 },
                    rng,
                    out,
                ));
            }
        }
        events
    }

    /// The referral-visit world: an attended GP or nurse consultation on the day of most
    /// GP- and nurse-route referrals. It happens whether or not the service works, so it is
    /// in both paths.
    fn draw_referral_visits(
        &self,
        person: &Person,
        referrals: &[Referral],
        rng: &mut ChaCha8Rng,
        out: &mut Emitter,
        events: &mut Vec<DemandEvent>,
    ) {
        for referral in referrals {
            let route = matches!(referral.source, "gp" | "nurse");
            if route && rng.random::<f64>() < REFERRAL_VISIT_SHARE && referral.date < person.exit {
                let hcp = referral.source;
                let duration = rng.random_range(8..=20);
                out.gp(
                    person,
                    referral.date,
                    "attended",
                    hcp,
                    "face_to_face",
                    Some(duration),
                );
                events.push(DemandEvent {
                    measure: GP,
                    date: referral.date,
                    cost: PSSRU_2024.gp_appointment(hcp, Some(duration)),
                    factual: true,
                });
            }
        }
    }

    /// One demand event: writes it when factual, returns its cost either way.
    fn event(
        &self,
        person: &Person,
        measure: usize,
        date: NaiveDate,
        factual: bool,
        rng: &mut ChaCha8Rng,
        out: &mut Emitter,
    ) -> f64 {
        match measure {
            GP => {
                let (hcp, mean, sd, low, high) = match rng.random::<f64>() {
                    u if u < 0.60 => ("gp", 11.0, 4.0, 3.0, 40.0),
                    u if u < 0.85 => ("nurse", 15.0, 6.0, 5.0, 60.0),
                    _ => ("other_clinical", 20.0, 8.0, 5.0, 90.0),
                };
                let draw: f64 = StandardNormal.sample(rng);
                let recorded = rng.random::<f64>() >= 0.12;
                let duration = recorded.then(|| (mean + sd * draw).round().clamp(low, high) as u32);
                let mode = pick_mode(rng);
                if factual {
                    out.gp(person, date, "attended", hcp, mode, duration);
                }
                PSSRU_2024.gp_appointment(hcp, duration)
            }
            AE => {
                if factual {
                    out.hospital(person, date, "ae", None, None);
                }
                PSSRU_2024.hospital_event("ae", None, true)
            }
            EMERGENCY => {
                let stay = if rng.random::<f64>() < 0.45 {
                    rng.random_range(0..=1)
                } else {
                    rng.random_range(2..=21)
                };
                let discharge = date + Duration::days(stay);
                if factual {
                    out.hospital(person, date, "emergency_admission", Some(discharge), None);
                }
                PSSRU_2024.hospital_event("emergency_admission", Some(stay), true)
            }
            OUTPATIENT => {
                if factual {
                    out.hospital(person, date, "outpatient", None, Some(true));
                }
                PSSRU_2024.hospital_event("outpatient", None, true)
            }
            _ => {
                // Elective admissions.
                let stay = rng.random_range(0..=5);
                if factual {
                    out.hospital(
                        person,
                        date,
                        "elective_admission",
                        Some(date + Duration::days(stay)),
                        None,
                    );
                }
                PSSRU_2024.hospital_event("elective_admission", Some(stay), true)
            }
        }
    }

    /// Writes the rows the service does not affect; returns the ambulance conveyances among
    /// them (the same event on both paths) for the truth.
    fn draw_other_rows(
        &self,
        person: &Person,
        start: NaiveDate,
        end: NaiveDate,
        scale: f64,
        rng: &mut ChaCha8Rng,
        out: &mut Emitter,
    ) -> Vec<DemandEvent> {
        let mut conveyances = Vec::new();
        let span = (end - start).num_days();
        let gp_monthly = person.annual_rate[GP] / 12.0 * scale;
        let kinds: [(f64, &str); 5] = [
            (gp_monthly * 0.08, "dna"),
            (gp_monthly * 0.05, "cancelled"),
            (gp_monthly * 0.03, "admin"),
            (
                person.annual_rate[OUTPATIENT] / 12.0 * scale * 0.08,
                "outpatient_dna",
            ),
            (
                (0.04 + 0.02 * f64::from(person.ltc)) / 12.0 * scale,
                "ambulance",
            ),
        ];
        for (rate, kind) in kinds {
            let count = poisson_inverse_cdf(rng.random(), rate);
            for _ in 0..count {
                let date = start + Duration::days(rng.random_range(0..span));
                match kind {
                    "dna" | "cancelled" => {
                        let mode = pick_mode(rng);
                        out.gp(person, date, kind, "gp", mode, None);
                    }
                    "admin" => out.gp(person, date, "attended", "admin", "online", Some(5)),
                    "outpatient_dna" => out.hospital(person, date, "outpatient", None, Some(false)),
                    _ => {
                        out.hospital(person, date, "ambulance", None, None);
                        conveyances.push(DemandEvent {
                            measure: AMBULANCE,
                            date,
                            cost: PSSRU_2024.hospital_event("ambulance", None, true),
                            factual: true,
                        });
                    }
                }
            }
        }
        conveyances
    }

    fn draw_link_worker_contacts(
        &self,
        person: &Person,
        referral: &Referral,
        rng: &mut ChaCha8Rng,
        out: &mut Emitter,
    ) {
        let Some(first) = referral.first_contact else {
            return;
        };
        let last = referral
            .discharge
            .unwrap_or(first + Duration::days(120))
            .min(person.exit - Duration::days(1))
            .min(self.dates.data_end);
        let span = (last - first).num_days().max(0) + 1;
        for contact in 0..referral.contacts {
            let date = if contact == 0 {
                first
            } else {
                first + Duration::days(rng.random_range(0..span))
            };
            if date < person.exit && date <= self.dates.data_end {
                let mode = if rng.random::<f64>() < 0.6 {
                    "face_to_face"
                } else {
                    "telephone"
                };
                out.gp(
                    person,
                    date,
                    "attended",
                    "social_prescriber",
                    mode,
                    Some(rng.random_range(20..=60)),
                );
            }
        }
    }

    /// Baseline and follow-up questionnaires for the accepted referral. The follow-up's
    /// counterfactual (no service) uses the same draws without the latent shift; the truth
    /// records the mean difference per instrument among complete pairs.
    #[allow(clippy::too_many_arguments)]
    fn draw_questionnaires(
        &self,
        person: &Person,
        referral: &Referral,
        episodes: &[bool],
        eligible: bool,
        rng: &mut ChaCha8Rng,
        out: &mut Emitter,
        truth: &mut TruthPart,
    ) {
        if referral.first_contact.is_none() && rng.random::<f64>() > 0.4 {
            return;
        }
        let mut instruments = vec![["WEMWBS", "SWEMWBS", "ONS4"][person.practice % 3]];
        if referral.reasons.contains(&"loneliness_isolation") {
            instruments.push("UCLA3");
        }
        if referral.reasons.contains(&"mental_wellbeing") && rng.random::<f64>() < 0.5 {
            instruments.extend(["PHQ9", "GAD7"]);
        }
        let baseline_date = referral
            .first_contact
            .unwrap_or(referral.date + Duration::days(rng.random_range(0..=20)));
        let follow_up_share = match referral.status {
            "completed" => 0.70,
            "referred_on" => 0.50,
            "ongoing" => 0.40,
            _ => 0.15,
        };
        let follows_up = rng.random::<f64>() < follow_up_share;
        let follow_up_date = referral.date + Duration::days(rng.random_range(90..=300));
        let follow_up_ok =
            follows_up && follow_up_date < person.exit && follow_up_date <= self.dates.data_end;
        let episode_at = |date: NaiveDate| {
            if episodes[self.month_index(date).min(episodes.len() - 1)] {
                EPISODE_WELLBEING_DROP
            } else {
                0.0
            }
        };
        let baseline_latent = person.wellbeing - episode_at(baseline_date);
        let follow_up_latent = person.wellbeing - episode_at(follow_up_date);
        for code in instruments {
            let instrument = measures::instrument(code).expect("synth uses known instruments");
            let vendor_only = !matches!(instrument.scoring, Scoring::SeparateItems(_))
                && rng.random::<f64>() < 0.05;
            let baseline = Questionnaire::draw(instrument, baseline_latent, 0.0, rng);
            out.questionnaire(
                person,
                &referral.id,
                baseline_date,
                instrument,
                &baseline.items,
                vendor_only,
            );
            if !follow_up_ok {
                continue;
            }
            let noise = Questionnaire::noise(instrument, rng);
            let factual = Questionnaire::from_noise(
                instrument,
                follow_up_latent + self.wellbeing_shift,
                &noise,
                rng.random::<f64>() < 0.02,
            );
            let counterfactual =
                Questionnaire::from_noise(instrument, follow_up_latent, &noise, false);
            out.questionnaire(
                person,
                &referral.id,
                follow_up_date,
                instrument,
                &factual.items,
                false,
            );
            if eligible && baseline.complete() && factual.complete() {
                truth.add_wellbeing(instrument, &factual.items, &counterfactual.items);
            }
        }
    }

    fn draw_activities(
        &self,
        person: &Person,
        referral: &Referral,
        rng: &mut ChaCha8Rng,
        out: &mut Emitter,
    ) {
        let Some(first) = referral.first_contact else {
            return;
        };
        if referral.status == "did_not_engage" || rng.random::<f64>() > 0.65 {
            return;
        }
        let activity_type = activity_for(referral.reasons.first().copied().unwrap_or("other"), rng);
        let provider = PROVIDERS[rng.random_range(0..PROVIDERS.len())];
        let sessions = rng.random_range(1..=12);
        let linked = rng.random::<f64>() < 0.85;
        for session in 0..sessions {
            let date = first + Duration::days(7 + 7 * session);
            if date >= person.exit || date > self.dates.data_end {
                break;
            }
            let attended = rng.random::<f64>() < 0.85;
            out.activity(
                person,
                linked.then_some(referral.id.as_str()),
                date,
                activity_type,
                provider,
                attended,
            );
        }
    }
}

/// Coupled Poisson draw: the smallest k with CDF(k) >= u. Hand-written because the coupling
/// (one uniform for the factual and the counterfactual rate) needs inverse-CDF sampling,
/// which `rand_distr::Poisson` does not expose.
pub fn poisson_inverse_cdf(u: f64, rate: f64) -> u32 {
    if rate <= 0.0 {
        return 0;
    }
    let mut probability = (-rate).exp();
    let mut cumulative = probability;
    let mut k = 0;
    while u > cumulative && k < 1_000 {
        k += 1;
        probability *= rate / f64::from(k);
        cumulative += probability;
    }
    k
}

fn pick_mode(rng: &mut ChaCha8Rng) -> &'static str {
    match rng.random::<f64>() {
        u if u < 0.63 => "face_to_face",
        u if u < 0.88 => "telephone",
        u if u < 0.91 => "video",
        u if u < 0.94 => "online",
        u if u < 0.97 => "home_visit",
        _ => "unknown",
    }
}

const PROVIDERS: [&str; 12] = [
    "Northside Arts",
    "Citizens Advice",
    "Walking for Health",
    "Men's Shed",
    "Community Garden",
    "Age UK Befriending",
    "Library Learning",
    "Food Bank Volunteers",
    "Parkrun",
    "Peer Support Circle",
    "Green Gym",
    "Debt Advice Hub",
];

fn activity_for(reason: &str, rng: &mut ChaCha8Rng) -> &'static str {
    match reason {
        "physical_activity" | "long_term_condition" => {
            ["physical_activity", "nature_based"][rng.random_range(0..2)]
        }
        "loneliness_isolation" | "bereavement" => {
            ["befriending", "peer_support", "arts_creative"][rng.random_range(0..3)]
        }
        "financial" | "housing" | "employment" => {
            ["practical_advice", "learning", "volunteering"][rng.random_range(0..3)]
        }
        "mental_wellbeing" | "carer_support" => {
            ["arts_creative", "peer_support", "nature_based"][rng.random_range(0..3)]
        }
        _ => "other",
    }
}

/// A person's fixed characteristics.
pub struct Person {
    pub id: String,
    pub practice: usize,
    pub practice_code: String,
    pub year_of_birth: i32,
    pub sex: &'static str,
    pub ethnic_category: &'static str,
    pub imd_decile: Option<u8>,
    pub ltc: u8,
    pub ltc_recorded: bool,
    pub registered_from: NaiveDate,
    pub registered_to: Option<NaiveDate>,
    pub date_of_death: Option<NaiveDate>,
    /// First day not registered and alive (events stop before it).
    pub exit: NaiveDate,
    /// Latent wellbeing (SD units, higher is better).
    pub wellbeing: f64,
    pub annual_rate: [f64; 5],
}

impl Person {
    /// Registered and alive on `date`.
    fn registered_at(&self, date: NaiveDate) -> bool {
        date >= self.registered_from && date < self.exit
    }

    fn draw(world: &World, index: u64, rng: &mut ChaCha8Rng) -> Person {
        let practice = rng.random_range(0..world.practices.len());
        let age_at_start = match rng.random::<f64>() {
            u if u < 0.20 => rng.random_range(0..18),
            u if u < 0.50 => rng.random_range(18..40),
            u if u < 0.82 => rng.random_range(40..65),
            u if u < 0.97 => rng.random_range(65..85),
            _ => rng.random_range(85..100),
        };
        let year_of_birth = world.data_start.year() - age_at_start - rng.random_range(0..=1);
        let sex = match rng.random::<f64>() {
            u if u < 0.505 => "female",
            u if u < 0.995 => "male",
            u if u < 0.996 => "indeterminate",
            _ => "unknown",
        };
        let ethnic_category = pick_weighted(rng, &ETHNICITY);
        let imd_decile = (rng.random::<f64>() >= 0.03).then(|| rng.random_range(1..=10u8));
        let ltc_mean = if age_at_start < 18 {
            0.15
        } else {
            0.2 + f64::from(age_at_start) / 25.0
        };
        let ltc = poisson_inverse_cdf(rng.random(), ltc_mean).min(12) as u8;
        let ltc_recorded = rng.random::<f64>() >= 0.02;
        let deprived = imd_decile.is_some_and(|decile| decile <= 2);
        let wellbeing_noise: f64 = StandardNormal.sample(rng);
        let wellbeing = wellbeing_noise
            - 0.3 * f64::from(u8::from(ltc > 2))
            - 0.2 * f64::from(u8::from(deprived));

        let registered_from = if rng.random::<f64>() < 0.85 {
            let earliest =
                NaiveDate::from_ymd_opt(year_of_birth.max(1995), 1, 1).expect("valid date");
            let latest = NaiveDate::from_ymd_opt(2020, 12, 31).expect("valid date");
            let span = (latest - earliest).num_days().max(1);
            earliest + Duration::days(rng.random_range(0..span))
        } else {
            world.data_start + Duration::days(rng.random_range(0..1_700))
        };
        let mut registered_to = None;
        let mut date_of_death = None;
        let mut month_start = world.data_start;
        while month_start <= world.dates.data_end {
            let age = month_start.year() - year_of_birth;
            let monthly_death = monthly_death_hazard(age);
            let u: f64 = rng.random();
            let day = Duration::days(rng.random_range(0..28));
            if month_start + day > registered_from {
                if u < monthly_death {
                    date_of_death = Some(month_start + day);
                    break;
                } else if u < monthly_death + LEAVING_PER_MONTH {
                    registered_to = Some(month_start + day);
                    break;
                }
            }
            month_start = add_months(month_start, 1);
        }
        let exit = [
            registered_to,
            date_of_death,
            Some(world.dates.data_end + Duration::days(1)),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("data_end bounds exit");

        let common = Gamma::new(2.0, 0.5).expect("valid gamma").sample(rng);
        let mut annual_rate = [0.0; 5];
        let ltc_f = f64::from(ltc);
        let base = [
            5.0 + 1.5 * ltc_f + if age_at_start >= 65 { 2.0 } else { 0.0 },
            0.25 + 0.08 * ltc_f + if deprived { 0.1 } else { 0.0 },
            0.06 + 0.04 * ltc_f + if age_at_start >= 75 { 0.05 } else { 0.0 },
            0.8 + 0.5 * ltc_f,
            0.04 + 0.02 * ltc_f,
        ];
        for (rate, base) in annual_rate.iter_mut().zip(base) {
            let specific = Gamma::new(4.0, 0.25).expect("valid gamma").sample(rng);
            *rate = base * common * specific;
        }
        Person {
            id: format!("P{:07}", index + 1),
            practice,
            practice_code: world.practices[practice].clone(),
            year_of_birth,
            sex,
            ethnic_category,
            imd_decile,
            ltc,
            ltc_recorded,
            registered_from,
            registered_to,
            date_of_death,
            exit,
            wellbeing,
            annual_rate,
        }
    }
}

/// NHS ethnic categories with rough England shares (blank = not known).
const ETHNICITY: [(&str, f64); 19] = [
    ("A", 0.735),
    ("B", 0.01),
    ("C", 0.06),
    ("D", 0.006),
    ("E", 0.004),
    ("F", 0.006),
    ("G", 0.006),
    ("H", 0.03),
    ("J", 0.02),
    ("K", 0.01),
    ("L", 0.015),
    ("M", 0.01),
    ("N", 0.02),
    ("P", 0.005),
    ("R", 0.007),
    ("S", 0.016),
    ("Z", 0.02),
    ("99", 0.005),
    ("", 0.015),
];

fn pick_weighted(rng: &mut ChaCha8Rng, choices: &[(&'static str, f64)]) -> &'static str {
    let total: f64 = choices.iter().map(|(_, weight)| weight).sum();
    let mut u = rng.random::<f64>() * total;
    for (choice, weight) in choices {
        if u < *weight {
            return choice;
        }
        u -= weight;
    }
    choices[choices.len() - 1].0
}

#[derive(Clone)]
pub struct Referral {
    pub id: String,
    pub date: NaiveDate,
    pub declined: bool,
    pub source: &'static str,
    pub reasons: Vec<&'static str>,
    pub first_contact: Option<NaiveDate>,
    pub discharge: Option<NaiveDate>,
    pub contacts: u32,
    pub status: &'static str,
}

const REASONS: [(&str, f64); 10] = [
    ("mental_wellbeing", 0.32),
    ("loneliness_isolation", 0.18),
    ("physical_activity", 0.08),
    ("long_term_condition", 0.10),
    ("financial", 0.10),
    ("housing", 0.06),
    ("employment", 0.04),
    ("carer_support", 0.04),
    ("bereavement", 0.04),
    ("other", 0.04),
];

const SOURCES: [(&str, f64); 8] = [
    ("gp", 0.55),
    ("nurse", 0.12),
    ("other_primary_care", 0.08),
    ("secondary_care", 0.05),
    ("local_authority", 0.06),
    ("vcse", 0.06),
    ("self", 0.06),
    ("other", 0.02),
];

impl Referral {
    fn draw(
        world: &World,
        person: &Person,
        date: NaiveDate,
        ordinal: usize,
        already_accepted: bool,
        rng: &mut ChaCha8Rng,
    ) -> Referral {
        let declined = !already_accepted && rng.random::<f64>() < DECLINE_SHARE;
        let mut reasons = vec![pick_weighted(rng, &REASONS)];
        for _ in 0..rng.random_range(0..=2) {
            let reason = pick_weighted(rng, &REASONS);
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
        let status = if declined {
            "declined"
        } else {
            match rng.random::<f64>() {
                u if u < 0.55 => "completed",
                u if u < 0.65 => "ongoing",
                u if u < 0.85 => "did_not_engage",
                _ => "referred_on",
            }
        };
        let contacted = !declined && (status != "did_not_engage" || rng.random::<f64>() < 0.3);
        let first_contact = contacted.then(|| date + Duration::days(rng.random_range(2..=21)));
        let discharge = match (status, first_contact) {
            ("completed" | "referred_on", Some(first)) => {
                Some(first + Duration::days(rng.random_range(30..=180)))
            }
            _ => None,
        }
        .filter(|discharge| *discharge <= world.dates.data_end);
        let contacts = match status {
            "completed" => rng.random_range(3..=12),
            "ongoing" => rng.random_range(1..=6),
            "referred_on" => rng.random_range(1..=4),
            "did_not_engage" => u32::from(contacted),
            _ => 0,
        };
        Referral {
            id: format!("R{}-{}", &person.id[1..], ordinal + 1),
            date,
            declined,
            source: pick_weighted(rng, &SOURCES),
            reasons,
            first_contact: first_contact
                .filter(|first| *first < person.exit && *first <= world.dates.data_end),
            discharge: discharge.filter(|discharge| *discharge < person.exit),
            contacts,
            status,
        }
    }
}

/// Item responses of one questionnaire (None = item left blank).
struct Questionnaire {
    items: Vec<Option<i32>>,
}

impl Questionnaire {
    /// Per-item noise, drawn once so factual and counterfactual share it.
    fn noise(instrument: &Instrument, rng: &mut ChaCha8Rng) -> Vec<f64> {
        (0..instrument.items)
            .map(|_| StandardNormal.sample(rng))
            .collect()
    }

    fn draw(
        instrument: &Instrument,
        latent: f64,
        shift: f64,
        rng: &mut ChaCha8Rng,
    ) -> Questionnaire {
        let noise = Questionnaire::noise(instrument, rng);
        let drop_item = rng.random::<f64>() < 0.02;
        Questionnaire::from_noise(instrument, latent + shift, &noise, drop_item)
    }

    /// Items from latent wellbeing: each response is centre + slope x latent + 0.6 x noise,
    /// rounded and clamped to the item range; "higher is worse" scales (and ONS4 anxiety)
    /// respond to the negative of wellbeing.
    fn from_noise(
        instrument: &Instrument,
        latent: f64,
        noise: &[f64],
        drop_item: bool,
    ) -> Questionnaire {
        let (centre, slope) = match instrument.code {
            "ONS4" => (7.0, 1.8),
            "UCLA3" => (1.7, 0.5),
            "PHQ9" | "GAD7" => (0.9, 0.7),
            _ => (3.2, 0.75),
        };
        let item_names = match instrument.scoring {
            Scoring::SeparateItems(names) => Some(names),
            _ => None,
        };
        let items = noise
            .iter()
            .enumerate()
            .map(|(position, noise)| {
                let item = item_names.map(|names| names[position]);
                // ONS4 anxiety is centred lower than the other ONS4 items (UK mean 3.23).
                let centre = if item == Some("anxiety") { 3.2 } else { centre };
                let direction = if measures::higher_is_better(instrument, item) {
                    1.0
                } else {
                    -1.0
                };
                let value = centre + direction * slope * latent + 0.6 * slope.max(0.75) * noise;
                let value = value.round().clamp(
                    f64::from(instrument.item_min),
                    f64::from(instrument.item_max),
                );
                Some(value as i32)
            })
            .collect::<Vec<_>>();
        let mut questionnaire = Questionnaire { items };
        if drop_item {
            let last = questionnaire.items.len() - 1;
            questionnaire.items[last] = None;
        }
        questionnaire
    }

    fn complete(&self) -> bool {
        self.items.iter().all(Option::is_some)
    }
}

/// One demand event of the counterfactual path (`factual`: it happened with the service too).
pub struct DemandEvent {
    measure: usize,
    date: NaiveDate,
    cost: f64,
    factual: bool,
}

/// Factual and counterfactual costs and counts of an eligible treated person, by measure and
/// relative month.
#[derive(Default)]
pub struct Paths {
    /// (measure, relative month, cost, factual?)
    pub events: Vec<(usize, i32, f64, bool)>,
}

impl Paths {
    /// The follow-up events of a person indexed on `index`: follow-up starts the day after
    /// the index date, as in the analysis (an index-day event is neither group's outcome).
    fn follow_up(events: &[DemandEvent], index: NaiveDate) -> Paths {
        Paths {
            events: events
                .iter()
                .filter(|event| event.date > index)
                .map(|event| {
                    let month = relative_month(index, event.date);
                    (event.measure, month, event.cost, event.factual)
                })
                .collect(),
        }
    }
}

/// Formats rows for the six extracts into per-chunk CSV buffers, with defect injection.
pub struct Emitter {
    pub files: Vec<Vec<u8>>,
    pub rows: [u64; 6],
    pub defects: Defects,
    row: Vec<String>,
}

impl Emitter {
    fn new(defect_rate: f64, defect_seed: u64) -> Self {
        Emitter {
            files: vec![Vec::new(); FILES.len()],
            rows: [0; 6],
            defects: Defects::new(defect_rate, defect_seed),
            row: Vec::new(),
        }
    }

    fn start(&mut self, fields: usize) {
        self.row.resize(fields, String::new());
        for field in &mut self.row {
            field.clear();
        }
    }

    fn set(&mut self, position: usize, value: impl std::fmt::Display) {
        let _ = write!(self.row[position], "{value}");
    }

    fn emit(&mut self, file: usize) {
        write_csv_row(&mut self.files[file], &self.row);
        self.rows[file] += 1;
        if let Some(defective) = self.defects.maybe_inject(file, &self.row) {
            write_csv_row(&mut self.files[file], &defective);
        }
    }

    fn patient(&mut self, person: &Person) {
        self.start(10);
        self.set(0, &person.id);
        self.set(1, &person.practice_code);
        self.set(2, person.year_of_birth);
        self.set(3, person.sex);
        self.set(4, person.ethnic_category);
        if let Some(decile) = person.imd_decile {
            self.set(5, decile);
        }
        if person.ltc_recorded {
            self.set(6, person.ltc);
        }
        self.set(7, person.registered_from);
        if let Some(to) = person.registered_to {
            self.set(8, to);
        }
        if let Some(death) = person.date_of_death {
            self.set(9, death);
        }
        self.emit(0);
    }

    fn referral(&mut self, person: &Person, referral: &Referral) {
        self.start(10);
        self.set(0, &referral.id);
        self.set(1, &person.id);
        self.set(2, referral.date);
        self.set(
            3,
            if referral.declined {
                SNOMED_DECLINED
            } else {
                SNOMED_REFERRAL
            },
        );
        self.set(4, referral.source);
        self.set(5, referral.reasons.join(";"));
        if let Some(first) = referral.first_contact {
            self.set(6, first);
        }
        if let Some(discharge) = referral.discharge {
            self.set(7, discharge);
        }
        self.set(8, referral.contacts);
        self.set(9, referral.status);
        self.emit(1);
    }

    fn questionnaire(
        &mut self,
        person: &Person,
        referral: &str,
        date: NaiveDate,
        instrument: &Instrument,
        items: &[Option<i32>],
        vendor_only: bool,
    ) {
        self.start(19);
        self.set(0, &person.id);
        self.set(1, referral);
        self.set(2, date);
        self.set(3, instrument.code);
        if vendor_only {
            if let Some(score) = instrument.score(items) {
                self.set(18, score);
            } else {
                return self.questionnaire(person, referral, date, instrument, items, false);
            }
        } else {
            for (position, item) in items.iter().enumerate() {
                if let Some(value) = item {
                    self.set(4 + position, value);
                }
            }
        }
        self.emit(2);
    }

    fn gp(
        &mut self,
        person: &Person,
        date: NaiveDate,
        status: &str,
        hcp: &str,
        mode: &str,
        duration: Option<u32>,
    ) {
        self.start(6);
        self.set(0, &person.id);
        self.set(1, date);
        self.set(2, status);
        self.set(3, hcp);
        self.set(4, mode);
        if let Some(minutes) = duration {
            self.set(5, minutes);
        }
        self.emit(3);
    }

    fn hospital(
        &mut self,
        person: &Person,
        date: NaiveDate,
        setting: &str,
        discharge: Option<NaiveDate>,
        attended: Option<bool>,
    ) {
        self.start(5);
        self.set(0, &person.id);
        self.set(1, date);
        self.set(2, setting);
        if let Some(discharge) = discharge {
            self.set(3, discharge);
        }
        if let Some(attended) = attended {
            self.set(4, attended);
        }
        self.emit(4);
    }

    fn activity(
        &mut self,
        person: &Person,
        referral: Option<&str>,
        date: NaiveDate,
        activity_type: &str,
        provider: &str,
        attended: bool,
    ) {
        self.start(6);
        self.set(0, &person.id);
        if let Some(referral) = referral {
            self.set(1, referral);
        }
        self.set(2, date);
        self.set(3, activity_type);
        self.set(4, provider);
        self.set(5, attended);
        self.emit(5);
    }
}

/// Appends one CSV row; fields are quoted only when they need it.
fn write_csv_row(buffer: &mut Vec<u8>, fields: &[String]) {
    for (position, field) in fields.iter().enumerate() {
        if position > 0 {
            buffer.push(b',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            buffer.push(b'"');
            buffer.extend_from_slice(field.replace('"', "\"\"").as_bytes());
            buffer.push(b'"');
        } else {
            buffer.extend_from_slice(field.as_bytes());
        }
    }
    buffer.push(b'\n');
}
