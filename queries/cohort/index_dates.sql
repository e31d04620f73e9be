-- model: index_dates
-- grain: one row per person with a referral, not declined, dated in [start, end]
-- depends_on: stg_referrals, study_params
-- key: person_id
-- test: not_null(index_date)
-- The index date is a person's first referral in [start, end] that is not declined. A
-- decliner later accepted is indexed at the accepted referral; a person
-- referred twice at the first. Ties on a date are broken by referral_id.

with

referrals as (select * from stg_referrals),

params as (select start_date, end_date from study_params),

accepted_in_window as (
    select
        referrals.person_id,
        referrals.referral_id,
        referrals.referral_date,
        referrals.referral_source,
        referrals.referral_route,
        referrals.referral_reasons,
        referrals.status,
        referrals.first_contact_date,
        row_number() over (
            partition by referrals.person_id
            order by referrals.referral_date, referrals.referral_id
        ) as referral_order
    from referrals
    cross join params
    where not referrals.is_declined
        and referrals.referral_date between params.start_date and params.end_date
),

final as (
    select
        person_id,
        referral_id as index_referral_id,
        referral_date as index_date,
        referral_source,
        referral_route,
        referral_reasons,
        status as index_status,
        first_contact_date
    from accepted_in_window
    where referral_order = 1
)

select * from final
