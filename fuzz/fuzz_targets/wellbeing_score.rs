//! The wellbeing scorer: any instrument, any item values (missing, out of range, extreme).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sp_impact::measures::INSTRUMENTS;

fuzz_target!(|data: (u8, Vec<Option<i32>>)| {
    let (pick, items) = data;
    let instrument = &INSTRUMENTS[usize::from(pick) % INSTRUMENTS.len()];
    if let Some(score) = instrument.score(&items) {
        assert!(score.is_finite(), "{} scored {score}", instrument.code);
        let _ = instrument.is_possible_score(score);
    }
});
