//! The published report (docs/domain.md, Disclosure control): `published/report.html` (one
//! self-contained file: inline SVG and CSS, no script, no network), `report.md`,
//! `charts/*.svg|png` and `tables/*.csv`, all disclosure-controlled; with `run --pdf`,
//! `report.pdf` printed from the HTML (`pdf`).
//!
//! The report reads only a finished run's `results.json`, `manifest.json` and
//! `quality/ingest.json`; it never recomputes an estimate. `content` decides what is said
//! (and applies `disclosure` to every count, mean and share), `charts` draws, and the
//! templates in `reports/templates/` lay it out.

pub mod charts;
mod content;
pub mod disclosure;
mod format;
pub mod pdf;
mod png_text;

use std::path::Path;

use minijinja::Environment;
use serde_json::{Value, json};

use crate::config::StudyConfig;
use crate::error::{Error, Result};
use crate::results::{Results, SCHEMA_VERSION};
use disclosure::Disclosure;

const HTML_TEMPLATE: &str = include_str!("../../reports/templates/report.html.j2");
const MARKDOWN_TEMPLATE: &str = include_str!("../../reports/templates/report.md.j2");

/// Which report section each chart belongs to, by name prefix.
const FIGURE_SECTIONS: [(&str, &str); 14] = [
    ("cohort_flow", "cohort"),
    ("balance", "cohort"),
    ("wellbeing", "wellbeing"),
    ("forest", "service_use"),
    ("event_study", "service_use"),
    ("payback", "verdict"),
    ("tornado", "economics"),
    ("two_way", "economics"),
    ("cost_effectiveness", "economics"),
    ("equity", "equity"),
    ("referral_funnel", "equity"),
    ("practice", "practices"),
    ("pcn", "pcns"),
    ("comparison", "comparison"),
];

/// Writes `<run_dir>/published/` from the run's results.
pub fn publish(run_dir: &Path, config: &StudyConfig) -> Result<()> {
    let results = read_results(&run_dir.join("results.json"))?;
    let manifest = read_json(&run_dir.join("manifest.json"))?;
    let ingest = read_json(&run_dir.join("quality/ingest.json"))?;
    let rule = Disclosure::new(config.suppress_at_or_below, config.round_to);
    let content = content::build(&results, &manifest, &ingest, rule);
    let wants = |format: &str| config.formats.iter().any(|wanted| wanted == format);

    let published = run_dir.join("published");
    let charts_dir = published.join("charts");
    let tables_dir = published.join("tables");
    for dir in [&published, &charts_dir, &tables_dir] {
        std::fs::create_dir_all(dir).map_err(|source| Error::io("creating", dir, source))?;
    }
    let mut figures = json!({});
    for chart in &content.charts {
        let svg = chart.svg()?;
        if wants("svg") {
            let path = charts_dir.join(format!("{}.svg", chart.name));
            std::fs::write(&path, &svg).map_err(|source| Error::io("writing", &path, source))?;
        }
        if wants("png") {
            chart.write_png(&charts_dir)?;
        }
        let section = FIGURE_SECTIONS
            .iter()
            .find(|(prefix, _)| chart.name.starts_with(prefix))
            .map_or("other", |(_, section)| section);
        let figure = json!({
            "name": chart.name, "title": chart.title, "svg": labelled(&svg, chart),
            "file": if wants("png") { format!("charts/{}.png", chart.name) } else { format!("charts/{}.svg", chart.name) },
        });
        match figures[section].as_array_mut() {
            Some(list) => list.push(figure),
            None => figures[section] = json!([figure]),
        }
    }
    if wants("csv") {
        for table in &content.tables {
            write_csv(&tables_dir.join(format!("{}.csv", table.name)), table)?;
        }
    }
    let mut context = content.context;
    context["figures"] = figures;
    let mut environment = Environment::new();
    environment
        .add_template("report.html", HTML_TEMPLATE)
        .and_then(|()| environment.add_template("report.md", MARKDOWN_TEMPLATE))
        .map_err(|error| Error::Usage(format!("report template: {error:#}")))?;
    for (format, template, file) in [
        ("html", "report.html", "report.html"),
        ("md", "report.md", "report.md"),
    ] {
        if !wants(format) {
            continue;
        }
        let text = environment
            .get_template(template)
            .and_then(|template| template.render(&context))
            .map_err(|error| Error::Usage(format!("rendering {file}: {error:#}")))?;
        let path = published.join(file);
        std::fs::write(&path, text).map_err(|source| Error::io("writing", &path, source))?;
    }
    Ok(())
}

/// A run's results.json as the types the run wrote it from; one from an incompatible
/// version is an error naming the field, not a report with gaps.
fn read_results(path: &Path) -> Result<Results> {
    let results: Results = serde_json::from_value(read_json(path)?).map_err(|error| {
        Error::input(
            crate::error::Location::file(path),
            format!("not the results of this version of sp-impact: {error}"),
        )
    })?;
    if results.schema_version != SCHEMA_VERSION {
        return Err(Error::input(
            crate::error::Location::file(path),
            format!(
                "results.json schema version {} (this sp-impact reads version {SCHEMA_VERSION})",
                results.schema_version
            ),
        ));
    }
    Ok(results)
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).map_err(|source| Error::io("reading", path, source))?;
    serde_json::from_str(&text).map_err(|error| {
        Error::input(
            crate::error::Location::file(path),
            format!("not valid JSON: {error}"),
        )
    })
}

/// A table as tidy CSV (docs/domain.md, Disclosure control: Published tables).
fn write_csv(path: &Path, table: &content::Table) -> Result<()> {
    let records = table
        .csv_records()
        .map_err(|reason| Error::Usage(format!("writing {}: {reason}", path.display())))?;
    let failed = |error: csv::Error| Error::Usage(format!("writing {}: {error}", path.display()));
    let mut writer = csv::Writer::from_path(path).map_err(failed)?;
    for record in records {
        writer.write_record(record).map_err(failed)?;
    }
    writer
        .flush()
        .map_err(|source| Error::io("writing", path, source))
}

/// The inline SVG with a text alternative for screen readers: the chart's title and its
/// note (what is drawn and the source), as `role="img"` and `aria-label` on the root element.
fn labelled(svg: &str, chart: &charts::Chart) -> String {
    let label = format!("{}. {}", chart.title, chart.note)
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{label}\" "),
        1,
    )
}
