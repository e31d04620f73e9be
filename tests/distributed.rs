//! Scale-out (issue 8): the SQL stage on a real Apache Ballista scheduler and executor,
//! started as processes bound to 127.0.0.1 (`sp-impact scheduler`, `sp-impact executor`),
//! gives byte-identical tables, results and report to the local engine.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sp_impact::synth::{Effects, SynthOptions};

use crate::util::{fixtures, read_json, snapshot, sp_impact};

/// A server process, killed when the test ends however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port free on loopback now (the OS picks it; the listener is closed at once).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(args: &[String], log: &Path) -> Server {
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sp-impact"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("sp-impact starts");
    Server(child)
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
fn wait_for_port(port: u16, server: &mut Server, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!(
                "the server exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run_args(data: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let config = fixtures().join("../../sample-data/study.toml");
    let mut args: Vec<String> = [
        "run",
        "-q",
        "--config",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    args.extend(extra.iter().map(|arg| arg.to_string()));
    args
}

#[test]
fn the_sql_stage_on_a_ballista_cluster_matches_the_local_engine_byte_for_byte() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let options = SynthOptions {
        persons: 6_000,
        seed: 13,
        effects: Effects::default_effect(),
        wellbeing_change: 3.0,
        defects: 0.001,
        threads: 2,
        gzip: Vec::new(),
    };
    sp_impact::synth::synth(&options, &data, &sp_impact::progress::Progress::silent()).unwrap();

    let scheduler_port = free_port();
    let scheduler_log = work.path().join("scheduler.log");
    let mut scheduler = serve(
        &[
            "scheduler".into(),
            "--bind-host".into(),
            "127.0.0.1".into(),
            "--external-host".into(),
            "127.0.0.1".into(),
            "--bind-port".into(),
            scheduler_port.to_string(),
        ],
        &scheduler_log,
    );
    wait_for_port(scheduler_port, &mut scheduler, &scheduler_log);
    let scheduler_url = format!("df://127.0.0.1:{scheduler_port}");
    let (flight_port, grpc_port) = (free_port(), free_port());
    let executor_log = work.path().join("executor.log");
    let mut executor = serve(
        &[
            "executor".into(),
            "--scheduler".into(),
            scheduler_url.clone(),
            "--bind-host".into(),
            "127.0.0.1".into(),
            "--external-host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            flight_port.to_string(),
            "--grpc-port".into(),
            grpc_port.to_string(),
            "--concurrent-tasks".into(),
            "2".into(),
        ],
        &executor_log,
    );
    wait_for_port(flight_port, &mut executor, &executor_log);

    let local_out = work.path().join("local");
    let local = sp_impact(
        &run_args(&data, &local_out, &["--threads", "2"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(local.code, 0, "{}", local.stderr);

    let cluster_out = work.path().join("ballista");
    let cluster = sp_impact(
        &run_args(
            &data,
            &cluster_out,
            &[
                "--threads",
                "2",
                "--engine",
                "ballista",
                "--scheduler",
                &scheduler_url,
            ],
        )
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    assert_eq!(
        cluster.code,
        0,
        "{}\nscheduler log:\n{}\nexecutor log:\n{}",
        cluster.stderr,
        std::fs::read_to_string(&scheduler_log).unwrap_or_default(),
        std::fs::read_to_string(&executor_log).unwrap_or_default()
    );
    let manifest = read_json(&cluster_out.join("manifest.json"));
    assert_eq!(manifest["engine"]["kind"], "ballista");
    assert_eq!(manifest["engine"]["scheduler"], scheduler_url.as_str());

    // The report names the engine it ran on (reproducibility section); nothing else may differ.
    let engine_named = |files: Vec<(PathBuf, Vec<u8>)>| -> Vec<(PathBuf, Vec<u8>)> {
        files
            .into_iter()
            .map(|(name, bytes)| {
                if name.starts_with("published") && name.extension().is_some_and(|ext| ext != "png")
                {
                    let text = String::from_utf8(bytes).unwrap();
                    (
                        name,
                        text.replace("engine ballista", "engine local").into_bytes(),
                    )
                } else {
                    (name, bytes)
                }
            })
            .collect()
    };
    let local_files = snapshot(&local_out);
    let cluster_files = engine_named(snapshot(&cluster_out));
    let names = |files: &[(PathBuf, Vec<u8>)]| -> Vec<PathBuf> {
        files.iter().map(|(name, _)| name.clone()).collect()
    };
    assert_eq!(names(&local_files), names(&cluster_files));
    for table in [
        "person_months",
        "matched_sets",
        "cohort_flow",
        "participation",
    ] {
        let name = format!("tables/{table}.parquet");
        assert!(
            local_files.iter().any(|(path, _)| path.ends_with(&name)),
            "{name} missing"
        );
    }
    let differing: Vec<String> = local_files
        .iter()
        .zip(&cluster_files)
        .filter(|((_, one), (_, other))| one != other)
        .map(|((name, _), _)| name.display().to_string())
        .collect();
    assert!(
        differing.is_empty(),
        "differ between the local engine and Ballista: {differing:?}"
    );
    let report = std::fs::read_to_string(cluster_out.join("published/report.md")).unwrap();
    assert!(
        report.contains("engine ballista"),
        "the report names the engine"
    );
    drop(executor);
    drop(scheduler);
}
