-- model: stg_patients
-- grain: one row per registered person
-- depends_on: patients, study_params
-- test: not_null(exit_date)
-- test: accepted_values(ethnic_group: 'White', 'Mixed', 'Asian', 'Black', 'Other', 'Unknown')
-- test: expression(exit_date > registered_from)
-- Exit is the earliest of registered_to, the day after date_of_death and data_end + 1 day;
-- events on or after exit are never counted. Events on the day of death count (an emergency
-- admission on the day a person dies is NHS use, and often the costliest). Ethnic groups are the NHS Data Dictionary
-- 2001 census high-level groups (docs/domain.md, Ethnicity); Z not stated and 99 not known are Unknown.

with

patients as (select * from patients),

params as (select data_end from study_params),

final as (
    select
        patients.person_id,
        patients.practice_code,
        patients.year_of_birth,
        patients.sex,
        patients.ethnic_category,
        case
            when patients.ethnic_category in ('A', 'B', 'C') then 'White'
            when patients.ethnic_category in ('D', 'E', 'F', 'G') then 'Mixed'
            when patients.ethnic_category in ('H', 'J', 'K', 'L') then 'Asian'
            when patients.ethnic_category in ('M', 'N', 'P') then 'Black'
            when patients.ethnic_category in ('R', 'S') then 'Other'
            else 'Unknown'
        end as ethnic_group,
        patients.imd_decile,
        cast((patients.imd_decile + 1) / 2 as int) as imd_quintile,
        patients.ltc_count,
        patients.registered_from,
        patients.registered_to,
        patients.date_of_death,
        least(
            coalesce(patients.registered_to, params.data_end + interval '1 day'),
            coalesce(patients.date_of_death + interval '1 day', params.data_end + interval '1 day'),
            params.data_end + interval '1 day'
        ) as exit_date
    from patients
    cross join params
)

select * from final
