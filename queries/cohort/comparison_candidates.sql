-- model: comparison_candidates
-- grain: one row per registered person never referred, with a pseudo index date
-- depends_on: stg_patients, stg_referrals, treated, study_params
-- key: person_id
-- test: not_null(index_date)
-- The comparison pool (design section 5) is people never referred (decliners are referred,
-- so they are not in it). Each gets a pseudo index date drawn from the eligible treated
-- people's index dates by seeded_draw(person_id, seed, n) — a portable hash of the seed and
-- person, independent of threads and engine — then the same eligibility rules as the treated.

with

patients as (select * from stg_patients),

referred as (select distinct person_id from stg_referrals),

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
    select patients.*
    from patients
    left join referred on patients.person_id = referred.person_id
    where referred.person_id is null
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
        exit_date,
        age_at_index,
        lookback_start,
        case
            when age_at_index < min_age then 'under_min_age'
            when registered_from > lookback_start then 'registered_too_recently'
            when exit_date <= index_date then 'exited_before_index'
        end as exclusion_reason
    from dated
)

select * from final
