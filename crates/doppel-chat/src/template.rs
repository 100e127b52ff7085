//! Prompt templates: [minijinja](https://docs.rs/minijinja) with strict undefined variables, filled
//! from the spec, the sampled personas and the scenario.
//!
//! Errors name the template's place in the spec (`agents[0].system`) and, for a variable with no
//! value, the variable (`candidate.persona.seniorty`).

use std::collections::BTreeMap;

use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::{Map, Value, json};

use crate::spec::{ChatSpec, ScenarioSpec};
use crate::{Error, Result};

/// The variables templates see: each agent by its name (`name`, `display_name`, `role`,
/// `persona`), `scenario` (`name`, `description`), `spec` (`name`, `description`) and, for the
/// judge, `transcript`. `persona[i]` holds agent `i`'s sampled attributes.
pub fn context(
    spec: &ChatSpec,
    persona: &[BTreeMap<String, String>],
    scenario: &ScenarioSpec,
    transcript: Option<&str>,
) -> Value {
    let mut map = Map::new();
    for (i, agent) in spec.agents.iter().enumerate() {
        let attributes = persona.get(i).cloned().unwrap_or_default();
        map.insert(
            agent.name.clone(),
            json!({
                "name": agent.name,
                "display_name": agent.display_name,
                "role": agent.role,
                "persona": attributes,
            }),
        );
    }
    map.insert("scenario".into(), json!({"name": scenario.name, "description": scenario.description}));
    map.insert("spec".into(), json!({"name": spec.name, "description": spec.description}));
    if let Some(transcript) = transcript {
        map.insert("transcript".into(), Value::String(transcript.to_string()));
    }
    Value::Object(map)
}

/// Renders `source` (found at `place` in the spec) with `context`.
pub fn render(place: &str, source: &str, context: &Value) -> Result<String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let template = env
        .template_from_named_str(place, source)
        .map_err(|e| Error::InvalidConfig(format!("{place}: template syntax error: {}", describe(&e))))?;
    template.render(minijinja::value::Serde(context)).map_err(|e| {
        if e.kind() == ErrorKind::UndefinedError {
            let mut variables: Vec<String> = template.undeclared_variables(true).into_iter().collect();
            variables.sort();
            if let Some(missing) = variables.iter().find(|v| !resolves(context, v)) {
                return Error::InvalidConfig(format!("{place}: template variable `{missing}` has no value"));
            }
        }
        Error::InvalidConfig(format!("{place}: {}", describe(&e)))
    })
}

/// The error's description with its line, without minijinja's debug dump.
fn describe(error: &minijinja::Error) -> String {
    let detail = error.detail().map(|d| format!(": {d}")).unwrap_or_default();
    let line = error.line().map(|l| format!(" (line {l})")).unwrap_or_default();
    format!("{}{detail}{line}", error.kind())
}

/// Whether a dotted path names a value in the context.
fn resolves(context: &Value, path: &str) -> bool {
    let mut value = context;
    for part in path.split('.') {
        match value.get(part) {
            Some(next) => value = next,
            None => return false,
        }
    }
    true
}
