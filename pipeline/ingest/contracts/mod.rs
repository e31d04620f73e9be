//! The input contracts, one module per extract (README "Input extracts").
//!
//! To add an extract: write a module with its `CONTRACT` (its columns, key, rules and the
//! columns that refer to other extracts) and list it in [`ALL`]. Ingest loads an extract after
//! the ones it refers to ([`load_waves`]).

use super::contract::Contract;

pub mod activities;
pub mod gp_appointments;
pub mod hospital_activity;
pub mod patients;
pub mod referrals;
pub mod wellbeing;

/// Every contract (reports list extracts in this order).
pub const ALL: &[&Contract] = &[
    &patients::CONTRACT,
    &referrals::CONTRACT,
    &wellbeing::CONTRACT,
    &gp_appointments::CONTRACT,
    &hospital_activity::CONTRACT,
    &activities::CONTRACT,
];

/// A contract by its extract name.
pub fn by_name(name: &str) -> Option<&'static Contract> {
    ALL.iter().copied().find(|contract| contract.name == name)
}

/// The contracts in groups to load one after another: each group refers only to extracts
/// of earlier groups, so its extracts can load side by side once those keys are read.
pub fn load_waves() -> Vec<Vec<&'static Contract>> {
    let mut pending: Vec<&'static Contract> = ALL.to_vec();
    let mut waves = Vec::new();
    while !pending.is_empty() {
        let waiting = |contract: &Contract| {
            contract.references.iter().any(|reference| {
                pending
                    .iter()
                    .any(|other| other.name == reference.extract && other.name != contract.name)
            })
        };
        let (ready, later): (Vec<_>, Vec<_>) = pending
            .iter()
            .copied()
            .partition(|contract| !waiting(contract));
        assert!(
            !ready.is_empty(),
            "contracts refer to each other in a cycle"
        );
        waves.push(ready);
        pending = later;
    }
    waves
}

/// Whether rows of `extract` must remember their person_id: another extract refers to them
/// and requires the same person.
pub fn keeps_owner(extract: &str) -> bool {
    ALL.iter().any(|contract| {
        contract
            .references
            .iter()
            .any(|reference| reference.extract == extract && reference.same_person)
    })
}

/// Rules for contracts with no cross-column rules.
pub(crate) fn no_rules(
    _: &mut super::contract::Row<'_>,
) -> Result<(), super::contract::RowProblem> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::contract::Kind;

    /// Each reference names a column of its contract and the unique key of another extract,
    /// and an extract loads once the extracts it refers to are loaded.
    #[test]
    fn references_point_at_unique_keys_and_order_the_load() {
        for contract in ALL {
            for reference in contract.references {
                assert!(
                    contract.index(reference.column).is_some(),
                    "{}",
                    contract.name
                );
                let target = by_name(reference.extract).expect("a known extract");
                assert_eq!(
                    target.unique_key,
                    Some(reference.column),
                    "{}",
                    contract.name
                );
            }
        }
        let names: Vec<Vec<&str>> = load_waves()
            .iter()
            .map(|wave| wave.iter().map(|contract| contract.name).collect())
            .collect();
        assert_eq!(
            names,
            [
                vec!["patients"],
                vec!["referrals", "gp_appointments", "hospital_activity"],
                vec!["wellbeing", "activities"],
            ]
        );
        assert!(keeps_owner("referrals") && !keeps_owner("patients"));
    }

    /// `CodeSet::normalise` compares ignoring ASCII case, which is a lower-casing lookup only
    /// if every spelling is lower case.
    #[test]
    fn code_spellings_are_lower_case() {
        for contract in ALL {
            for column in contract.columns {
                if let Kind::Code(codes) | Kind::CodeList(codes) = column.kind {
                    for (spelling, _) in codes.spellings {
                        assert_eq!(
                            *spelling,
                            spelling.to_lowercase(),
                            "{}.{}",
                            contract.name,
                            column.name
                        );
                    }
                }
            }
        }
    }
}
