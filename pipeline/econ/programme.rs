//! Programme cost per person referred: either a flat cost per referral, or a staffing model
//! (`[costs.programme]` in study.toml; docs/domain.md, Unit costs).
//!
//! Staffing model, per year:
//!   cost = FTE × (salary × (1 + on-cost rate) + overheads per FTE) + grants to community groups
//!   people supported = FTE × caseload per FTE
//!   cost per person = cost / people supported
//! Defaults, all at 2023/24 prices (PSSRU 2024 manual, Jones et al. 2025):
//! - salary: mean basic pay per FTE 2023/24, Agenda for Change Band 4 £25,562, Band 5 £31,609
//!   (nursing); other bands need `salary_gbp`;
//! - on-costs 32% of salary (PSSRU practice nurse: £10,119 on £31,609);
//! - overheads and capital £30,887 per FTE: the PSSRU practice nurse (Band 5) working hour
//!   excluding qualifications, £47 × 1,545 hours = £72,615, less salary and on-costs £41,728;
//! - caseload 225 people per FTE per year (link workers typically support 200-250; see
//!   docs/domain.md, Referral codes);
//! - grants 0.
//!
//! With every default (Band 5, 1 FTE) the cost per person is £322.72.

use serde::{Deserialize, Serialize};

/// PSSRU 2024 mean basic pay per FTE, 2023/24 (nursing), by Agenda for Change band.
pub const BAND_SALARY_GBP: [(u8, f64); 2] = [(4, 25_562.0), (5, 31_609.0)];
pub const DEFAULT_BAND: u8 = 5;
pub const DEFAULT_ON_COST_RATE: f64 = 0.32;
pub const DEFAULT_OVERHEADS_GBP_PER_FTE: f64 = 47.0 * 1545.0 - (31_609.0 + 10_119.0);
pub const DEFAULT_CASELOAD_PER_FTE: f64 = 225.0;
/// The price year of the staffing defaults.
pub const STAFFING_PRICE_YEAR: &str = "2023/24";

/// A link-worker staffing model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Staffing {
    pub link_worker_fte: f64,
    pub band: u8,
    pub salary_gbp: f64,
    pub on_cost_rate: f64,
    pub overheads_gbp_per_fte: f64,
    pub caseload_per_fte: f64,
    pub grants_gbp_per_year: f64,
}

impl Staffing {
    /// The default staffing model (one Band 5 FTE, PSSRU 2024 on-costs and overheads, 225
    /// people a year, no grants), at 2023/24 prices.
    pub fn default_band_5() -> Staffing {
        Staffing {
            link_worker_fte: 1.0,
            band: DEFAULT_BAND,
            salary_gbp: BAND_SALARY_GBP[1].1,
            on_cost_rate: DEFAULT_ON_COST_RATE,
            overheads_gbp_per_fte: DEFAULT_OVERHEADS_GBP_PER_FTE,
            caseload_per_fte: DEFAULT_CASELOAD_PER_FTE,
            grants_gbp_per_year: 0.0,
        }
    }

    /// The caseload per FTE at which this staffing model costs `cost_per_person_gbp` (at the
    /// same prices as `uprating_factor` takes the model to); None when no caseload does (a
    /// cost of zero or less).
    pub fn caseload_for_cost(&self, cost_per_person_gbp: f64, uprating_factor: f64) -> Option<f64> {
        (cost_per_person_gbp > 0.0 && self.link_worker_fte > 0.0).then(|| {
            self.annual_cost_gbp() * uprating_factor / (self.link_worker_fte * cost_per_person_gbp)
        })
    }

    pub fn annual_cost_gbp(&self) -> f64 {
        self.link_worker_fte
            * (self.salary_gbp * (1.0 + self.on_cost_rate) + self.overheads_gbp_per_fte)
            + self.grants_gbp_per_year
    }

    pub fn people_per_year(&self) -> f64 {
        self.link_worker_fte * self.caseload_per_fte
    }

    pub fn cost_per_person_gbp(&self) -> f64 {
        self.annual_cost_gbp() / self.people_per_year()
    }
}

/// What a service's total cost is divided by to give a cost per person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CostDivisor {
    /// People with an accepted referral in the study window, each once (the default): what
    /// supporting one person costs, on the same footing as the savings per person referred.
    Accepted,
    /// Every referral made in the window, declined and repeated ones included (link-worker
    /// time goes to those too): a lower cost per referral.
    Referrals,
}

impl CostDivisor {
    pub fn describe(self) -> &'static str {
        match self {
            CostDivisor::Accepted => "people accepted",
            CostDivisor::Referrals => "referrals, declined and repeated ones included",
        }
    }
}

