-- model: placebo_periods
-- grain: one row per analysis person whose data allow a placebo index 12 months before the real one
-- depends_on: analysis_cohort, stg_patients, stg_events, study_params
-- key: person_id
-- test: expression(placebo_pre_days > 0 and placebo_post_days > 0)
-- The regression-to-the-mean placebo (design section 5; methods.md section 3): the index is
-- moved 12 months earlier and the same wash-out applied, so the placebo "post" period is the
-- real months -12 .. -(washout+1) and its baseline the real months -24 .. -(13+washout); both
-- end before the real referral peak. The data allow it when the person was registered and
-- the extracts had begun 24 months before the real index (the earliest event in the data
-- stands for the extracts' start). Any "effect" found here is bias, not benefit.

with

params as (select washout_months from study_params),

data_start as (select min(event_date) as first_event_date from stg_events),

cohort as (
    select
        analysis_cohort.person_id,
        analysis_cohort.index_date,
        add_months(analysis_cohort.index_date, -24) as pre_start,
        add_months(analysis_cohort.index_date, -(12 + params.washout_months)) as pre_end,
        add_months(analysis_cohort.index_date, -12) as post_start,
        add_months(analysis_cohort.index_date, -params.washout_months) as post_end
    from analysis_cohort
    inner join stg_patients on analysis_cohort.person_id = stg_patients.person_id
    cross join params
    cross join data_start
    where stg_patients.registered_from <= add_months(analysis_cohort.index_date, -24)
        and data_start.first_event_date <= add_months(analysis_cohort.index_date, -24)
),

events as (
    select
        cohort.person_id,
        sum(case when stg_events.event_date < cohort.pre_end and stg_events.measure = 'gp_demand' then 1 else 0 end) as gp_demand_pre,
        sum(case when stg_events.event_date >= cohort.post_start and stg_events.measure = 'gp_demand' then 1 else 0 end) as gp_demand_post,
        sum(case when stg_events.event_date < cohort.pre_end and stg_events.measure = 'ae_attendances' then 1 else 0 end) as ae_attendances_pre,
        sum(case when stg_events.event_date >= cohort.post_start and stg_events.measure = 'ae_attendances' then 1 else 0 end) as ae_attendances_post,
        sum(case when stg_events.event_date < cohort.pre_end and stg_events.measure = 'emergency_admissions' then 1 else 0 end) as emergency_admissions_pre,
        sum(case when stg_events.event_date >= cohort.post_start and stg_events.measure = 'emergency_admissions' then 1 else 0 end) as emergency_admissions_post,
        sum(case when stg_events.event_date < cohort.pre_end and stg_events.measure = 'outpatient_attendances' then 1 else 0 end) as outpatient_attendances_pre,
        sum(case when stg_events.event_date >= cohort.post_start and stg_events.measure = 'outpatient_attendances' then 1 else 0 end) as outpatient_attendances_post,
        sum(case when stg_events.event_date < cohort.pre_end and stg_events.measure = 'elective_admissions' then 1 else 0 end) as elective_admissions_pre,
        sum(case when stg_events.event_date >= cohort.post_start and stg_events.measure = 'elective_admissions' then 1 else 0 end) as elective_admissions_post
    from cohort
    inner join stg_events on cohort.person_id = stg_events.person_id
    where (stg_events.event_date >= cohort.pre_start and stg_events.event_date < cohort.pre_end)
        or (stg_events.event_date >= cohort.post_start and stg_events.event_date < cohort.post_end)
    group by cohort.person_id
),

final as (
    select
        cohort.person_id,
        cast(cohort.pre_end as int) - cast(cohort.pre_start as int) as placebo_pre_days,
        cast(cohort.post_end as int) - cast(cohort.post_start as int) as placebo_post_days,
        coalesce(events.gp_demand_pre, 0) as gp_demand_pre,
        coalesce(events.gp_demand_post, 0) as gp_demand_post,
        coalesce(events.ae_attendances_pre, 0) as ae_attendances_pre,
        coalesce(events.ae_attendances_post, 0) as ae_attendances_post,
        coalesce(events.emergency_admissions_pre, 0) as emergency_admissions_pre,
        coalesce(events.emergency_admissions_post, 0) as emergency_admissions_post,
        coalesce(events.outpatient_attendances_pre, 0) as outpatient_attendances_pre,
        coalesce(events.outpatient_attendances_post, 0) as outpatient_attendances_post,
        coalesce(events.elective_admissions_pre, 0) as elective_admissions_pre,
        coalesce(events.elective_admissions_post, 0) as elective_admissions_post
    from cohort
    left join events on cohort.person_id = events.person_id
)

select * from final
