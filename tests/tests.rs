//! The one integration test binary (ripgrep style): each module covers one capability.

// Shared helpers: temporary work folders, running the built binary, reading outputs.
mod util;

// The ingest bad-input corpus, one asserted outcome per case.
mod ingest_corpus;
// Ingest of Parquet and gzip inputs, determinism, and a seeded mutation sweep for panics.
mod ingest_behaviour;
// Hospital extracts in SUS+/NCDR, SUS Unified and HES layouts, read through input profiles.
mod ingest_profiles;
// Keyed pseudonymisation of identifiers.
mod pseudonymise;
// Synthetic extracts with known ground truth.
mod synth;
// The SQL model layer on a hand-worked fixture.
mod models_golden;
// Run, check and query from the command line.
mod run_cli;
// The statistics core against scipy/statsmodels fixtures.
mod stats_oracles;
// Estimates on synthetic data with a known answer.
mod estimate;
// Documentation pointers name sections that exist in the repository.
mod docs;
// The default design in every simulated world; index-day events; not-estimable DiDs.
mod worlds;
// The published report, in headless Chromium, and disclosure control.
mod report;
// Determinism across thread counts, crash safety, owner-only restricted outputs.
mod reliability;
// The SQL stage on a real Ballista scheduler and executor on loopback.
#[cfg(feature = "distributed")]
mod distributed;
