-- model: stg_referrals
-- grain: one row per referral
-- depends_on: referrals
-- test: not_null(is_declined)
-- test: accepted_values(referral_route: 'medical', 'non_medical', 'unknown')
-- A referral is declined when its status is declined or it carries SNOMED CT 871711000000103
-- "Social prescribing declined" (docs/domain.md, Referral codes). Medical routes are GP, nurse, other
-- primary care and secondary care (Bu et al. 2024).

with

referrals as (select * from referrals),

final as (
    select
        referrals.*,
        coalesce(referrals.status = 'declined', false)
            or coalesce(referrals.snomed_code = '871711000000103', false) as is_declined,
        case
            when referrals.referral_source in ('gp', 'nurse', 'other_primary_care', 'secondary_care') then 'medical'
            when referrals.referral_source is null then 'unknown'
            else 'non_medical'
        end as referral_route
    from referrals
)

select * from final
