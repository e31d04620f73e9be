-- model: treated
-- grain: one row per person with an index date, eligible or not
-- depends_on: index_dates, stg_patients, stg_referrals, study_params
-- key: person_id
-- test: relationships(person_id -> stg_patients.person_id)
-- test: accepted_values(exclusion_reason: 'under_min_age', 'registered_too_recently', 'exited_before_index', 'referred_before_start')
-- Eligibility: age at index (calendar year of index - year of birth) of at
-- least min_age; registered from at least pre_months before the index (calendar months, day
-- clamped to the month's end); exit after the index; and a new starter: no referral of any
-- kind (declined included) before the study start, since someone already referred was caught
-- at an earlier peak of need and may have had the service. exclusion_reason is null when
-- eligible; the first failing rule in that order otherwise.

with

index_dates as (select * from index_dates),

patients as (select * from stg_patients),

params as (select start_date, pre_months, min_age from study_params),

first_referrals as (
    select person_id, min(referral_date) as first_referral_date
    from stg_referrals
    group by person_id
),

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
        first_referrals.first_referral_date,
        params.start_date,
        params.min_age
    from index_dates
    inner join patients on index_dates.person_id = patients.person_id
    inner join first_referrals on index_dates.person_id = first_referrals.person_id
    cross join params
),

final as (
    select
        * exclude (first_referral_date, start_date, min_age),
        case
            when age_at_index < min_age then 'under_min_age'
            when registered_from > lookback_start then 'registered_too_recently'
            when exit_date <= index_date then 'exited_before_index'
            when first_referral_date < start_date then 'referred_before_start'
        end as exclusion_reason
    from joined
)

select * from final
