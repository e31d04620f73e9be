-- model: stg_wellbeing
-- grain: one row per questionnaire
-- depends_on: wellbeing
-- test: accepted_values(score_source: 'items', 'vendor', 'incomplete_items')

with

questionnaires as (select * from wellbeing),

final as (select * from questionnaires)

select * from final
