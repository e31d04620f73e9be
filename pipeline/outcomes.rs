//! Service-use outcome measures: the one place that knows each.
//!
//! Every layer iterates [`MEASURES`]: the SQL panel (through the `service_measures` table,
//! which model tests check `stg_events.measure` against), the estimates (before/after, DiD,
//! placebo, event study, design sensitivity), the economics (one cost category per counted
//! measure), the report's labels and the command line's help. What a measure counts is
//! decided once, in `queries/staging/stg_events.sql`, which maps source rows to a measure
//! code and a cost.
//!
//! To add a measure: an entry here, its branch in `stg_events.sql`, its unit cost in
//! `unit-costs/*.csv`, and its rate in the synthetic world (`synth`). See
//! `docs/architecture.md`.

/// What a measure's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Counted events (a Poisson outcome).
    Events,
    /// Pounds: the cost of every counted measure together (a Poisson pseudo-ML outcome).
    Pounds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measure {
    /// Name in `stg_events.measure`, the panel and results.json.
    pub code: &'static str,
    /// Name in the report.
    pub label: &'static str,
    /// One of its events, in a sentence ("avoiding one emergency admission"); empty for cost.
    pub event: &'static str,
    pub unit: Unit,
    /// The unit costs that price it, as named in the economics' one-way sensitivity (counted
    /// measures only).
    pub unit_cost_label: &'static str,
    /// Estimated under every candidate comparison design and compared across them (design
    /// sensitivity, E-values): the measures a referral is expected to change.
    pub compared_across_designs: bool,
}

/// Every analysed measure, in results and report order: the counted measures, then total cost.
pub const MEASURES: &[Measure] = &[
    Measure {
        code: "gp_demand",
        label: "GP demand",
        event: "GP or nurse appointment",
        unit: Unit::Events,
        unit_cost_label: "GP demand unit costs",
        compared_across_designs: true,
    },
    Measure {
        code: "ae_attendances",
        label: "A&E attendances",
        event: "A&E attendance",
        unit: Unit::Events,
        unit_cost_label: "A&E attendance unit cost",
        compared_across_designs: true,
    },
    Measure {
        code: "emergency_admissions",
        label: "Emergency admissions",
        event: "emergency admission",
        unit: Unit::Events,
        unit_cost_label: "Emergency admission unit costs",
        compared_across_designs: true,
    },
    Measure {
        code: "outpatient_attendances",
        label: "Outpatient attendances",
        event: "outpatient attendance",
        unit: Unit::Events,
        unit_cost_label: "Outpatient attendance unit cost",
        compared_across_designs: false,
    },
    Measure {
        code: "elective_admissions",
        label: "Elective admissions",
        event: "elective admission",
        unit: Unit::Events,
        unit_cost_label: "Elective admission unit cost",
        compared_across_designs: false,
    },
    Measure {
        code: "ambulance_conveyances",
        label: "Ambulance conveyances",
        event: "ambulance conveyance",
        unit: Unit::Events,
        unit_cost_label: "Ambulance see-and-convey unit cost",
        compared_across_designs: false,
    },
    Measure {
        code: "total_cost",
        label: "Total NHS cost",
        event: "",
        unit: Unit::Pounds,
        unit_cost_label: "",
        compared_across_designs: true,
    },
];

impl Measure {
    pub fn is_cost(&self) -> bool {
        self.unit == Unit::Pounds
    }

    /// Its column in the wide panel of [`wide_panel_sql`]: events under the measure's code,
    /// total cost in pounds as `total_cost_gbp`.
    pub fn panel_column(&self) -> String {
        match self.unit {
            Unit::Events => self.code.to_string(),
            Unit::Pounds => format!("{}_gbp", self.code),
        }
    }

    /// Its events in a sentence, plural ("emergency admissions avoided").
    pub fn events(&self) -> String {
        format!("{}s", self.event)
    }

    /// The unit of its rates in results.json.
    pub fn rate_unit(&self) -> &'static str {
        match self.unit {
            Unit::Events => "events per person-year",
            Unit::Pounds => "GBP per person-year",
        }
    }
}

/// How many counted measures there are (every measure but total cost).
pub const COUNTED: usize = {
    let mut count = 0;
    let mut index = 0;
    while index < MEASURES.len() {
        if matches!(MEASURES[index].unit, Unit::Events) {
            count += 1;
        }
        index += 1;
    }
    count
};

