-- model: decliners
-- grain: one row per person whose referrals in [start, end] were all declined
-- depends_on: stg_referrals, stg_patients, study_params
-- key: person_id
-- test: not_null(first_declined_date)
-- People who declined social prescribing and never accepted in the window (SNOMED
-- 871711000000103 or status declined): an equity outcome of the funnel, and the comparator
-- for `comparison = "decliners"`. In the matched comparison pool they
-- count only until their first referral (comparison_candidates). Eligibility at the first declined referral, as for the treated.

with

params as (select start_date, end_date, pre_months, min_age from study_params),

in_window as (
    select referrals.*
    from stg_referrals as referrals
    cross join params
    where referrals.referral_date between params.start_date and params.end_date
),

declined_only as (
    select person_id, min(referral_date) as first_declined_date
    from in_window
    group by person_id
    having bool_and(is_declined)
),

final as (
    select
        declined_only.person_id,
        declined_only.first_declined_date,
        patients.ethnic_group,
        patients.imd_quintile,
        patients.sex,
        case
            when cast(date_part('year', declined_only.first_declined_date) as bigint) - patients.year_of_birth < params.min_age
                then 'under_min_age'
            when patients.registered_from > add_months(declined_only.first_declined_date, -params.pre_months)
                then 'registered_too_recently'
            when patients.exit_date <= declined_only.first_declined_date then 'exited_before_index'
        end as exclusion_reason
    from declined_only
    inner join stg_patients as patients on declined_only.person_id = patients.person_id
    cross join params
)

select * from final
