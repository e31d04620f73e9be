-- model: person_months
-- grain: one row per analysis person per relative month (-pre_months .. post_months - 1)
-- depends_on: analysis_cohort, study_params
-- key: person_id, relative_month
-- test: expression(exposure_days >= 0 and exposure_days <= month_days)
-- test: expression(exposure_months >= 0 and exposure_months <= 1)
-- presorted: true
-- set: datafusion.execution.target_partitions = 1
-- The exposure half of the person-month panel; its use is `person_month_use` (one row per
-- person, month and measure with use), so the panel does not grow a column per measure.
-- Relative month k is [index + k months, index + (k+1) months) (day clamped to the month's
-- end). Exposure is the days of that interval before exit, as a fraction of the interval
-- (person-months) and in days / 365.25 (person-years). Each person's months are unnested
-- from their own row of analysis_cohort, which is stored sorted by person, and read on one
-- partition: the rows come out in key order, so the runner checks the order as it writes
-- instead of sorting 31M rows (at 1M people the model took 15 s with the sort, 8 s without).

with

params as (select pre_months, post_months from study_params),

person_month as (
    select
        cohort.person_id,
        cohort.group_name,
        cohort.index_date,
        cohort.exit_date,
        unnest(range(-params.pre_months, params.post_months)) as relative_month
    from analysis_cohort as cohort
    cross join params
),

exposure as (
    select
        person_id,
        group_name,
        relative_month,
        add_months(index_date, relative_month) as month_start,
        add_months(index_date, relative_month + 1) as month_end,
        exit_date
    from person_month
),

final as (
    select
        exposure.person_id,
        exposure.group_name,
        exposure.relative_month,
        exposure.month_start,
        exposure.month_end,
        cast(exposure.month_end as int) - cast(exposure.month_start as int) as month_days,
        greatest(0, cast(least(exposure.month_end, exposure.exit_date) as int) - cast(exposure.month_start as int)) as exposure_days,
        cast(greatest(0, cast(least(exposure.month_end, exposure.exit_date) as int) - cast(exposure.month_start as int)) as double)
            / cast(cast(exposure.month_end as int) - cast(exposure.month_start as int) as double) as exposure_months,
        cast(greatest(0, cast(least(exposure.month_end, exposure.exit_date) as int) - cast(exposure.month_start as int)) as double)
            / 365.25 as exposure_years
    from exposure
)

select * from final
