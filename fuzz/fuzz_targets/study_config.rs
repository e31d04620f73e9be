//! The study-configuration parser: any text is a valid config or an error naming the key.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = sp_impact::config::StudyConfig::parse(text, std::path::Path::new("study.toml"));
});
