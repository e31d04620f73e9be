//! The input contracts, one module per extract (README "Input extracts").
//!
//! To add an extract: write a module with its `CONTRACT`, and list it in [`ALL`] in the order
//! it must be loaded (an extract is loaded after the ones it refers to).

use super::contract::Contract;

pub mod activities;
pub mod gp_appointments;
pub mod hospital_activity;
pub mod patients;
pub mod referrals;
pub mod wellbeing;

/// Every contract, in load order: patients first (others refer to person_id), then
/// referrals (wellbeing and activities refer to referral_id), then the rest.
pub const ALL: [&Contract; 6] = [
    &patients::CONTRACT,
    &referrals::CONTRACT,
    &wellbeing::CONTRACT,
    &gp_appointments::CONTRACT,
    &hospital_activity::CONTRACT,
    &activities::CONTRACT,
];

/// A contract by its extract name.
pub fn by_name(name: &str) -> Option<&'static Contract> {
    ALL.into_iter().find(|contract| contract.name == name)
}

/// Rules for contracts with no cross-column rules.
pub(crate) fn no_rules(
    _: &mut super::contract::Row<'_>,
) -> Result<(), super::contract::RowProblem> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ALL;
    use crate::ingest::contract::Kind;

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
