-- model: treated
-- grain: one row per person with an index date, eligible or not
-- depends_on: index_dates, stg_patients, study_params
-- key: person_id
-- test: relationships(person_id -> stg_patients.person_id)
-- test: accepted_values(exclusion_reason: 'under_min_age', 'registered_too_recently', 'exited_before_index')
-- Eligibility (design section 5): age at index (calendar year of index - year of birth) of at
-- least min_age; registered from at least pre_months before the index (calendar months, day
-- clamped to the month's end); and exit after the index. exclusion_reason is null when
-- eligible; the first failing rule in that order otherwise.

with

index_dates as (select * from index_dates),

patients as (select * from stg_patients),

params as (select pre_months, min_age from study_params),

joined as (
    select
        index_dates.*,
        patients.practice_code,
        patients.sex,
        patients.year_of_birth,
        patients.ethnic_group,
        patients.imd_quintile,
        patients.ltc_count,
        patients.registered_from,
        patients.exit_date,
        cast(date_part('year', index_dates.index_date) as bigint) - patients.year_of_birth as age_at_index,
        add_months(index_dates.index_date, -params.pre_months) as lookback_start,
        params.min_age
    from index_dates
    inner join patients on index_dates.person_id = patients.person_id
    cross join params
),

final as (
    select
        * exclude (min_age),
        case
            when age_at_index < min_age then 'under_min_age'
            when registered_from > lookback_start then 'registered_too_recently'
            when exit_date <= index_date then 'exited_before_index'
        end as exclusion_reason
    from joined
)

select * from final
