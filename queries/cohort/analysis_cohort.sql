-- model: analysis_cohort
-- grain: one row per eligible person: treated, or comparison candidate
-- depends_on: treated, comparison_candidates
-- key: person_id
-- test: accepted_values(group_name: 'treated', 'comparison')
-- test: accepted_values(age_band: '18-24', '25-34', '35-44', '45-54', '55-64', '65-74', '75-84', '85+', 'under 18')
-- test: expression(exit_date > index_date)
-- The people whose panels are built: eligible treated and eligible comparison candidates,
-- with the matching covariates' demographics. index_quarter (e.g. 2022Q2) is the default
-- exact-matching stratum.

with

treated as (
    select person_id, 'treated' as group_name, index_date, practice_code, sex, ethnic_group,
        imd_quintile, ltc_count, age_at_index, exit_date
    from treated
    where exclusion_reason is null
),

comparison as (
    select person_id, 'comparison' as group_name, index_date, practice_code, sex, ethnic_group,
        imd_quintile, ltc_count, age_at_index, exit_date
    from comparison_candidates
    where exclusion_reason is null
),

eligible as (
    select * from treated
    union all
    select * from comparison
),

final as (
    select
        eligible.*,
        case
            when age_at_index < 18 then 'under 18'
            when age_at_index < 25 then '18-24'
            when age_at_index < 35 then '25-34'
            when age_at_index < 45 then '35-44'
            when age_at_index < 55 then '45-54'
            when age_at_index < 65 then '55-64'
            when age_at_index < 75 then '65-74'
            when age_at_index < 85 then '75-84'
            else '85+'
        end as age_band,
        cast(date_part('year', index_date) as varchar) || 'Q'
            || cast(cast(date_part('quarter', index_date) as int) as varchar) as index_quarter
    from eligible
)

select * from final
