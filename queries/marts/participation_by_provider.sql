-- model: participation_by_provider
-- grain: one row per community provider
-- depends_on: stg_activities, index_dates
-- key: provider
-- Sessions attended and people reached per provider (blank provider reported as 'not recorded').

with

referred as (select person_id from index_dates),

sessions as (
    select coalesce(activities.provider, 'not recorded') as provider, activities.person_id, activities.attended
    from stg_activities as activities
    inner join referred on activities.person_id = referred.person_id
),

final as (
    select
        provider,
        cast(count(distinct case when attended then person_id end) as bigint) as attended_any,
        cast(sum(case when attended then 1 else 0 end) as bigint) as sessions_attended
    from sessions
    group by provider
)

select * from final
