-- model: comparison_candidates
-- grain: one row per registered person without an index date, with a pseudo index date
-- depends_on: stg_patients, stg_referrals, treated, study_params
-- key: person_id
-- test: not_null(index_date)
-- test: accepted_values(exclusion_reason: 'under_min_age', 'registered_too_recently', 'exited_before_index', 'referred_before_index')
-- test: expression(exit_date > index_date or exclusion_reason is not null)
-- The comparison pool is everyone without an index date (no accepted referral in the study
-- window). Each gets a pseudo index date drawn from the eligible treated people's index dates
-- by seeded_draw(person_id, seed, n) — a portable hash of the seed and person, independent of
-- threads and engine — then the same eligibility rules as the treated. A person is eligible
-- only while not yet referred: anyone referred (declined included) on or before the pseudo
-- index date is excluded, and anyone referred after it is kept and censored at that referral
-- (exit_date becomes the referral date, `censored_at_referral`). Excluding people referred
-- later instead, as "never referred", would select the comparison group on its future: it
-- would drop exactly the people whose need rose during follow-up.

with

patients as (select * from stg_patients),

first_referrals as (
    select person_id, min(referral_date) as first_referral_date
    from stg_referrals
    group by person_id
),

params as (select seed, pre_months, min_age from study_params),

treated_dates as (
    select
        index_date,
        row_number() over (order by index_date, person_id) as draw_number
    from treated
    where exclusion_reason is null
),

treated_count as (select count(*) as n from treated_dates),

pool as (
    select patients.*, first_referrals.first_referral_date
    from patients
    left join treated on patients.person_id = treated.person_id
    left join first_referrals on patients.person_id = first_referrals.person_id
    where treated.person_id is null
),

drawn as (
    select
        pool.*,
        seeded_draw(pool.person_id, params.seed, treated_count.n) as draw_number,
        params.pre_months,
        params.min_age
    from pool
    cross join params
    cross join treated_count
    where treated_count.n > 0
),

dated as (
    select
        drawn.*,
        treated_dates.index_date,
        cast(date_part('year', treated_dates.index_date) as bigint) - drawn.year_of_birth as age_at_index,
        add_months(treated_dates.index_date, -drawn.pre_months) as lookback_start
    from drawn
    inner join treated_dates on drawn.draw_number = treated_dates.draw_number
),

final as (
    select
        person_id,
        index_date,
        practice_code,
        sex,
        year_of_birth,
        ethnic_group,
        imd_quintile,
        ltc_count,
        registered_from,
        case
            when first_referral_date > index_date then least(exit_date, first_referral_date)
            else exit_date
        end as exit_date,
        coalesce(first_referral_date > index_date and first_referral_date < exit_date, false)
            as censored_at_referral,
        age_at_index,
        lookback_start,
        case
            when age_at_index < min_age then 'under_min_age'
            when registered_from > lookback_start then 'registered_too_recently'
            when exit_date <= index_date then 'exited_before_index'
            when first_referral_date <= index_date then 'referred_before_index'
        end as exclusion_reason
    from dated
)

select * from final
