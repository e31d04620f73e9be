//! Unit costs and the rule that costs each service-use event.
//!
//! Values: PSSRU *Unit Costs of Health and Social Care 2024* (Jones et al. 2025, 2023/24
//! prices) and the NHS National Cost Collection 2023/24, as listed in design section 5 and
//! domain.md section 4.1-4.2. The costing rules (design section 5): a GP appointment costs
//! £4.47 per minute of recorded duration, £45 when duration is missing; nurse and other
//! clinical staff £47 per hour of recorded duration, 15 minutes when missing; an emergency
//! admission £792 when length of stay is under 2 days, else £5,134; outpatient attendances
//! only when attended. The link worker's own appointments are programme cost, never demand.

/// One unit-cost table with its provenance.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnitCosts {
    pub name: &'static str,
    pub price_year: &'static str,
    pub source: &'static str,
    pub gp_per_minute_gbp: f64,
    pub gp_consultation_gbp: f64,
    pub nurse_per_hour_gbp: f64,
    pub nurse_default_minutes: f64,
    pub ae_attendance_gbp: f64,
    pub emergency_short_stay_gbp: f64,
    pub emergency_long_stay_gbp: f64,
    pub elective_admission_gbp: f64,
    pub outpatient_attendance_gbp: f64,
    pub ambulance_see_and_convey_gbp: f64,
}

/// PSSRU 2024 manual and NCC 2023/24 (2023/24 prices).
pub const PSSRU_2024: UnitCosts = UnitCosts {
    name: "pssru-2024",
    price_year: "2023/24",
    source: "PSSRU Unit Costs of Health and Social Care 2024 (doi 10.22024/UniKent/01.02.109563); \
             NHS National Cost Collection 2023/24",
    gp_per_minute_gbp: 4.47,
    gp_consultation_gbp: 45.0,
    nurse_per_hour_gbp: 47.0,
    nurse_default_minutes: 15.0,
    ae_attendance_gbp: 273.0,
    emergency_short_stay_gbp: 792.0,
    emergency_long_stay_gbp: 5134.0,
    elective_admission_gbp: 6215.0,
    outpatient_attendance_gbp: 198.0,
    ambulance_see_and_convey_gbp: 459.0,
};

/// Length of stay (days) from which an emergency admission is a long stay.
pub const LONG_STAY_FROM_DAYS: i64 = 2;

impl UnitCosts {
    /// Cost of one attended GP-demand appointment (`hcp_type` gp, nurse or other_clinical);
    /// zero for any other clinician type.
    pub fn gp_appointment(&self, hcp_type: &str, duration_minutes: Option<u32>) -> f64 {
        match hcp_type {
            "gp" => duration_minutes.map_or(self.gp_consultation_gbp, |minutes| {
                f64::from(minutes) * self.gp_per_minute_gbp
            }),
            "nurse" | "other_clinical" => {
                let minutes = duration_minutes.map_or(self.nurse_default_minutes, f64::from);
                minutes / 60.0 * self.nurse_per_hour_gbp
            }
            _ => 0.0,
        }
    }

    /// Cost of one hospital event by setting; admissions by length of stay (an emergency
    /// admission with unknown length of stay is costed as a short stay).
    pub fn hospital_event(
        &self,
        setting: &str,
        length_of_stay_days: Option<i64>,
        attended: bool,
    ) -> f64 {
        match setting {
            "ae" => self.ae_attendance_gbp,
            "emergency_admission" => match length_of_stay_days {
                Some(days) if days >= LONG_STAY_FROM_DAYS => self.emergency_long_stay_gbp,
                _ => self.emergency_short_stay_gbp,
            },
            "elective_admission" => self.elective_admission_gbp,
            "outpatient" if attended => self.outpatient_attendance_gbp,
            "ambulance" => self.ambulance_see_and_convey_gbp,
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costing_rules_follow_the_design() {
        let costs = PSSRU_2024;
        assert_eq!(costs.gp_appointment("gp", None), 45.0);
        assert!((costs.gp_appointment("gp", Some(12)) - 53.64).abs() < 1e-12);
        assert!((costs.gp_appointment("nurse", None) - 11.75).abs() < 1e-12);
        assert!((costs.gp_appointment("other_clinical", Some(30)) - 23.5).abs() < 1e-12);
        assert_eq!(costs.gp_appointment("social_prescriber", Some(45)), 0.0);
        assert_eq!(
            costs.hospital_event("emergency_admission", Some(1), true),
            792.0
        );
        assert_eq!(
            costs.hospital_event("emergency_admission", Some(2), true),
            5134.0
        );
        assert_eq!(costs.hospital_event("outpatient", None, false), 0.0);
    }
}
