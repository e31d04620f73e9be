//! Scale-out: the SQL stage on a real Apache Ballista scheduler and executor,
//! started as processes bound to 127.0.0.1 (`sp-impact scheduler`, `sp-impact executor`),
//! gives byte-identical tables, results and report to the local engine.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sp_impact::synth::{Effects, SynthOptions, WorldKind};

use crate::util::{read_json, snapshot, synth_and_run};

/// A server process, killed when the test ends however it ends; its log is printed when
/// the test fails.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("{}:\n{log}", self.log.display());
        }
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

/// Starts `sp-impact ARGS` and waits until it accepts connections on 127.0.0.1:`port`.
fn serve(args: &[String], port: u16, log: PathBuf) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_sp-impact"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("sp-impact starts");
    let mut server = Server { child, log };
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("the server exited ({status})");
        }
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

#[test]
fn the_sql_stage_on_a_ballista_cluster_matches_the_local_engine_byte_for_byte() {
    let work = tempfile::tempdir().unwrap();
    let options = SynthOptions {
        persons: 6_000,
        seed: 13,
        world: WorldKind::LatentCrisis,
        effects: Effects::default_effect(),
        wellbeing_change: 3.0,
        defects: 0.001,
        threads: 2,
        gzip: Vec::new(),
        history_months: sp_impact::synth::DEFAULT_HISTORY_MONTHS,
    };
    let scheduler_port = free_port();
    let _scheduler = serve(
        &[
            "scheduler".into(),
            "--bind-host".into(),
            "127.0.0.1".into(),
            "--external-host".into(),
            "127.0.0.1".into(),
            "--bind-port".into(),
            scheduler_port.to_string(),
        ],
        scheduler_port,
        work.path().join("scheduler.log"),
    );
    let scheduler_url = format!("df://127.0.0.1:{scheduler_port}");
    let (flight_port, grpc_port) = (free_port(), free_port());
    let _executor = serve(
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
        flight_port,
        work.path().join("executor.log"),
    );

    // The same synthetic extracts (same seed) for both engines.
    let local = work.path().join("local");
    synth_and_run(&options, &local, &["--threads", "2"]);
    let cluster = work.path().join("ballista");
    let cluster_args = [
        "--threads",
        "2",
        "--engine",
        "ballista",
        "--scheduler",
        &scheduler_url,
    ];
    synth_and_run(&options, &cluster, &cluster_args);
    let (local_out, cluster_out) = (local.join("out"), cluster.join("out"));
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
        "person_month_use",
        "comparison_sets",
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
}
