-- model: stg_events
-- grain: one row per counted service-use event (GP demand or hospital activity)
-- depends_on: stg_gp_appointments, stg_hospital_activity, unit_costs, study_params, service_measures
-- test: relationships(measure -> service_measures.measure)
-- test: expression(cost_gbp >= 0)
-- GP demand = attended appointments with a GP, nurse or other clinician; the link worker's
-- own (social_prescriber) appointments, admin, DNAs and cancellations are never demand.
-- Costs (PSSRU 2024 / NCC 2023/24 via unit_costs; docs/domain.md, Unit costs): GP per minute of
-- recorded duration, a consultation when missing; nurse and other clinical staff per hour,
-- 15 minutes when missing; emergency admissions by length of stay (short stay < 2 days, also
-- when the stay is unknown); elective admissions classified as day cases at the day-case
-- cost; A&E attendances at type 3 or 4 departments (urgent treatment centre, minor injury
-- unit, walk-in centre) at their own cost; outpatients unless marked not attended (a blank
-- attended flag counts as attended); ambulance conveyances at the see-and-convey cost. With
-- `[costs] hospital = "record"` a hospital event that carries its own cost (cost_gbp, e.g.
-- the SUS tariff price) is costed at it instead, as recorded (not uprated). Every measure code
-- must be one of `service_measures` (the registry in pipeline/outcomes.rs), where its label,
-- unit and analyses are declared.

with

appointments as (select * from stg_gp_appointments),

hospital as (select * from stg_hospital_activity),

costs as (select * from unit_costs),

params as (select hospital_costing from study_params),

gp_demand as (
    select
        appointments.person_id,
        appointments.appointment_date as event_date,
        'gp_demand' as measure,
        case
            when appointments.hcp_type = 'gp'
                then coalesce(appointments.duration_minutes * costs.gp_per_minute_gbp, costs.gp_consultation_gbp)
            else coalesce(appointments.duration_minutes, costs.nurse_default_minutes) / 60.0 * costs.nurse_per_hour_gbp
        end as cost_gbp
    from appointments
    cross join costs
    where appointments.is_gp_demand
),

hospital_events as (
    select
        hospital.person_id,
        hospital.activity_date as event_date,
        case hospital.setting
            when 'ae' then 'ae_attendances'
            when 'emergency_admission' then 'emergency_admissions'
            when 'outpatient' then 'outpatient_attendances'
            when 'elective_admission' then 'elective_admissions'
            when 'ambulance' then 'ambulance_conveyances'
        end as measure,
        case
            when params.hospital_costing = 'record' and hospital.cost_gbp is not null
                then hospital.cost_gbp
            else
                case hospital.setting
                    when 'ae' then
                        case
                            when hospital.department_type in ('03', '04') then costs.ae_attendance_type_3_4_gbp
                            else costs.ae_attendance_gbp
                        end
                    when 'emergency_admission' then
                        case
                            when hospital.length_of_stay_days >= costs.long_stay_from_days
                                then costs.emergency_long_stay_gbp
                            else costs.emergency_short_stay_gbp
                        end
                    when 'outpatient' then costs.outpatient_attendance_gbp
                    when 'elective_admission' then
                        case
                            when hospital.patient_classification = 'day_case' then costs.day_case_gbp
                            else costs.elective_admission_gbp
                        end
                    when 'ambulance' then costs.ambulance_see_and_convey_gbp
                end
        end as cost_gbp
    from hospital
    cross join costs
    cross join params
    where hospital.setting in ('ae', 'emergency_admission', 'elective_admission', 'ambulance')
        or (hospital.setting = 'outpatient' and coalesce(hospital.attended, true))
),

final as (
    select * from gp_demand
    union all
    select * from hospital_events
)

select * from final
