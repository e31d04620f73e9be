-- DuckDB's side of the benchmark (benches/run.py): the same work as sp-impact's SQL stage
-- for the cohort and the person-month panel (queries/cohort/*, queries/panel/person_months and
-- person_month_use),
-- over the same typed Parquet that `sp-impact ingest` wrote. {data} and the dates are filled
-- in by run.py from sample-data/study.toml. Relative months use DuckDB's month arithmetic,
-- which clamps the day to the month's end like sp-impact's add_months.

create or replace view patients as select * from read_parquet('{data}/patients.parquet');
create or replace view referrals as select * from read_parquet('{data}/referrals.parquet');
create or replace view gp as select * from read_parquet('{data}/gp_appointments.parquet');
create or replace view hospital as select * from read_parquet('{data}/hospital_activity.parquet');

create or replace table events as
    select person_id, appointment_date as event_date, 'gp_demand' as measure,
        case when hcp_type = 'gp' then coalesce(duration_minutes * 4.47, 45.0)
             else coalesce(duration_minutes, 15) / 60.0 * 47.0 end as cost_gbp
    from gp
    where status = 'attended' and hcp_type in ('gp', 'nurse', 'other_clinical')
    union all
    select person_id, activity_date as event_date,
        case setting when 'ae' then 'ae_attendances' when 'emergency_admission' then 'emergency_admissions'
            when 'outpatient' then 'outpatient_attendances' else 'elective_admissions' end as measure,
        case setting when 'ae' then 273.0
            when 'emergency_admission' then case when datediff('day', activity_date, discharge_date) >= 2 then 5134.0 else 792.0 end
            when 'outpatient' then 198.0 else 6215.0 end as cost_gbp
    from hospital
    where setting in ('ae', 'emergency_admission', 'elective_admission')
        or (setting = 'outpatient' and coalesce(attended, true));

create or replace table index_dates as
    select person_id, min(referral_date) as index_date
    from referrals
    where referral_date between date '{start}' and date '{end}'
        and status <> 'declined' and snomed_code <> '871711000000103'
    group by person_id;

create or replace table treated as
    select i.person_id, i.index_date,
        least(coalesce(p.registered_to, date '9999-12-31'), coalesce(p.date_of_death, date '9999-12-31'),
              date '{data_end}' + interval 1 day) as exit_date
    from index_dates i join patients p using (person_id)
    where year(i.index_date) - p.year_of_birth >= 18
        and p.registered_from <= i.index_date - interval {pre} month;

-- Comparison candidates: never referred; a pseudo index date drawn from the treated index
-- dates by a hash of the person (sp-impact uses a seeded draw), then the same eligibility.
create or replace table pool as
    select index_date, row_number() over (order by person_id) - 1 as k from treated;

create or replace table candidates as
    with draws as (
        select p.*, cast(hash(p.person_id || '{seed}') % (select count(*) from pool) as bigint) as k
        from patients p
        where p.person_id not in (select person_id from referrals)
    )
    select d.person_id, pool.index_date,
        least(coalesce(d.registered_to, date '9999-12-31'), coalesce(d.date_of_death, date '9999-12-31'),
              date '{data_end}' + interval 1 day) as exit_date
    from draws d join pool on pool.k = d.k
    where year(pool.index_date) - d.year_of_birth >= 18
        and d.registered_from <= pool.index_date - interval {pre} month;

create or replace table cohort as
    select person_id, 'treated' as group_name, index_date, exit_date from treated
    where exit_date > index_date
    union all
    select person_id, 'comparison', index_date, exit_date from candidates
    where exit_date > index_date;

-- The panel in sp-impact's shape: exposure per person-month, and use per person-month-measure
-- only where there are events (queries/panel/person_months.sql, person_month_use.sql).
create or replace table person_months as
    with months as (select unnest(range(-{pre}, {post})) as k)
    select c.person_id, c.group_name, m.k as relative_month,
        c.index_date + to_months(m.k) as month_start,
        c.index_date + to_months(m.k + 1) as month_end,
        greatest(0, datediff('day', c.index_date + to_months(m.k),
                             least(c.index_date + to_months(m.k + 1), c.exit_date))) as exposure_days
    from cohort c cross join months m;

create or replace table person_month_use as
    with windowed as (
        select e.person_id, e.measure, cast(round(e.cost_gbp * 1000000.0) as bigint) as cost_micro_gbp,
            datediff('month', c.index_date, e.event_date)
              - case when e.event_date < c.index_date + to_months(datediff('month', c.index_date, e.event_date)) then 1 else 0 end as k
        from events e join cohort c using (person_id)
        where e.event_date >= c.index_date - to_months({pre})
            and e.event_date < c.index_date + to_months({post})
            and e.event_date < c.exit_date
            and e.event_date <> c.index_date
    )
    select person_id, k as relative_month, measure, count(*) as events, sum(cost_micro_gbp) as cost_micro_gbp
    from windowed group by person_id, k, measure;

copy (select * from person_months order by person_id, relative_month) to '{out}/person_months.parquet' (format parquet, compression zstd);
copy (select * from person_month_use order by person_id, relative_month, measure) to '{out}/person_month_use.parquet' (format parquet, compression zstd);
select count(*) as person_months_rows from person_months;
