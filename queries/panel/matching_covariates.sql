-- model: matching_covariates
-- grain: one row per analysis person
-- depends_on: person_months, analysis_cohort, study_params
-- key: person_id
-- test: relationships(person_id -> analysis_cohort.person_id)
-- The propensity model's service-use covariates (design section 5), with the demographics
-- from analysis_cohort: GP demand in months -3..-1 (the referral peak) and in the baseline
-- before it (months before -max(washout_months, 3)), and A&E attendances and emergency
-- admissions in the baseline (months before -washout_months; with no wash-out, all 12).
-- With a wash-out all of them are balance diagnostics only, not matched on (estimate/comparison.rs).

with

params as (select washout_months from study_params),

months as (select * from person_months where relative_month < 0),

use as (
    select
        months.person_id,
        sum(case when months.relative_month >= -3 then months.gp_demand else 0 end) as gp_demand_m3_m1,
        sum(case when months.relative_month < -greatest(params.washout_months, 3) then months.gp_demand else 0 end) as gp_demand_baseline,
        sum(case when months.relative_month < -params.washout_months then months.ae_attendances else 0 end) as ae_attendances_baseline,
        sum(case when months.relative_month < -params.washout_months then months.emergency_admissions else 0 end) as emergency_admissions_baseline
    from months
    cross join params
    group by months.person_id
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
        coalesce(use.gp_demand_baseline, 0) as gp_demand_baseline,
        coalesce(use.ae_attendances_baseline, 0) as ae_attendances_baseline,
        coalesce(use.emergency_admissions_baseline, 0) as emergency_admissions_baseline
    from analysis_cohort as cohort
    left join use on cohort.person_id = use.person_id
)

select * from final
