-- model: data_quality_by_practice
-- grain: one row per practice
-- depends_on: stg_patients, stg_referrals, study_params
-- key: practice_code
-- test: expression(referrals_per_1000 >= 0)
-- Coding coverage and missingness per practice (docs/domain.md, Referral codes: SP coding varies by
-- practice): registered people, people referred in [start, end] and per 1,000 registered,
-- and the share with unknown IMD decile, ethnicity (Z/99) and LTC count.

with

params as (select start_date, end_date from study_params),

referred as (
    select distinct referrals.person_id
    from stg_referrals as referrals
    cross join params
    where referrals.referral_date between params.start_date and params.end_date
),

final as (
    select
        patients.practice_code,
        cast(count(*) as bigint) as registered,
        cast(count(referred.person_id) as bigint) as persons_referred,
        1000.0 * count(referred.person_id) / count(*) as referrals_per_1000,
        avg(case when patients.imd_decile is null then 1.0 else 0.0 end) as share_imd_unknown,
        avg(case when patients.ethnic_group = 'Unknown' then 1.0 else 0.0 end) as share_ethnicity_unknown,
        avg(case when patients.ltc_count is null then 1.0 else 0.0 end) as share_ltc_unknown
    from stg_patients as patients
    left join referred on patients.person_id = referred.person_id
    group by patients.practice_code
)

select * from final
