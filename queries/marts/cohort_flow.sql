-- model: cohort_flow
-- grain: one row per step of the cohort flow, in order
-- depends_on: stg_referrals, treated, comparison_candidates, decliners, stg_patients, study_params
-- key: step_order
-- test: not_null(persons)
-- From referrals to the eligible treated and comparison groups; the
-- counts feed results.json `cohort` and the cohort-flow chart. Restricted: exact counts.

with

params as (select start_date, end_date from study_params),

in_window as (
    select referrals.*
    from stg_referrals as referrals
    cross join params
    where referrals.referral_date between params.start_date and params.end_date
),

steps as (
    select 1 as step_order, 'registered_population' as step, count(*) as persons from stg_patients
    union all
    select 2, 'referrals_in_window', count(*) from in_window
    union all
    select 3, 'persons_referred_in_window', count(distinct person_id) from in_window
    union all
    select 4, 'persons_with_index_date', count(*) from treated
    union all
    select 5, 'excluded_under_min_age', count(*) from treated where exclusion_reason = 'under_min_age'
    union all
    select 6, 'excluded_registered_too_recently', count(*) from treated where exclusion_reason = 'registered_too_recently'
    union all
    select 7, 'excluded_exited_before_index', count(*) from treated where exclusion_reason = 'exited_before_index'
    union all
    select 8, 'excluded_referred_before_start', count(*) from treated where exclusion_reason = 'referred_before_start'
    union all
    select 9, 'eligible_treated', count(*) from treated where exclusion_reason is null
    union all
    select 10, 'comparison_pool', count(*) from comparison_candidates
    union all
    select 11, 'comparison_referred_before_index', count(*) from comparison_candidates where exclusion_reason = 'referred_before_index'
    union all
    select 12, 'eligible_comparison_candidates', count(*) from comparison_candidates where exclusion_reason is null
    union all
    select 13, 'comparison_censored_at_referral', count(*) from comparison_candidates where exclusion_reason is null and censored_at_referral
    union all
    select 14, 'decliners_never_accepted', count(*) from decliners
),

final as (select step_order, step, cast(persons as bigint) as persons from steps)

select * from final
