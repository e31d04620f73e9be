-- model: wellbeing_pairs
-- grain: one row per eligible treated person per instrument (per separately analysed item) with a baseline
-- depends_on: stg_wellbeing, treated, study_params, instrument_items
-- key: person_id, instrument, item
-- test: not_null(baseline_value)
-- test: expression(followup_date is null or followup_date > baseline_date)
-- Pairing (study.toml [wellbeing]; docs/methods.md, Wellbeing): the baseline is the scored questionnaire whose date
-- is within baseline_window_days of the index date, no later than the first contact with the
-- link worker where one is recorded (a later one already reflects the service), and closest
-- to the index (earlier, then earlier line, on ties); the follow-up is the one within
-- followup_window_days nearest followup_target_day (earlier, then earlier line, on ties):
-- not the latest, which would favour the people who stayed engaged longest. Scored instruments
-- use the score (SWEMWBS already Rasch-converted at ingest); an instrument whose items are
-- analysed on their own (ONS4, MYCaW: listed in `instrument_items`, from the measures
-- registry) contributes one row per answered item, never summed. Questionnaires with a
-- missing item have no score and cannot pair on it.

with

questionnaires as (select * from stg_wellbeing),

params as (
    select baseline_from_days, baseline_to_days, followup_from_days, followup_to_days,
        followup_target_day
    from study_params
),

cohort as (
    select person_id, index_date, first_contact_date
    from treated
    where exclusion_reason is null
),

separate as (select * from instrument_items),

scored as (
    select person_id, survey_date, instrument, cast(null as varchar) as item, score as value, source_line
    from questionnaires
    where score is not null
        and instrument not in (select distinct instrument from separate)
),

items as (
    select
        questionnaires.person_id,
        questionnaires.survey_date,
        questionnaires.instrument,
        separate.item,
        cast(
            case separate.item_index
                when 1 then questionnaires.item_1
                when 2 then questionnaires.item_2
                when 3 then questionnaires.item_3
                when 4 then questionnaires.item_4
                when 5 then questionnaires.item_5
                when 6 then questionnaires.item_6
                when 7 then questionnaires.item_7
                when 8 then questionnaires.item_8
                when 9 then questionnaires.item_9
                when 10 then questionnaires.item_10
                when 11 then questionnaires.item_11
                when 12 then questionnaires.item_12
                when 13 then questionnaires.item_13
                when 14 then questionnaires.item_14
            end as double
        ) as value,
        questionnaires.source_line
    from questionnaires
    inner join separate on questionnaires.instrument = separate.instrument
),

values_long as (
    select * from scored
    union all
    select * from items where value is not null
),

relative as (
    select
        values_long.*,
        cohort.first_contact_date,
        cast(values_long.survey_date as int) - cast(cohort.index_date as int) as days_from_index
    from values_long
    inner join cohort on values_long.person_id = cohort.person_id
),

baselines as (
    select relative.*,
        row_number() over (
            partition by relative.person_id, relative.instrument, relative.item
            order by abs(relative.days_from_index), relative.days_from_index, relative.source_line
        ) as choice
    from relative
    cross join params
    where relative.days_from_index between params.baseline_from_days and params.baseline_to_days
        and (relative.first_contact_date is null or relative.survey_date <= relative.first_contact_date)
),

followups as (
    select relative.*,
        row_number() over (
            partition by relative.person_id, relative.instrument, relative.item
            order by
                abs(relative.days_from_index - params.followup_target_day),
                relative.days_from_index,
                relative.source_line
        ) as choice
    from relative
    cross join params
    where relative.days_from_index between params.followup_from_days and params.followup_to_days
),

final as (
    select
        baselines.person_id,
        baselines.instrument,
        baselines.item,
        baselines.survey_date as baseline_date,
        baselines.value as baseline_value,
        followups.survey_date as followup_date,
        followups.value as followup_value
    from baselines
    left join followups
        on baselines.person_id = followups.person_id
        and baselines.instrument = followups.instrument
        and (baselines.item is not distinct from followups.item)
        and followups.choice = 1
    where baselines.choice = 1
)

select * from final
