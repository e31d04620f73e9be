//! The run order of the model graph: dependencies first, ties by layer then name.

use std::collections::{BTreeMap, BTreeSet};

use super::{LAYERS, Model};
use crate::error::{Error, Location, Result};

/// Topological order (Kahn), ties broken by layer then name; unknown names and cycles are
/// errors naming the model.
pub(super) fn order(models: Vec<Model>, sources: &[&str]) -> Result<Vec<Model>> {
    let names: BTreeSet<&str> = models.iter().map(|model| model.name.as_str()).collect();
    if names.len() != models.len() {
        let mut seen = BTreeSet::new();
        let duplicate = models
            .iter()
            .find(|model| !seen.insert(model.name.as_str()))
            .expect("a duplicate exists");
        return Err(Error::input(
            Location::file(&duplicate.path).line(1),
            format!("model '{}' is defined twice", duplicate.name),
        ));
    }
    for model in &models {
        if let Some(unknown) = model.depends_on.iter().find(|dependency| {
            !names.contains(dependency.as_str()) && !sources.contains(&dependency.as_str())
        }) {
            return Err(Error::input(
                Location::file(&model.path).line(1),
                format!(
                    "model '{}' depends on unknown model or source '{unknown}'",
                    model.name
                ),
            ));
        }
    }
    let layer_rank = |model: &Model| {
        LAYERS
            .iter()
            .position(|layer| *layer == model.layer)
            .unwrap_or(LAYERS.len())
    };
    let mut remaining: BTreeMap<(usize, String), Model> = models
        .into_iter()
        .map(|model| ((layer_rank(&model), model.name.clone()), model))
        .collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut ordered = Vec::new();
    while !remaining.is_empty() {
        let ready = remaining
            .iter()
            .find(|(_, model)| {
                model.depends_on.iter().all(|dependency| {
                    done.contains(dependency) || sources.contains(&dependency.as_str())
                })
            })
            .map(|(key, _)| key.clone());
        let Some(key) = ready else {
            let stuck: Vec<&str> = remaining
                .values()
                .map(|model| model.name.as_str())
                .collect();
            let first = remaining.values().next().expect("non-empty");
            return Err(Error::input(
                Location::file(&first.path).line(1),
                format!(
                    "the models depend on each other in a cycle: {}",
                    stuck.join(", ")
                ),
            ));
        };
        let model = remaining.remove(&key).expect("key present");
        done.insert(model.name.clone());
        ordered.push(model);
    }
    Ok(ordered)
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn model(name: &str, layer: &str, depends_on: &[&str]) -> Model {
        Model {
            name: name.into(),
            layer: layer.into(),
            path: PathBuf::from(format!("queries/{layer}/{name}.sql")),
            grain: "g".into(),
            depends_on: depends_on.iter().map(|name| name.to_string()).collect(),
            key: vec![],
            tests: vec![],
            settings: vec![],
            presorted: false,
            sql: String::new(),
        }
    }

    #[test]
    fn dependencies_order_models_and_cycles_are_named() {
        let ordered = order(
            vec![
                model("b", "marts", &["a"]),
                model("a", "cohort", &["patients"]),
                model("c", "cohort", &["b"]),
            ],
            &["patients"],
        )
        .unwrap();
        let names: Vec<&str> = ordered.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let cycle = order(
            vec![model("x", "cohort", &["y"]), model("y", "cohort", &["x"])],
            &[],
        )
        .unwrap_err();
        assert!(cycle.to_string().contains("cycle: x, y"), "{cycle}");
        let unknown = order(vec![model("x", "cohort", &["nope"])], &[]).unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains("unknown model or source 'nope'"),
            "{unknown}"
        );
    }
}
