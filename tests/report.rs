//! The published report: it renders in a real headless Chromium with every section,
//! it is self-contained, and nothing under published/ carries a small or unrounded count or
//! an identifier from the input.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use sp_impact::synth::{Effects, SynthOptions, WorldKind};

use crate::util::{fixtures, read_json, run_study};

/// A small synthetic service (so some counts are small), run end to end.
fn small_run(dir: &Path) -> serde_json::Value {
    let options = SynthOptions {
        persons: 6_000,
        seed: 7,
        world: WorldKind::LatentCrisis,
        effects: Effects::default_effect(),
        wellbeing_change: 3.0,
        defects: 0.002,
        threads: 2,
        gzip: Vec::new(),
        history_months: sp_impact::synth::DEFAULT_HISTORY_MONTHS,
    };
    // The sample's study, with a practice-to-PCN lookup for the PCN view (the third practice
    // in a PCN of its own).
    let data = dir.join("data");
    sp_impact::synth::synth(&options, &data, &sp_impact::progress::Progress::silent()).unwrap();
    let sample = std::fs::read_to_string(fixtures().join("../../sample-data/study.toml")).unwrap();
    let config = dir.join("study.toml");
    std::fs::write(
        &config,
        format!("{sample}\n[inputs]\npcn_lookup = \"pcns.csv\"\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("pcns.csv"),
        "practice_code,pcn_code,pcn_name\nA81001,U00001,Riverside PCN\nA81002,U00001,Riverside PCN\nA81003,U00002,Hillside PCN\n",
    )
    .unwrap();
    run_study(&config, &data, &dir.join("out"), &[])
}

const SECTIONS: [&str; 14] = [
    "verdict",
    "summary",
    "comparison",
    "methods",
    "cohort",
    "wellbeing",
    "service-use",
    "economics",
    "equity",
    "practices",
    "data-quality",
    "limitations",
    "appendix",
    "reproducibility",
];

/// Debian's chromium, or $SP_IMPACT_CHROMIUM. On a fresh Debian machine where the tests run
/// as root (a container, CI) and Chromium is missing, it is installed here with apt-get, as
/// `.ci/run` does, so the README's one test command is all a newcomer runs; otherwise the
/// failure says how to install it.
fn chromium() -> PathBuf {
    static FOUND: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    let find = || {
        [
            std::env::var("SP_IMPACT_CHROMIUM").unwrap_or_default(),
            "/usr/bin/chromium".into(),
            "/usr/bin/chromium-browser".into(),
        ]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
    };
    FOUND
        .get_or_init(|| find().or_else(|| install_chromium().then(find).flatten()))
        .clone()
        .expect("headless Chromium is needed for the report test: sudo apt-get install chromium (.ci/run installs it), or set SP_IMPACT_CHROMIUM")
}

/// Installs Debian's chromium when the tests run as root on a machine with apt-get.
fn install_chromium() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0");
    if !root || !Path::new("/usr/bin/apt-get").is_file() {
        return false;
    }
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|status| status.success())
    };
    apt(&["update", "-qq"]) && apt(&["install", "-y", "-qq", "chromium"])
}

fn headless(work: &Path, extra: &[String], page: &Path) -> std::process::Output {
    let profile = work.join("chromium-profile");
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium starts")
}

