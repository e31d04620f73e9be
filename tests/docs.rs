//! The documentation the code points at is in the repository: no comment cites material a
//! reader of the repository cannot see (a design note, research notes, an issue tracker), and
//! every pointer to a section of `docs/*.md` or of the README names a heading that exists.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Source, query, profile and test files, and the build and sample configuration.
fn sources() -> Vec<PathBuf> {
    let mut files = vec![
        root().join("Cargo.toml"),
        root().join("sample-data/study.toml"),
        root().join("benches/run.py"),
        root().join("benches/validate.py"),
    ];
    for dir in [
        "pipeline",
        "queries",
        "profiles",
        "tests",
        "unit-costs",
        "reports",
    ] {
        collect(&root().join(dir), &mut files);
    }
    files.sort();
    files
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            if !path.ends_with("tests/fixtures") {
                collect(&path, files);
            }
        } else if path.ends_with("tests/docs.rs") {
            // This file names the markers it looks for.
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("rs" | "sql" | "toml" | "py" | "csv" | "html" | "md")
        ) {
            files.push(path);
        }
    }
}

/// The headings of a Markdown file, lower-cased, without the leading #s.
fn headings(markdown: &Path) -> Vec<String> {
    fs::read_to_string(markdown)
        .unwrap_or_else(|e| panic!("{}: {e}", markdown.display()))
        .lines()
        .filter(|line| line.starts_with('#'))
        .map(|line| line.trim_start_matches('#').trim().to_lowercase())
        .collect()
}

/// What follows `marker` on `line` up to the first of `)`, `;`, `:`, `.` or `"`: the start of
/// a section name (a name wrapped onto the next line is checked by its first words).
fn section_after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let start = line.find(marker)? + marker.len();
    let rest = &line[start..];
    let end = rest.find([')', ';', ':', '.', '"']).unwrap_or(rest.len());
    let name = rest[..end].trim();
    (!name.is_empty()).then_some(name)
}

#[test]
fn no_comment_cites_material_outside_the_repository() {
    let outside = [
        "design section",
        "shared/research",
        "research/methods",
        "methods-review",
        " methods.md",
        "(methods.md",
        " domain.md",
        "(domain.md",
        "real-world.md",
    ];
    let mut found = Vec::new();
    for file in sources() {
        let text = fs::read_to_string(&file).unwrap_or_default();
        for (number, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            let issue = lower
                .split("issue ")
                .skip(1)
                .any(|after| after.starts_with(|c: char| c.is_ascii_digit()));
            if issue || outside.iter().any(|marker| lower.contains(marker)) {
                found.push(format!(
                    "{}:{}: {}",
                    file.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "cite docs/ or the primary source instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_pointer_to_a_docs_or_readme_section_names_a_heading() {
    let targets = [
        ("docs/methods.md, ", root().join("docs/methods.md")),
        ("docs/domain.md, ", root().join("docs/domain.md")),
        (
            "docs/architecture.md, ",
            root().join("docs/architecture.md"),
        ),
        ("README \"", root().join("README.md")),
    ];
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in sources() {
        let text = fs::read_to_string(&file).unwrap_or_default();
        for (number, line) in text.lines().enumerate() {
            for (marker, markdown) in &targets {
                let Some(name) = section_after(line, marker) else {
                    continue;
                };
                checked += 1;
                let name = name.to_lowercase();
                if !headings(markdown).iter().any(|h| h.starts_with(&name)) {
                    broken.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} section pointers found");
    assert!(
        broken.is_empty(),
        "these name no heading of the file they point at:\n{}",
        broken.join("\n")
    );
}
