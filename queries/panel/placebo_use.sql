-- model: placebo_use
-- grain: one row per placebo person and measure with events in either half of the baseline
-- depends_on: placebo_periods, person_month_use, study_params, service_measures
-- key: person_id, measure
-- test: relationships(person_id -> placebo_periods.person_id)
-- test: relationships(measure -> service_measures.measure)
-- test: expression(pre_events >= 0 and post_events >= 0 and pre_events + post_events > 0)
-- The placebo's events: per person and measure, those in the first half of the baseline
-- window (`pre_events`) and in its second half (`post_events`). The halves of
-- `placebo_periods` are whole relative months (-(washout + baseline) .. -(split + 1) and
-- -split .. -(washout + 1)), so the events are read from the panel's use, not the extracts.

with

params as (
    select
        washout_months,
        washout_months + baseline_months as window_months,
        washout_months + baseline_months - cast(baseline_months / 2 as int) as split_months
    from study_params
),

events as (
    select
        use_rows.person_id,
        use_rows.measure,
        case when use_rows.relative_month < -params.split_months then use_rows.events else 0 end as pre,
        case when use_rows.relative_month >= -params.split_months then use_rows.events else 0 end as post
    from person_month_use as use_rows
    inner join placebo_periods as periods on use_rows.person_id = periods.person_id
    cross join params
    where use_rows.relative_month >= -params.window_months
        and use_rows.relative_month < -params.washout_months
),

final as (
    select
        person_id,
        measure,
        sum(pre) as pre_events,
        sum(post) as post_events
    from events
    group by person_id, measure
)

select * from final
