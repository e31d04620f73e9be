-- model: stg_gp_appointments
-- grain: one row per general-practice appointment
-- depends_on: gp_appointments
-- test: accepted_values(status: 'attended', 'dna', 'cancelled', 'unknown')
-- is_gp_demand: attended, with a GP, nurse or other clinician (docs/domain.md, GP demand); the link
-- worker's own social_prescriber appointments are the intervention, never demand.

with

appointments as (select * from gp_appointments),

final as (
    select
        appointments.*,
        appointments.status = 'attended'
            and appointments.hcp_type in ('gp', 'nurse', 'other_clinical') as is_gp_demand
    from appointments
)

select * from final
