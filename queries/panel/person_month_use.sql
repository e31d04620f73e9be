-- model: person_month_use
-- grain: one row per analysis person, relative month and measure with any use (sparse)
-- depends_on: analysis_cohort, stg_events, study_params, service_measures
-- key: person_id, relative_month, measure
-- test: relationships(measure -> service_measures.measure)
-- test: expression(events > 0 and cost_micro_gbp >= 0)
-- The use half of the person-month panel (`person_months` holds the exposure): events and
-- their cost per person, relative month and measure, only where there are events, so a
-- measure is a row, not a column, and a month without use takes no space. Months are those
-- of person_months: relative month k is [index + k months, index + (k+1) months).
-- Follow-up starts the day after the index date, for both groups: a referral is usually made
-- in an attended GP consultation that a comparison person's pseudo index date does not have,
-- so an index-day event is neither group's outcome. Events on or after exit are not counted. Costs are summed as whole micro-pounds (integers), so the
-- total does not depend on the order the engine adds rows in (floating-point sums do):
-- results are identical on any thread count.

with

params as (select pre_months, post_months from study_params),

-- The panel's window per person, computed once per person rather than once per event.
cohort as (
    select
        analysis_cohort.person_id,
        analysis_cohort.index_date,
        analysis_cohort.exit_date,
        add_months(analysis_cohort.index_date, -params.pre_months) as window_start,
        add_months(analysis_cohort.index_date, params.post_months) as window_end
    from analysis_cohort
    cross join params
),

windowed_events as (
    select
        events.person_id,
        relative_month(cohort.index_date, events.event_date) as relative_month,
        events.measure,
        cast(round(events.cost_gbp * 1000000.0) as bigint) as cost_micro_gbp
    from stg_events as events
    inner join cohort on events.person_id = cohort.person_id
    where events.event_date >= cohort.window_start
        and events.event_date < cohort.window_end
        and events.event_date < cohort.exit_date
        and events.event_date <> cohort.index_date
),

final as (
    select
        person_id,
        relative_month,
        measure,
        count(*) as events,
        sum(cost_micro_gbp) as cost_micro_gbp
    from windowed_events
    group by person_id, relative_month, measure
)

select * from final