/// The counted measures (rows of `stg_events`), in order.
pub fn counted() -> impl Iterator<Item = &'static Measure> {
    MEASURES.iter().filter(|measure| !measure.is_cost())
}

/// The measures compared across designs, in order.
pub fn compared_across_designs() -> impl Iterator<Item = &'static Measure> {
    MEASURES
        .iter()
        .filter(|measure| measure.compared_across_designs)
}

/// The measure with this code.
pub fn by_code(code: &str) -> Option<&'static Measure> {
    MEASURES.iter().find(|measure| measure.code == code)
}

/// The report label of a measure code (the code itself when it is not a measure).
pub fn label(code: &str) -> &str {
    by_code(code).map_or(code, |measure| measure.label)
}

/// SQL columns that turn the long `person_month_use` rows (alias `use_rows`) of one group into
/// one column per counted measure and its cost, plus `total_cost_gbp`: for queries grouped
/// by person and month. Costs are summed as whole micro-pounds, as the panel stores them,
/// so the totals do not depend on the order rows are added in.
fn wide_use_columns() -> String {
    let mut columns = Vec::new();
    for measure in counted() {
        let code = measure.code;
        columns.push(format!(
            "sum(case when use_rows.measure = '{code}' then use_rows.events else 0 end) as {code}"
        ));
    }
    for measure in counted() {
        let code = measure.code;
        columns.push(format!(
            "cast(sum(case when use_rows.measure = '{code}' then use_rows.cost_micro_gbp else 0 end) as double) / 1000000.0 as {code}_cost_gbp"
        ));
    }
    columns.push(
        "cast(sum(use_rows.cost_micro_gbp) as double) / 1000000.0 as total_cost_gbp".to_string(),
    );
    columns.join(",\n    ")
}

/// The person-month panel of the people in `people` (a table with `person_id`, joined as `m`)
/// with their use, one row per person and month with a column per counted measure (0 where
/// the month has none), `<measure>_cost_gbp` and `total_cost_gbp`; `select` and `order`
/// complete the query over `p` (person_months) and `m` (no `order`: rows in any order). The use is restricted to those people
/// before it is pivoted, so the pivot reads their rows only, not the whole panel's.
pub fn wide_panel_sql(select: &str, people: &str, order: &str) -> String {
    let coalesced: Vec<String> = counted()
        .flat_map(|measure| {
            let code = measure.code;
            [
                format!("coalesce(use_wide.{code}, 0) as {code}"),
                format!("coalesce(use_wide.{code}_cost_gbp, 0.0) as {code}_cost_gbp"),
            ]
        })
        .chain(["coalesce(use_wide.total_cost_gbp, 0.0) as total_cost_gbp".to_string()])
        .collect();
    format!(
        "with use_wide as (\n    select use_rows.person_id, use_rows.relative_month,\n    {}\n    \
         from person_month_use as use_rows\n    \
         where use_rows.person_id in (select person_id from {people})\n    \
         group by use_rows.person_id, use_rows.relative_month\n)\n\
         select {select}, {} from person_months as p \
         inner join {people} as m on p.person_id = m.person_id \
         left join use_wide on p.person_id = use_wide.person_id and p.relative_month = use_wide.relative_month{}",
        wide_use_columns(),
        coalesced.join(", "),
        if order.is_empty() {
            String::new()
        } else {
            format!(" order by {order}")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_total_cost_is_last() {
        let codes: std::collections::BTreeSet<_> = MEASURES.iter().map(|m| m.code).collect();
        assert_eq!(codes.len(), MEASURES.len());
        assert_eq!(MEASURES.last().map(|m| m.unit), Some(Unit::Pounds));
        assert_eq!(MEASURES.iter().filter(|m| m.is_cost()).count(), 1);
        assert!(counted().all(|m| !m.unit_cost_label.is_empty()));
    }

    #[test]
    fn every_counted_measure_is_produced_by_stg_events() {
        // The other direction (every code stg_events produces is registered) is the model's
        // relationships test against `service_measures`.
        let sql = include_str!("../queries/staging/stg_events.sql");
        for measure in counted() {
            assert!(
                sql.contains(&format!("'{}'", measure.code)),
                "{} is registered but stg_events.sql never produces it",
                measure.code
            );
        }
    }

    #[test]
    fn labels_fall_back_to_the_code() {
        assert_eq!(label("ae_attendances"), "A&E attendances");
        assert_eq!(label("something_else"), "something_else");
    }
}
