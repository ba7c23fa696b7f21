//! `template.yaml` against the code: every function has a resource, every
//! setting a function reads is set on it, only real settings are set, and
//! every sample event parses and is accepted by its function. Pure: no
//! emulator.

use std::collections::BTreeSet;

use lifeboat_tests::{events_dir, moto::repo_root};
use serde_yaml::Value;

fn template() -> Value {
    let path = repo_root().join("template.yaml");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("template.yaml is not YAML: {e}"))
}

/// The function directories: `functions/<name>`.
fn functions() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("functions"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// The `AWS::Serverless::Function` whose build produces `lifeboat-<name>`.
fn function_resource<'a>(template: &'a Value, name: &str) -> Option<(&'a str, &'a Value)> {
    let binary = format!("lifeboat-{name}");
    template["Resources"]
        .as_mapping()?
        .iter()
        .find_map(|(id, resource)| {
            (resource["Type"] == "AWS::Serverless::Function"
                && resource["Metadata"]["Binary"].as_str() == Some(binary.as_str()))
            .then(|| (id.as_str().unwrap_or_default(), resource))
        })
}

fn settings_of(name: &str) -> &'static [&'static str] {
    match name {
        "snapshot" => lifeboat_snapshot::SETTINGS,
        "copy" => lifeboat_copy::SETTINGS,
        "prune" => lifeboat_prune::SETTINGS,
        "restore" => lifeboat_restore::SETTINGS,
        other => panic!("functions/{other} is not known to this test: add its SETTINGS here"),
    }
}

#[test]
fn every_function_has_a_resource_built_from_its_binary() {
    let template = template();
    let names = functions();
    assert!(names.len() >= 4, "{names:?}");
    for name in &names {
        let (id, resource) = function_resource(&template, name)
            .unwrap_or_else(|| panic!("template.yaml has no function built from lifeboat-{name}"));
        let properties = &resource["Properties"];
        assert_eq!(properties["Runtime"], "provided.al2023", "{id}");
        assert_eq!(
            resource["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{id}"
        );
        assert!(
            !properties["Architectures"].is_null(),
            "{id} must take its architecture from the parameter"
        );
    }
}

#[test]
fn every_setting_a_function_reads_is_set_and_only_real_ones_are() {
    let template = template();
    let known: BTreeSet<&str> = lifeboat::lambda::config::ALL.iter().copied().collect();
    for name in functions() {
        let (id, resource) = function_resource(&template, &name).unwrap();
        let variables = &resource["Properties"]["Environment"]["Variables"];
        let set: BTreeSet<&str> = variables
            .as_mapping()
            .map(|m| m.keys().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for setting in settings_of(&name) {
            assert!(
                set.contains(setting),
                "{id} (lifeboat-{name}) reads {setting}, but template.yaml does not set it"
            );
        }
        for variable in set.iter().filter(|v| v.starts_with("LIFEBOAT_")) {
            assert!(
                known.contains(variable),
                "{id} sets {variable}, which no Lifeboat function reads"
            );
        }
    }
}

#[test]
fn every_sample_event_parses_and_is_accepted() {
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    files.sort();
    assert!(files.len() >= 15, "{files:?}");
    let now = chrono::Utc::now();
    for file in files {
        assert!(
            file.ends_with(".json"),
            "events/{file}: sample events are JSON files"
        );
        let event = lifeboat_tests::sample_event(&file);
        let accepted = match file.split('-').next().unwrap_or_default() {
            "snapshot" => lifeboat_snapshot::event::parse(&event, now).map(|_| ()),
            "copy" => lifeboat_copy::event::parse(&event, now).map(|_| ()),
            "prune" => lifeboat_prune::event::parse(&event, now).map(|_| ()),
            "restore" => lifeboat_restore::event::parse(&event).map(|_| ()),
            other => {
                panic!("events/{file}: no function {other}; name samples <function>-<what>.json")
            }
        };
        accepted.unwrap_or_else(|e| panic!("events/{file} is refused by its function: {e}"));
    }
}
