//! The date parser, with no format fixed yet and with each format fixed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sp_impact::ingest::fields::{DateFormat, parse_date};

fuzz_target!(|text: &str| {
    let mut unfixed = None;
    if let Ok(date) = parse_date(text, &mut unfixed) {
        // A date that parses is within the supported range and round-trips through days.
        let days = sp_impact::calendar::days_since_epoch(date);
        assert_eq!(sp_impact::calendar::date_from_days(days), Some(date));
    }
    for format in [DateFormat::Iso, DateFormat::Uk] {
        let _ = parse_date(text, &mut Some(format));
    }
});