#[test]
fn report_renders_in_headless_chromium_with_every_section() {
    let work = tempfile::tempdir().unwrap();
    let results = small_run(work.path());
    let published = work.path().join("out/published");
    let page = published.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();

    // Self-contained: no script, no stylesheet link, nothing fetched from anywhere.
    for forbidden in [
        "<script",
        "<link",
        "src=\"http",
        "href=\"http",
        "url(",
        "<img",
        "<iframe",
    ] {
        assert!(
            !html.contains(forbidden),
            "report.html contains {forbidden}"
        );
    }

    // The table cells' classes are theirs alone: a card or figure styled as "number" or
    // "count" would put its box, border and padding around every numeric cell.
    for class in ["number", "count"] {
        let used = format!("class=\"{class}\"");
        assert_eq!(
            html.matches(&used).count(),
            html.matches(&format!("<td {used}")).count(),
            "class {class} is used outside table cells"
        );
    }

    // Every inline chart has a text alternative.
    let charts = html.matches("<svg ").count();
    let labelled = html.matches("<svg role=\"img\" aria-label=\"").count();
    assert!(
        charts > 5 && labelled == charts,
        "{labelled} of {charts} charts labelled"
    );

    let dom = headless(work.path(), &["--dump-dom".into()], &page);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    for section in SECTIONS {
        assert!(
            dom_text.contains(&format!("<section id=\"{section}\"")),
            "the rendered page has no {section} section"
        );
    }
    // Every chart was parsed into the DOM as SVG.
    let figures = dom_text.matches("<figure id=\"figure-").count();
    let svgs = dom_text.matches("<svg").count();
    assert!(figures >= 9, "only {figures} figures rendered");
    assert!(svgs >= figures, "{svgs} SVG elements for {figures} figures");
    for chart in [
        "forest_rate_ratios",
        "payback_curve",
        "tornado",
        "two_way_cost_and_effect",
        "cost_effectiveness_plane",
        "cost_effectiveness_acceptability",
        "balance_love_plot",
        "referral_funnel",
        "cohort_flow",
        "event_study_gp_demand",
        "equity_forest",
        "practice_funnel",
        "pcn_funnel",
        "comparison_forest",
    ] {
        assert!(
            dom_text.contains(&format!("figure-{chart}")),
            "no {chart} chart"
        );
        assert!(published.join(format!("charts/{chart}.png")).is_file());
        assert!(published.join(format!("charts/{chart}.svg")).is_file());
    }
    assert!(
        dom_text.contains("figure-wellbeing_change_"),
        "no wellbeing change chart"
    );
    // Every chart's note (what is drawn, the source) fits the two lines a chart has for it.
    for figure in html.split("<figure id=\"figure-").skip(1) {
        let label = figure.split("aria-label=\"").nth(1).unwrap();
        let label = label.split('"').next().unwrap();
        let title = figure.split("<figcaption>").nth(1).unwrap();
        let title = title.split("</figcaption>").next().unwrap();
        let note = label.strip_prefix(&format!("{title}. ")).unwrap_or(label);
        assert!(
            note_lines(note, 125) <= 2,
            "the note of {title} is cut short: {note}"
        );
    }
    // No page errors and no blocked or failed loads.
    for problem in ["Uncaught", "net::ERR", "Not allowed to load"] {
        assert!(
            !log.contains(problem),
            "chromium reported {problem}:\n{log}"
        );
    }
    // The summary carries the headline numbers from results.json, as published.
    let gp = results["service_use"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["measure"] == "gp_demand")
        .unwrap();
    let rate_ratio = gp["did"]["rate_ratio"].as_f64().unwrap();
    assert!(
        dom_text.contains(&format!("rate ratio {rate_ratio:.2}")),
        "summary lacks the DiD rate ratio"
    );

    // And it paints: a full-page screenshot is a real, non-trivial PNG.
    let png = screenshot(work.path(), &page, "report-top", (1200, 4000));
    assert!(png.len() > 50_000, "screenshot of {} bytes", png.len());

    // The first page as a commissioner sees it, kept as a test artefact to look at.
    screenshot(work.path(), &page, "report-first-page", (1100, 1500));
    for question in [
        "Did NHS use fall?",
        "Did wellbeing improve?",
        "Does it pay for its cost within 24 months?",
    ] {
        assert!(
            dom_text.contains(question),
            "the first page lacks {question}"
        );
    }

    // The comparison with published evaluations and the practice view as a commissioner
    // sees them (the page with every other section hidden), kept as test artefacts to look
    // at: report-comparison.png and report-practices.png.
    for section in ["comparison", "practices"] {
        let only = published.join(format!("report-{section}.html"));
        let style = format!(
            "section {{ display: none; }} section#{section} {{ display: block; }}\n</style>"
        );
        std::fs::write(&only, html.replacen("</style>", &style, 1)).unwrap();
        let png = screenshot(
            work.path(),
            &only,
            &format!("report-{section}"),
            (1100, 1800),
        );
        assert!(png.len() > 20_000);
        std::fs::remove_file(&only).unwrap();
    }
    assert!(
        dom_text.contains("people were referred per 1,000 registered patients"),
        "the practice view lacks its rate"
    );
    // With the study's PCN lookup, the same view PCN by PCN.
    assert!(
        dom_text.contains("Across the 2 PCNs")
            && dom_text.contains("Riverside PCN (U00001)")
            && dom_text.contains("Hillside PCN (U00002)"),
        "the PCN view is missing"
    );
    for study in [
        "Wilding et al. 2025",
        "Polley et al. 2017",
        "doi:10.1186/s12913-017-2778-y",
    ] {
        assert!(dom_text.contains(study), "the comparison lacks {study}");
    }

    // Printed to A4 PDF (run --pdf) by the same browser: a real PDF of A4 pages
    // (595 x 842 points), one or more per section.
    let pdf = sp_impact::report::pdf::print(&chromium(), &published).unwrap();
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    let text = String::from_utf8_lossy(&bytes);
    let a4_pages = text
        .split("/MediaBox [0 0 ")
        .skip(1)
        .filter(|page| {
            let size: Vec<f64> = page
                .split(']')
                .next()
                .unwrap()
                .split_whitespace()
                .map(|number| number.parse().unwrap())
                .collect();
            (594.0..596.0).contains(&size[0]) && (841.0..843.0).contains(&size[1])
        })
        .count();
    assert!(
        a4_pages >= SECTIONS.len() - 1,
        "{a4_pages} A4 pages for {} sections",
        SECTIONS.len()
    );

    // The Markdown twin has the same sections.
    let markdown = std::fs::read_to_string(published.join("report.md")).unwrap();
    for heading in [
        "## The answers in brief",
        "## Summary for commissioners",
        "## How this compares",
        "## How this was evaluated",
        "## Cohort and balance",
        "## Wellbeing",
        "## Service use",
        "## Economics",
        "## Equity",
        "## Practices",
        "## Data quality",
        "## Limitations",
        "## Technical appendix: every option used",
        "## Reproducibility",
    ] {
        assert!(markdown.contains(heading), "report.md lacks {heading}");
    }
}

