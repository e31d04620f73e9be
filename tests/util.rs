//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::{Array, StringArray};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The bundled sample's folder.
pub fn sample_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data")
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The result of running the built binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `sp-impact` with `args`; a panic (exit 101) fails the calling test at once.
pub fn sp_impact(args: &[&str]) -> Run {
    sp_impact_in(Path::new("."), args)
}

/// Runs `sp-impact` with `args` in the working directory `dir`.
pub fn sp_impact_in(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_sp-impact"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the sp-impact binary runs");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_ne!(run.code, 101, "sp-impact panicked:\n{}", run.stderr);
    run
}

/// Runs `sp-impact query --format csv` over the finished run in `out`: the data rows (header
/// dropped), each split at commas.
pub fn query_csv(out: &Path, sql: &str) -> Vec<Vec<String>> {
    let query = sp_impact(&[
        "query",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "csv",
        sql,
    ]);
    assert_eq!(query.code, 0, "{}", query.stderr);
    query
        .stdout
        .lines()
        .skip(1)
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect()
}

/// Generates a synthetic dataset into `dir/data` and runs the evaluation on it with the sample
/// study configuration into `dir/out`; returns the truth and results.json.
pub fn synth_and_run(
    options: &sp_impact::synth::SynthOptions,
    dir: &Path,
    extra_args: &[&str],
) -> (sp_impact::synth::Truth, serde_json::Value) {
    let data = dir.join("data");
    let truth = sp_impact::synth::synth(options, &data, &sp_impact::progress::Progress::silent())
        .expect("synth runs");
    let config = fixtures().join("../../sample-data/study.toml");
    (
        truth,
        run_study(&config, &data, &dir.join("out"), extra_args),
    )
}

/// `sp-impact run -q --config config --data data --out out extra_args...`, which must exit 0;
/// returns results.json.
pub fn run_study(config: &Path, data: &Path, out: &Path, extra_args: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "run",
        "-q",
        "--config",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra_args);
    let run = sp_impact(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    read_json(&out.join("results.json"))
}

/// Copies every file of `from` into `to` (not recursive).
pub fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A column of a Parquet file as text (nulls as None), whatever its type.
pub fn parquet_column(path: &Path, column: &str) -> Vec<Option<String>> {
    let file = std::fs::File::open(path)
        .unwrap_or_else(|error| panic!("opening {}: {error}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut values = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let array = batch
            .column_by_name(column)
            .unwrap_or_else(|| panic!("{} has no column {column}", path.display()));
        let text = arrow::compute::cast(array, &DataType::Utf8).unwrap();
        let text = text.as_any().downcast_ref::<StringArray>().unwrap();
        values.extend(
            (0..text.len()).map(|row| text.is_valid(row).then(|| text.value(row).to_string())),
        );
    }
    values
}

/// Every file under `dir` (relative path, bytes), sorted; `manifest.json` (which records
/// timings by design) is left out.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else if path.file_name().unwrap() != "manifest.json" {
                files.push((
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                ));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    files
}
