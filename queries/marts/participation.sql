-- model: participation
-- grain: one row per activity type (and one for all types)
-- depends_on: stg_activities, index_dates
-- key: activity_type
-- test: expression(attended_any <= people_with_activity_data)
-- Community participation of referred people with an index date ("impact on the community"):
-- people with any activity record, people who attended at least one
-- session, attended sessions, and sessions per attending person.

with

referred as (select person_id from index_dates),

referred_count as (select count(*) as referred_persons from referred),

sessions as (
    select activities.*
    from stg_activities as activities
    inner join referred on activities.person_id = referred.person_id
),

by_type as (
    select
        activity_type,
        count(distinct person_id) as people_with_activity_data,
        count(distinct case when attended then person_id end) as attended_any,
        sum(case when attended then 1 else 0 end) as sessions_attended
    from sessions
    group by activity_type
    union all
    select
        'all',
        count(distinct person_id),
        count(distinct case when attended then person_id end),
        sum(case when attended then 1 else 0 end)
    from sessions
),

final as (
    select
        activity_type,
        cast(people_with_activity_data as bigint) as people_with_activity_data,
        cast(attended_any as bigint) as attended_any,
        cast(coalesce(sessions_attended, 0) as bigint) as sessions_attended,
        case when attended_any > 0 then cast(sessions_attended as double) / attended_any end as sessions_per_attending_person,
        referred_count.referred_persons
    from by_type
    cross join referred_count
)

select * from final