/// How many lines a chart note takes, wrapped at spaces to `width` characters as
/// `charts::wrap` does.
fn note_lines(note: &str, width: usize) -> usize {
    let mut lines: Vec<usize> = Vec::new();
    for word in note.split(' ') {
        match lines.last_mut() {
            Some(line) if *line + 1 + word.len() <= width => *line += 1 + word.len(),
            _ => lines.push(word.len()),
        }
    }
    lines.len()
}

/// A `width` x `height` screenshot of `page` in headless Chromium, kept as the test artefact
/// `$CARGO_TARGET_TMPDIR/<name>.png` to look at; its bytes, checked to be a PNG.
fn screenshot(work: &Path, page: &Path, name: &str, (width, height): (u32, u32)) -> Vec<u8> {
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.png"));
    let run = headless(
        work,
        &[
            format!("--screenshot={}", shot.display()),
            format!("--window-size={width},{height}"),
        ],
        page,
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    png
}

/// Whether a published count obeys the rule: "*", 0, or a multiple of 5 above 7.
fn publishable_count(text: &str) -> bool {
    let text = text.trim();
    if text == "*" {
        return true;
    }
    match text.replace(',', "").parse::<u64>() {
        Ok(0) => true,
        Ok(n) => n > 7 && n % 5 == 0,
        Err(_) => false,
    }
}

/// The published tables' columns of words; every other column is numeric.
const TEXT_COLUMNS: [&str; 28] = [
    "step",
    "covariate",
    "design",
    "scenario",
    "parameter",
    "variation",
    "item",
    "unit",
    "source",
    "breakdown",
    "level",
    "measure",
    "route",
    "activity_type",
    "instrument",
    "group",
    "extract",
    "file",
    "reasons",
    "scale",
    "practice_code",
    "position",
    "study",
    "population",
    "follow_up",
    "finding",
    "citation",
    "pcn",
];

/// A tidy CSV: every column but the words holds a plain number or nothing ("1,234", "£5",
/// "12%", "<0.001" and "0.8 to 0.9" are the report's, not the CSV's); a `*_count` column holds
/// the published count as an integer (0, or a multiple of 5 above 7), or is empty with `true`
/// in its `*_count_suppressed` flag; a flag is `true` or `false`, and `true` only beside an
/// empty value. Returns the counts checked and the suppressed ones.
fn assert_tidy_csv(path: &Path) -> (usize, usize) {
    let name = path.display().to_string();
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |key: &str| headers.iter().position(|header| header == key);
    let (mut checked, mut suppressed) = (0, 0);
    for record in reader.records() {
        let record = record.unwrap();
        for (index, header) in headers.iter().enumerate() {
            if let Some(value_key) = header.strip_suffix("_suppressed") {
                let flag = &record[index];
                assert!(
                    flag == "true" || flag == "false",
                    "{name}: {header} = {flag}"
                );
                if let (Some(value), "true") = (column(value_key), flag) {
                    assert_eq!(
                        &record[value], "",
                        "{name}: {value_key} suppressed but shown"
                    );
                }
            }
            if !TEXT_COLUMNS.contains(&header) && !header.ends_with("_suppressed") {
                let value = &record[index];
                assert!(
                    value.is_empty() || value.parse::<f64>().is_ok_and(f64::is_finite),
                    "{name}: {header} = {value} is not a number"
                );
            }
            if !header.ends_with("_count") {
                continue;
            }
            let value = &record[index];
            let flag = column(&format!("{header}_suppressed"))
                .map(|flag| &record[flag])
                .unwrap_or_else(|| panic!("{name}: {header} has no _suppressed flag"));
            if value.is_empty() {
                assert_eq!(flag, "true", "{name}: {header} empty but not flagged");
                suppressed += 1;
            } else {
                assert!(
                    !value.contains(',') && publishable_count(value),
                    "{name}: {header} = {value}"
                );
            }
            checked += 1;
        }
    }
    (checked, suppressed)
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Checks everything under `published`: counts in CSV `*_count` columns and HTML count cells
/// follow the rule; no person_id of `patients.csv`, no NHS number and no date of birth
/// column appears anywhere (text files, SVG included). Returns the number of suppressed cells.
pub fn assert_publishable(published: &Path, data: &Path) -> usize {
    let patients = std::fs::read_to_string(data.join("patients.csv")).unwrap();
    let person_ids: HashSet<&str> = patients
        .lines()
        .skip(1)
        .filter_map(|line| line.split(',').next())
        .collect();
    assert!(person_ids.len() > 100);
    let mut suppressed = 0;
    let mut counts_checked = 0;
    for path in files_under(published) {
        let name = path.display().to_string();
        if name.ends_with(".png") {
            let bytes = std::fs::read(&path).unwrap();
            assert!(bytes.starts_with(b"\x89PNG"), "{name} is not a PNG");
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for token in text.split(|ch: char| !ch.is_ascii_alphanumeric()) {
            assert!(
                !person_ids.contains(token),
                "{name} contains person_id {token}"
            );
            assert!(
                !(token.len() == 10 && sp_impact::ingest::fields::is_nhs_number(token)),
                "{name} contains an NHS number"
            );
        }
        assert!(
            !text.contains("year_of_birth") && !text.contains("date_of_birth"),
            "{name}"
        );
        if name.ends_with(".csv") {
            let (checked, flagged) = assert_tidy_csv(&path);
            counts_checked += checked;
            suppressed += flagged;
        }
        if name.ends_with(".html") {
            for cell in text.split("<td class=\"count\">").skip(1) {
                let value = cell.split("</td>").next().unwrap();
                assert!(publishable_count(value), "{name}: count cell {value}");
                counts_checked += 1;
            }
        }
    }
    assert!(
        counts_checked > 50,
        "only {counts_checked} counts found to check"
    );
    suppressed
}

#[test]
fn published_outputs_carry_no_small_or_unrounded_count_and_no_identifier() {
    let work = tempfile::tempdir().unwrap();
    let results = small_run(work.path());
    let published = work.path().join("out/published");
    let suppressed = assert_publishable(&published, &work.path().join("data"));
    assert!(
        suppressed > 0,
        "a small service must have some suppressed counts"
    );

    // The one mechanism, checked against the exact figures: each cohort-flow step is the
    // exact count suppressed or rounded.
    let mut reader = csv::Reader::from_path(published.join("tables/cohort_flow.csv")).unwrap();
    assert_eq!(
        reader.headers().unwrap(),
        vec!["step", "persons_count", "persons_count_suppressed"]
    );
    let published_flow: Vec<(String, String)> = reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            let shown = if &record[2] == "true" {
                "*"
            } else {
                &record[1]
            };
            (record[0].to_string(), shown.to_string())
        })
        .collect();
    for step in results["cohort"]["flow"].as_array().unwrap() {
        let exact = step["persons"].as_u64().unwrap();
        let label = step["step"].as_str().unwrap().replace('_', " ");
        let shown = &published_flow
            .iter()
            .find(|(name, _)| *name == label)
            .unwrap()
            .1;
        let expected = match exact {
            0 => "0".to_string(),
            1..=7 => "*".to_string(),
            n => ((n + 2) / 5 * 5).to_string(),
        };
        assert_eq!(shown, &expected, "{label}: exact {exact}");
    }
    // The tidy service-use table holds the headline estimate as numbers, to the report's two
    // decimals, its interval in two columns and p as a number.
    let mut reader = csv::Reader::from_path(published.join("tables/service_use.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let field = |record: &csv::StringRecord, key: &str| -> f64 {
        let index = headers.iter().position(|header| header == key).unwrap();
        record[index].parse().unwrap()
    };
    let gp_row = reader
        .records()
        .map(Result::unwrap)
        .find(|record| record[0].starts_with("GP demand"))
        .unwrap();
    let gp = results["service_use"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["measure"] == "gp_demand")
        .unwrap();
    let did = &gp["did"];
    let two_places = |value: &serde_json::Value| (value.as_f64().unwrap() * 100.0).round() / 100.0;
    assert_eq!(
        field(&gp_row, "did_rate_ratio"),
        two_places(&did["rate_ratio"])
    );
    assert_eq!(field(&gp_row, "did_ci_lower"), two_places(&did["ci95"][0]));
    assert_eq!(field(&gp_row, "did_ci_upper"), two_places(&did["ci95"][1]));
    let p = did["p"].as_f64().unwrap();
    assert!((field(&gp_row, "did_p") - p).abs() <= 0.005 * p, "p {p}");

    // Restricted outputs stay outside published/ and say so.
    assert_eq!(
        read_json(&work.path().join("out/results.json"))["restricted"],
        "exact counts: not for publication without disclosure control"
    );
}
