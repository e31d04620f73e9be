-- model: placebo_use
-- grain: one row per placebo person and measure with events in either half of the baseline
-- depends_on: placebo_periods, stg_events, service_measures
-- key: person_id, measure
-- test: relationships(person_id -> placebo_periods.person_id)
-- test: relationships(measure -> service_measures.measure)
-- test: expression(pre_events >= 0 and post_events >= 0 and pre_events + post_events > 0)
-- The placebo's events: per person and measure, those in the first half of the baseline
-- window (`pre_events`) and in its second half (`post_events`), with the halves of
-- `placebo_periods`.

with

events as (
    select
        periods.person_id,
        stg_events.measure,
        case when stg_events.event_date < periods.pre_end then 1 else 0 end as in_pre,
        case when stg_events.event_date >= periods.post_start then 1 else 0 end as in_post
    from placebo_periods as periods
    inner join stg_events on periods.person_id = stg_events.person_id
    where (stg_events.event_date >= periods.pre_start and stg_events.event_date < periods.pre_end)
        or (stg_events.event_date >= periods.post_start and stg_events.event_date < periods.post_end)
),

final as (
    select
        person_id,
        measure,
        sum(in_pre) as pre_events,
        sum(in_post) as post_events
    from events
    group by person_id, measure
)

select * from final
