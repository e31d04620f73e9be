//! The one integration test binary (ripgrep style): each module covers one capability.

// Shared helpers: temporary work folders, running the built binary, reading outputs.
mod util;

// Issue 2: the bad-input corpus, one asserted outcome per case.
mod ingest_corpus;
// Issue 2: Parquet and gzip inputs, determinism, and a seeded mutation sweep for panics.
mod ingest_behaviour;
// Hospital extracts in SUS+/NCDR, SUS Unified and HES layouts, read through input profiles.
mod ingest_profiles;
// Issue 2: keyed pseudonymisation of identifiers.
mod pseudonymise;
// Issue 3: synthetic extracts with known ground truth.
mod synth;
// Issue 4: the SQL model layer on a hand-worked fixture.
mod models_golden;
// Issue 4: run, check and query from the command line.
mod run_cli;
// Issue 5: the statistics core against scipy/statsmodels fixtures.
mod stats_oracles;
// Issue 5: estimates on synthetic data with a known answer.
mod estimate;
// The default design in every simulated world; index-day events; not-estimable DiDs.
mod worlds;
// Issue 7: the published report, in headless Chromium, and disclosure control.
mod report;
// Issue 9: determinism across thread counts, crash safety, owner-only restricted outputs.
mod reliability;
// Issue 8: the SQL stage on a real Ballista scheduler and executor on loopback.
#[cfg(feature = "distributed")]
mod distributed;
