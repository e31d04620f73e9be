-- model: funnel
-- grain: one row per referral route (all, medical, non_medical, unknown)
-- depends_on: stg_referrals, index_dates, study_params
-- key: referral_route
-- test: expression(accepted <= referred and first_contact <= accepted and completed <= accepted)
-- The referral funnel for people referred in [start, end] (the stages of Bu et al. 2024):
-- referred; declined (any declined referral); accepted (a referral not declined: they have an
-- index date); first contact and completed (of the index referral). The route is that of the
-- person's first referral in the window.

with

params as (select start_date, end_date from study_params),

in_window as (
    select referrals.*,
        row_number() over (partition by referrals.person_id order by referrals.referral_date, referrals.referral_id) as referral_order
    from stg_referrals as referrals
    cross join params
    where referrals.referral_date between params.start_date and params.end_date
),

persons as (
    select
        first_referral.person_id,
        first_referral.referral_route,
        max(case when all_referrals.is_declined then 1 else 0 end) as declined
    from in_window as first_referral
    inner join in_window as all_referrals on first_referral.person_id = all_referrals.person_id
    where first_referral.referral_order = 1
    group by first_referral.person_id, first_referral.referral_route
),

flags as (
    select
        persons.person_id,
        persons.referral_route,
        persons.declined,
        case when index_dates.person_id is not null then 1 else 0 end as accepted,
        case when index_dates.first_contact_date is not null then 1 else 0 end as first_contact,
        case when index_dates.index_status = 'completed' then 1 else 0 end as completed
    from persons
    left join index_dates on persons.person_id = index_dates.person_id
),

by_route as (
    select referral_route, count(*) as referred, sum(accepted) as accepted, sum(first_contact) as first_contact,
        sum(completed) as completed, sum(declined) as declined
    from flags group by referral_route
    union all
    select 'all', count(*), sum(accepted), sum(first_contact), sum(completed), sum(declined)
    from flags
),

final as (
    select referral_route,
        cast(referred as bigint) as referred,
        cast(coalesce(accepted, 0) as bigint) as accepted,
        cast(coalesce(first_contact, 0) as bigint) as first_contact,
        cast(coalesce(completed, 0) as bigint) as completed,
        cast(coalesce(declined, 0) as bigint) as declined
    from by_route
)

select * from final
