-- model: person_months
-- grain: one row per analysis person per relative month (-pre_months .. post_months - 1)
-- depends_on: analysis_cohort, stg_events, study_params
-- key: person_id, relative_month
-- test: expression(exposure_days >= 0 and exposure_days <= month_days)
-- test: expression(exposure_months >= 0 and exposure_months <= 1)
-- test: expression(gp_demand >= 0 and total_cost_gbp >= 0)
-- test: expression(exposure_days > 0 or (gp_demand + ae_attendances + emergency_admissions + outpatient_attendances + elective_admissions) = 0)
-- set: datafusion.optimizer.prefer_hash_join = false
-- Relative month k is [index + k months, index + (k+1) months) (design section 5, day
-- clamped to the month's end). Exposure is the days of that interval before exit, as a
-- fraction of the interval (person-months) and in days / 365.25 (person-years). Follow-up
-- starts the day after the index date, for both groups: a referral is usually made in an
-- attended GP consultation that a comparison person's pseudo index date does not have, so an
-- index-day event is neither group's outcome (index_day_events counts them). Events are
-- aggregated to person x month x measure first and then joined to the exposure rows, so the
-- panel never multiplies people by events; events on or after exit are not counted. Costs
-- are summed as whole micro-pounds (integers), so the total does not depend on the order the
-- engine adds rows in (floating-point sums do): results are identical on any thread count.
-- Cost is also kept per measure (for the economics' one-way sensitivity over unit costs).
-- The panel's joins are sort-merge joins: a hash join would hold all ~24 million exposure
-- rows (at 1M people) in memory, which cannot spill, so `--memory-limit 2GiB` failed; sorts
-- spill, and the panel is written sorted by its key anyway.

with

cohort as (select person_id, group_name, index_date, exit_date from analysis_cohort),

params as (select pre_months, post_months from study_params),

months as (
    select unnest(range(-params.pre_months, params.post_months)) as relative_month
    from params
),

exposure as (
    select
        cohort.person_id,
        cohort.group_name,
        months.relative_month,
        add_months(cohort.index_date, months.relative_month) as month_start,
        add_months(cohort.index_date, months.relative_month + 1) as month_end,
        cohort.exit_date
    from cohort
    cross join months
),

windowed_events as (
    select
        events.person_id,
        relative_month(cohort.index_date, events.event_date) as relative_month,
        events.measure,
        events.cost_gbp
    from stg_events as events
    inner join cohort on events.person_id = cohort.person_id
    cross join params
    where events.event_date >= add_months(cohort.index_date, -params.pre_months)
        and events.event_date < add_months(cohort.index_date, params.post_months)
        and events.event_date < cohort.exit_date
        and events.event_date <> cohort.index_date
),

monthly_counts as (
    select
        person_id,
        relative_month,
        sum(case when measure = 'gp_demand' then 1 else 0 end) as gp_demand,
        sum(case when measure = 'ae_attendances' then 1 else 0 end) as ae_attendances,
        sum(case when measure = 'emergency_admissions' then 1 else 0 end) as emergency_admissions,
        sum(case when measure = 'outpatient_attendances' then 1 else 0 end) as outpatient_attendances,
        sum(case when measure = 'elective_admissions' then 1 else 0 end) as elective_admissions,
        sum(case when measure = 'gp_demand' then cast(round(cost_gbp * 1000000.0) as bigint) else 0 end) as gp_demand_cost_micro_gbp,
        sum(case when measure = 'ae_attendances' then cast(round(cost_gbp * 1000000.0) as bigint) else 0 end) as ae_attendances_cost_micro_gbp,
        sum(case when measure = 'emergency_admissions' then cast(round(cost_gbp * 1000000.0) as bigint) else 0 end) as emergency_admissions_cost_micro_gbp,
        sum(case when measure = 'outpatient_attendances' then cast(round(cost_gbp * 1000000.0) as bigint) else 0 end) as outpatient_attendances_cost_micro_gbp,
        sum(case when measure = 'elective_admissions' then cast(round(cost_gbp * 1000000.0) as bigint) else 0 end) as elective_admissions_cost_micro_gbp,
        sum(cast(round(cost_gbp * 1000000.0) as bigint)) as total_cost_micro_gbp
    from windowed_events
    group by person_id, relative_month
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
            / 365.25 as exposure_years,
        coalesce(monthly_counts.gp_demand, 0) as gp_demand,
        coalesce(monthly_counts.ae_attendances, 0) as ae_attendances,
        coalesce(monthly_counts.emergency_admissions, 0) as emergency_admissions,
        coalesce(monthly_counts.outpatient_attendances, 0) as outpatient_attendances,
        coalesce(monthly_counts.elective_admissions, 0) as elective_admissions,
        coalesce(cast(monthly_counts.gp_demand_cost_micro_gbp as double) / 1000000.0, 0.0) as gp_demand_cost_gbp,
        coalesce(cast(monthly_counts.ae_attendances_cost_micro_gbp as double) / 1000000.0, 0.0) as ae_attendances_cost_gbp,
        coalesce(cast(monthly_counts.emergency_admissions_cost_micro_gbp as double) / 1000000.0, 0.0) as emergency_admissions_cost_gbp,
        coalesce(cast(monthly_counts.outpatient_attendances_cost_micro_gbp as double) / 1000000.0, 0.0) as outpatient_attendances_cost_gbp,
        coalesce(cast(monthly_counts.elective_admissions_cost_micro_gbp as double) / 1000000.0, 0.0) as elective_admissions_cost_gbp,
        coalesce(cast(monthly_counts.total_cost_micro_gbp as double) / 1000000.0, 0.0) as total_cost_gbp
    from exposure
    left join monthly_counts
        on exposure.person_id = monthly_counts.person_id
        and exposure.relative_month = monthly_counts.relative_month
)

select * from final