/// How the programme cost per person was arrived at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum ProgrammeCost {
    /// A cost per person referred, given in the study's price year.
    PerReferral { cost_per_person_gbp: f64 },
    /// A staffing model; `uprating_factor` takes its 2023/24 defaults to the study's price year.
    Staffing {
        staffing: Staffing,
        uprating_factor: f64,
        cost_per_person_gbp: f64,
    },
    /// The service's total cost over the study window, in the study's price year, divided by
    /// the people accepted (or the referrals) in the window. `people` and the cost per person
    /// are known only once the models have run (`with_people`).
    Total {
        total_gbp: f64,
        divided_by: CostDivisor,
        people: Option<u64>,
        cost_per_person_gbp: Option<f64>,
    },
}

impl ProgrammeCost {
    pub fn staffing(staffing: Staffing, uprating_factor: f64) -> ProgrammeCost {
        let cost_per_person_gbp = staffing.cost_per_person_gbp() * uprating_factor;
        ProgrammeCost::Staffing {
            staffing,
            uprating_factor,
            cost_per_person_gbp,
        }
    }

    /// The cost per person; None for a total cost not yet divided (or with nobody to divide
    /// it among).
    pub fn per_person_gbp(&self) -> Option<f64> {
        match self {
            ProgrammeCost::PerReferral {
                cost_per_person_gbp,
            }
            | ProgrammeCost::Staffing {
                cost_per_person_gbp,
                ..
            } => Some(*cost_per_person_gbp),
            ProgrammeCost::Total {
                cost_per_person_gbp,
                ..
            } => *cost_per_person_gbp,
        }
    }

    /// A total cost divided among `people` (the other bases are returned unchanged).
    pub fn with_people(&self, people: u64) -> ProgrammeCost {
        match self {
            ProgrammeCost::Total {
                total_gbp,
                divided_by,
                ..
            } => ProgrammeCost::Total {
                total_gbp: *total_gbp,
                divided_by: *divided_by,
                people: Some(people),
                cost_per_person_gbp: (people > 0).then(|| total_gbp / people as f64),
            },
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staffing_defaults_give_the_documented_cost_per_person() {
        let staffing = Staffing {
            link_worker_fte: 1.0,
            band: DEFAULT_BAND,
            salary_gbp: 31_609.0,
            on_cost_rate: DEFAULT_ON_COST_RATE,
            overheads_gbp_per_fte: DEFAULT_OVERHEADS_GBP_PER_FTE,
            caseload_per_fte: DEFAULT_CASELOAD_PER_FTE,
            grants_gbp_per_year: 0.0,
        };
        assert!((DEFAULT_OVERHEADS_GBP_PER_FTE - 30_887.0).abs() < 1e-12);
        // (31,609 × 1.32 + 30,887) / 225 = 72,610.88 / 225
        let expected = (31_609.0 * 1.32 + 30_887.0) / 225.0;
        assert!((staffing.cost_per_person_gbp() - expected).abs() < 1e-12);
        assert!((expected - 322.7150222222).abs() < 1e-9);
        // Two link workers and £20,000 of grants to community groups, uprated by 10%.
        let bigger = Staffing {
            link_worker_fte: 2.0,
            grants_gbp_per_year: 20_000.0,
            ..staffing
        };
        let cost = ProgrammeCost::staffing(bigger.clone(), 1.1);
        let expected = (2.0 * (31_609.0 * 1.32 + 30_887.0) + 20_000.0) / 450.0 * 1.1;
        assert!((cost.per_person_gbp().unwrap() - expected).abs() < 1e-12);
        // The caseload at which the model costs a given amount inverts the cost per person.
        let caseload = bigger.caseload_for_cost(expected, 1.1).unwrap();
        assert!((caseload - 225.0).abs() < 1e-9);
        assert_eq!(bigger.caseload_for_cost(0.0, 1.1), None);
        assert_eq!(Staffing::default_band_5(), staffing);
    }

    #[test]
    fn a_total_cost_is_divided_among_the_people_the_data_show() {
        let total = ProgrammeCost::Total {
            total_gbp: 90_000.0,
            divided_by: CostDivisor::Accepted,
            people: None,
            cost_per_person_gbp: None,
        };
        assert_eq!(total.per_person_gbp(), None);
        assert_eq!(total.with_people(180).per_person_gbp(), Some(500.0));
        assert_eq!(total.with_people(0).per_person_gbp(), None);
        let flat = ProgrammeCost::PerReferral {
            cost_per_person_gbp: 466.0,
        };
        assert_eq!(flat.with_people(180), flat);
    }
}
