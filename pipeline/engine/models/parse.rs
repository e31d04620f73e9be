//! A model file's `-- key: value` header and its `-- test:` lines.

use std::path::Path;

use super::{Model, ModelTest};
use crate::error::{Error, Location, Result};

pub(super) fn parse_model(path: &Path, layer: &str, text: &str) -> Result<Model> {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut model = Model {
        name: String::new(),
        layer: layer.to_string(),
        path: path.to_path_buf(),
        grain: String::new(),
        depends_on: Vec::new(),
        key: Vec::new(),
        tests: Vec::new(),
        settings: Vec::new(),
        presorted: false,
        sql: String::new(),
    };
    let mut body = Vec::new();
    let mut in_header = true;
    for (number, line) in text.lines().enumerate() {
        let at =
            |reason: String| Error::input(Location::file(path).line(number as u64 + 1), reason);
        let header = line.trim().strip_prefix("--").map(str::trim);
        match header {
            Some(comment) if in_header => {
                let Some((key, value)) = comment.split_once(':') else {
                    continue;
                };
                let value = value.trim();
                match key.trim() {
                    "model" => model.name = value.to_string(),
                    "grain" => model.grain = value.to_string(),
                    "depends_on" => model.depends_on = list(value),
                    "key" => model.key = list(value),
                    "test" => model.tests.push(parse_test(value).map_err(at)?),
                    "presorted" => {
                        model.presorted = match value {
                            "true" => true,
                            "false" => false,
                            _ => {
                                return Err(at(format!(
                                    "'-- presorted: {value}' is neither true nor false"
                                )));
                            }
                        }
                    }
                    "set" => {
                        let (key, setting) = value.split_once('=').ok_or_else(|| {
                            at(format!("'-- set: {value}' is not '-- set: key = value'"))
                        })?;
                        model
                            .settings
                            .push((key.trim().to_string(), setting.trim().to_string()));
                    }
                    _ => {}
                }
            }
            _ => {
                if !line.trim().is_empty() {
                    in_header = false;
                }
                body.push(line);
            }
        }
    }
    let missing = |what: &str| {
        Error::input(
            Location::file(path).line(1),
            format!("the model header has no '-- {what}:' line"),
        )
    };
    if model.name.is_empty() {
        return Err(missing("model"));
    }
    if model.name != stem {
        return Err(Error::input(
            Location::file(path).line(1),
            format!(
                "model '{}' must be in a file named {}.sql",
                model.name, model.name
            ),
        ));
    }
    if model.grain.is_empty() {
        return Err(missing("grain"));
    }
    model.sql = body.join("\n").trim().trim_end_matches(';').to_string();
    Ok(model)
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_test(text: &str) -> std::result::Result<ModelTest, String> {
    let (kind, rest) = text
        .split_once('(')
        .ok_or_else(|| format!("test '{text}' is not kind(arguments)"))?;
    let arguments = rest
        .trim()
        .strip_suffix(')')
        .ok_or_else(|| format!("test '{text}' does not end with ')'"))?
        .trim();
    match kind.trim() {
        "unique" => Ok(ModelTest::Unique(list(arguments))),
        "not_null" => Ok(ModelTest::NotNull(arguments.to_string())),
        "accepted_values" => {
            let (column, values) = arguments
                .split_once(':')
                .ok_or_else(|| format!("accepted_values needs column: 'value', ... in '{text}'"))?;
            Ok(ModelTest::AcceptedValues(
                column.trim().to_string(),
                list(values),
            ))
        }
        "relationships" => {
            let (column, target) = arguments
                .split_once("->")
                .ok_or_else(|| format!("relationships needs column -> model.column in '{text}'"))?;
            let (model, to) = target
                .trim()
                .split_once('.')
                .ok_or_else(|| format!("relationships needs column -> model.column in '{text}'"))?;
            Ok(ModelTest::Relationship {
                column: column.trim().into(),
                model: model.trim().into(),
                to: to.trim().into(),
            })
        }
        "expression" => Ok(ModelTest::Expression(arguments.to_string())),
        other => Err(format!(
            "unknown test kind '{other}' (unique, not_null, accepted_values, relationships, expression)"
        )),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tests_parse_from_headers() {
        assert_eq!(
            parse_test("not_null(a)"),
            Ok(ModelTest::NotNull("a".into()))
        );
        assert_eq!(
            parse_test("accepted_values(g: 'x', 'y')"),
            Ok(ModelTest::AcceptedValues(
                "g".into(),
                vec!["'x'".into(), "'y'".into()]
            ))
        );
        assert_eq!(
            parse_test("relationships(p -> m.q)"),
            Ok(ModelTest::Relationship {
                column: "p".into(),
                model: "m".into(),
                to: "q".into()
            })
        );
        assert!(parse_test("bogus(x)").is_err());
    }
}
