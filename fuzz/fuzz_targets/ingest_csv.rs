//! The CSV reader and row validator: the first byte picks the extract, the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sp_impact::ingest::contracts::ALL;
use sp_impact::ingest::source::Container;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let contract = ALL[usize::from(pick) % ALL.len()];
    let Ok(mut file) = tempfile::Builder::new().suffix(".csv").tempfile() else {
        return;
    };
    if std::io::Write::write_all(&mut file, bytes).is_err() {
        return;
    }
    // Any outcome but a panic is fine: loaded, quarantined or refused with a reason.
    let _ = sp_impact::ingest::check_file(contract.name, file.path(), Container::Csv);
});
