-- model: stg_hospital_activity
-- grain: one row per hospital event (A&E, outpatient, admission, ambulance)
-- depends_on: hospital_activity
-- test: expression(length_of_stay_days is null or length_of_stay_days >= 0)
-- Length of stay in days for admissions (discharge - admission date; null when not
-- discharged or not an admission).

with

hospital as (select * from hospital_activity),

final as (
    select
        hospital.*,
        case
            when hospital.setting in ('emergency_admission', 'elective_admission')
                then cast(hospital.discharge_date as int) - cast(hospital.activity_date as int)
        end as length_of_stay_days
    from hospital
)

select * from final
