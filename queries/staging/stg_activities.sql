-- model: stg_activities
-- grain: one row per community activity session
-- depends_on: activities
-- test: not_null(attended)

with

sessions as (select * from activities),

final as (select * from sessions)

select * from final
