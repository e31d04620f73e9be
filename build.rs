//! Embeds the SQL models of `queries/` into the binary, so `sp-impact run` uses exactly the
//! models it was built with wherever it runs (`--queries DIR` runs edited ones instead).

use std::path::{Path, PathBuf};

fn sql_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sql_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "sql") {
            found.push(path);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=queries");
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let queries = root.join("queries");
    let mut files = Vec::new();
    sql_files(&queries, &mut files);
    files.sort();
    let mut code = String::from(
        "/// SQL models embedded at build time: (path under queries/, text).\npub const EMBEDDED_QUERIES: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let relative = file
            .strip_prefix(&queries)
            .expect("under queries/")
            .to_string_lossy()
            .replace('\\', "/");
        code.push_str(&format!(
            "    ({relative:?}, include_str!({:?})),\n",
            file.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("embedded_queries.rs");
    std::fs::write(out, code).expect("write embedded_queries.rs");
}
