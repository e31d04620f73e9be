-- model: practice_funnel
-- grain: one row per practice
-- depends_on: stg_patients, stg_referrals, index_dates, study_params
-- key: practice_code
-- test: not_null(registered)
-- test: expression(referred <= registered and accepted <= referred and first_contact <= accepted)
-- The GP contract's measure per practice: people registered at any time in [start, end], how
-- many of them were referred to social prescribing in the window (any referral, declined ones
-- included), accepted (a referral not declined: they have an index date) and seen (a first
-- contact). The report compares each practice's referral rate with the overall rate on a
-- funnel plot (docs/methods.md, Practices).

with

params as (select start_date, end_date from study_params),

registered as (
    select patients.person_id, patients.practice_code
    from stg_patients as patients
    cross join params
    where patients.registered_from <= params.end_date
        and patients.exit_date > params.start_date
),

referred as (
    select distinct referrals.person_id
    from stg_referrals as referrals
    cross join params
    where referrals.referral_date between params.start_date and params.end_date
),

flags as (
    select
        registered.practice_code,
        case when referred.person_id is not null then 1 else 0 end as referred,
        case when index_dates.person_id is not null then 1 else 0 end as accepted,
        case when index_dates.first_contact_date is not null then 1 else 0 end as first_contact
    from registered
    left join referred on registered.person_id = referred.person_id
    left join index_dates on registered.person_id = index_dates.person_id
),

final as (
    select
        practice_code,
        cast(count(*) as bigint) as registered,
        cast(sum(referred) as bigint) as referred,
        cast(sum(accepted) as bigint) as accepted,
        cast(sum(first_contact) as bigint) as first_contact
    from flags
    group by practice_code
)

select * from final
