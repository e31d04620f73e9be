-- model: placebo_periods
-- grain: one row per analysis person whose data cover the DiD baseline window
-- depends_on: analysis_cohort, stg_patients, stg_events, study_params
-- key: person_id
-- test: expression(placebo_pre_days > 0 and placebo_post_days > 0)
-- The placebo: the DiD repeated inside the baseline window, before anyone was referred and
-- before anything the design matches on or washes out. The baseline months
-- -(washout + baseline)..-(washout + 1) are split in two: the first half is the placebo's
-- "before", the second its "after" (with the default design: months -24..-19 against
-- -18..-13). A rate ratio away from 1 is a difference in pre-existing trends, which the DiD
-- assumes away; it cannot see regression to the mean from the referral peak itself. Data
-- allow it when the baseline has at least two months, and the person was registered and the
-- extracts had begun by the window's start (the earliest event stands for the extracts' start).
-- The events in each half are in `placebo_use`, one row per person and measure with any.

with

params as (
    select
        washout_months,
        baseline_months,
        washout_months + baseline_months - cast(baseline_months / 2 as int) as split_months
    from study_params
),

data_start as (select min(event_date) as first_event_date from stg_events),

cohort as (
    select
        analysis_cohort.person_id,
        analysis_cohort.index_date,
        add_months(analysis_cohort.index_date, -(params.washout_months + params.baseline_months)) as pre_start,
        add_months(analysis_cohort.index_date, -params.split_months) as pre_end,
        add_months(analysis_cohort.index_date, -params.split_months) as post_start,
        add_months(analysis_cohort.index_date, -params.washout_months) as post_end
    from analysis_cohort
    inner join stg_patients on analysis_cohort.person_id = stg_patients.person_id
    cross join params
    cross join data_start
    where params.baseline_months >= 2
        and stg_patients.registered_from <= add_months(analysis_cohort.index_date, -(params.washout_months + params.baseline_months))
        and data_start.first_event_date <= add_months(analysis_cohort.index_date, -(params.washout_months + params.baseline_months))
),

final as (
    select
        cohort.person_id,
        cohort.pre_start,
        cohort.pre_end,
        cohort.post_start,
        cohort.post_end,
        cast(cohort.pre_end as int) - cast(cohort.pre_start as int) as placebo_pre_days,
        cast(cohort.post_end as int) - cast(cohort.post_start as int) as placebo_post_days
    from cohort
)

select * from final
