-- model: matching_covariates
-- grain: one row per analysis person
-- depends_on: person_month_use, analysis_cohort
-- key: person_id
-- test: relationships(person_id -> analysis_cohort.person_id)
-- The propensity model's service-use covariates, with the demographics from analysis_cohort:
-- GP demand, A&E attendances and emergency admissions in the three months before the index
-- (-3..-1, where a referral peak shows), in the nine months before that (-12..-4) and in the
-- year before that (-24..-13; zero when the look-back is shorter).
-- Which of them the propensity model uses is `match_on_prior_use` (estimate/comparison.rs);
-- the others are balance diagnostics. These three are the design's choice of covariates,
-- not every measure of the registry.

with

months as (select * from person_month_use where relative_month < 0),

use as (
    select
        person_id,
        sum(case when relative_month >= -3 and measure = 'gp_demand' then events else 0 end) as gp_demand_m3_m1,
        sum(case when relative_month >= -3 and measure = 'ae_attendances' then events else 0 end) as ae_attendances_m3_m1,
        sum(case when relative_month >= -3 and measure = 'emergency_admissions' then events else 0 end) as emergency_admissions_m3_m1,
        sum(case when relative_month >= -12 and relative_month < -3 and measure = 'gp_demand' then events else 0 end) as gp_demand_baseline,
        sum(case when relative_month >= -12 and relative_month < -3 and measure = 'ae_attendances' then events else 0 end) as ae_attendances_baseline,
        sum(case when relative_month >= -12 and relative_month < -3 and measure = 'emergency_admissions' then events else 0 end) as emergency_admissions_baseline,
        sum(case when relative_month >= -24 and relative_month < -12 and measure = 'gp_demand' then events else 0 end) as gp_demand_m24_m13,
        sum(case when relative_month >= -24 and relative_month < -12 and measure = 'ae_attendances' then events else 0 end) as ae_attendances_m24_m13,
        sum(case when relative_month >= -24 and relative_month < -12 and measure = 'emergency_admissions' then events else 0 end) as emergency_admissions_m24_m13
    from months
    group by person_id
),

final as (
    select
        cohort.person_id,
        cohort.group_name,
        cohort.index_quarter,
        cohort.practice_code,
        cohort.age_at_index,
        cohort.age_band,
        cohort.sex,
        cohort.imd_quintile,
        cohort.ethnic_group,
        cohort.ltc_count,
        coalesce(use.gp_demand_m3_m1, 0) as gp_demand_m3_m1,
        coalesce(use.ae_attendances_m3_m1, 0) as ae_attendances_m3_m1,
        coalesce(use.emergency_admissions_m3_m1, 0) as emergency_admissions_m3_m1,
        coalesce(use.gp_demand_baseline, 0) as gp_demand_baseline,
        coalesce(use.ae_attendances_baseline, 0) as ae_attendances_baseline,
        coalesce(use.emergency_admissions_baseline, 0) as emergency_admissions_baseline,
        coalesce(use.gp_demand_m24_m13, 0) as gp_demand_m24_m13,
        coalesce(use.ae_attendances_m24_m13, 0) as ae_attendances_m24_m13,
        coalesce(use.emergency_admissions_m24_m13, 0) as emergency_admissions_m24_m13
    from analysis_cohort as cohort
    left join use on cohort.person_id = use.person_id
)

select * from final
