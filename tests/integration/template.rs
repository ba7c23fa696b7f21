//! `template.yaml` against the code: every function has a resource, every
//! setting a function reads is set on it, only real settings are set, and
//! every sample event parses and is accepted by its function. The template
//! has two roles (`StackRole` primary and recovery); a small evaluator of
//! its conditions tells what each role deploys and what the `!If`s on the
//! role come to, so both roles are checked. Pure: no emulator.

use std::collections::BTreeSet;

use lifeboat_tests::{events_dir, moto::repo_root};
use serde_yaml::{Mapping, Value};

pub(crate) fn template() -> Value {
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
pub(crate) fn function_resource<'a>(
    template: &'a Value,
    name: &str,
) -> Option<(&'a str, &'a Value)> {
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
        "monitor" => lifeboat_monitor::SETTINGS,
        "drill" => lifeboat_drill::SETTINGS,
        other => panic!("functions/{other} is not known to this test: add its SETTINGS here"),
    }
}

/// The two values of the `StackRole` parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Primary,
    Recovery,
}

impl Role {
    const ALL: [Role; 2] = [Role::Primary, Role::Recovery];

    fn parameter_value(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Recovery => "recovery",
        }
    }
}

/// The functions each role deploys, by name (`functions/<name>`).
fn deployed_in(role: Role) -> &'static [&'static str] {
    match role {
        Role::Primary => &["copy", "monitor", "prune", "restore", "snapshot"],
        Role::Recovery => &["drill", "monitor", "restore"],
    }
}

/// An intrinsic function call, in the short form (`!If [...]`) or the long
/// one (`{"Fn::If": [...]}`): its long name and its argument.
pub(crate) fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let name = match name {
                "Ref" | "Condition" => name.to_string(),
                other => format!("Fn::{other}"),
            };
            Some((name, &tagged.value))
        }
        Value::Mapping(mapping) if mapping.len() == 1 => {
            let (key, argument) = mapping.iter().next()?;
            let key = key.as_str()?;
            (key == "Ref" || key == "Condition" || key.starts_with("Fn::"))
                .then(|| (key.to_string(), argument))
        }
        _ => None,
    }
}

/// The template's conditions as one role sees them: what the role alone
/// decides (`IsPrimary`, `IsRecovery`, and whatever depends on them, such as
/// `HasDrKmsKeys` in a recovery stack) is evaluated; what depends on other
/// parameters is left open.
struct Evaluator<'a> {
    template: &'a Value,
    role: Role,
}

impl Evaluator<'_> {
    fn new(template: &Value, role: Role) -> Evaluator<'_> {
        Evaluator { template, role }
    }

    /// The named condition, if the role decides it.
    fn condition(&self, name: &str) -> Option<bool> {
        let definition = &self.template["Conditions"][name];
        assert!(
            !definition.is_null(),
            "template.yaml names condition {name}, which it does not define"
        );
        self.test(definition)
    }

    /// A condition function's value, if the role decides it.
    fn test(&self, value: &Value) -> Option<bool> {
        let (function, argument) = intrinsic(value)?;
        let arguments = || argument.as_sequence().cloned().unwrap_or_default();
        match function.as_str() {
            "Condition" => self.condition(argument.as_str()?),
            "Fn::Equals" => {
                let pair = arguments();
                assert_eq!(pair.len(), 2, "Fn::Equals takes two values: {value:?}");
                Some(self.scalar(&pair[0])? == self.scalar(&pair[1])?)
            }
            "Fn::Not" => self.test(arguments().first()?).map(|b| !b),
            "Fn::And" => {
                let values: Vec<Option<bool>> = arguments().iter().map(|c| self.test(c)).collect();
                if values.contains(&Some(false)) {
                    Some(false)
                } else if values.iter().all(|v| *v == Some(true)) {
                    Some(true)
                } else {
                    None
                }
            }
            "Fn::Or" => {
                let values: Vec<Option<bool>> = arguments().iter().map(|c| self.test(c)).collect();
                if values.contains(&Some(true)) {
                    Some(true)
                } else if values.iter().all(|v| *v == Some(false)) {
                    Some(false)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// A literal, or `!Ref StackRole`; anything else is not the role's to
    /// decide.
    fn scalar(&self, value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => match intrinsic(value)? {
                (function, argument) if function == "Ref" && argument == "StackRole" => {
                    Some(self.role.parameter_value().to_string())
                }
                _ => None,
            },
        }
    }

    /// Whether the role deploys this resource (its `Condition:` key). A
    /// condition the role does not decide is a failure: what a stack is made
    /// of must not hang on anything but its role here.
    fn deploys(&self, id: &str, resource: &Value) -> bool {
        match resource["Condition"].as_str() {
            None => true,
            Some(name) => self.condition(name).unwrap_or_else(|| {
                panic!("{id} has Condition {name}, which StackRole alone does not decide")
            }),
        }
    }

    /// `value` with every `!If` the role decides replaced by its branch, and
    /// `!Ref AWS::NoValue` removed from the mappings and lists that hold it
    /// (`None`: the whole value is "no value").
    fn resolve(&self, value: &Value) -> Option<Value> {
        if let Some((function, argument)) = intrinsic(value) {
            if function == "Ref" && argument == "AWS::NoValue" {
                return None;
            }
            if function == "Fn::If" {
                let branches = argument.as_sequence().cloned().unwrap_or_default();
                assert_eq!(
                    branches.len(),
                    3,
                    "Fn::If takes a condition and two values: {value:?}"
                );
                let name = branches[0].as_str().expect("Fn::If names its condition");
                match self.condition(name) {
                    Some(true) => return self.resolve(&branches[1]),
                    Some(false) => return self.resolve(&branches[2]),
                    None => {}
                }
            }
        }
        Some(match value {
            Value::Sequence(items) => {
                Value::Sequence(items.iter().filter_map(|v| self.resolve(v)).collect())
            }
            Value::Mapping(mapping) => Value::Mapping(
                mapping
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), self.resolve(v)?)))
                    .collect::<Mapping>(),
            ),
            Value::Tagged(tagged) => {
                let mut tagged = tagged.as_ref().clone();
                tagged.value = self.resolve(&tagged.value).unwrap_or(Value::Null);
                Value::Tagged(Box::new(tagged))
            }
            other => other.clone(),
        })
    }

    /// The function resources the role deploys, by name.
    fn functions(&self) -> BTreeSet<String> {
        functions()
            .into_iter()
            .filter(|name| {
                let (id, resource) = function_resource(self.template, name).unwrap_or_else(|| {
                    panic!("template.yaml has no function built from lifeboat-{name}")
                });
                self.deploys(id, resource)
            })
            .collect()
    }
}

/// Whether `value` refers to the parameter `name`: `!Ref name`, or
/// `${name}` in a `!Sub` text.
fn mentions(value: &Value, name: &str) -> bool {
    if let Some((function, argument)) = intrinsic(value) {
        if function == "Ref" && argument == name {
            return true;
        }
    }
    match value {
        Value::String(s) => s.contains(&format!("${{{name}}}")),
        Value::Sequence(items) => items.iter().any(|v| mentions(v, name)),
        Value::Mapping(mapping) => mapping
            .iter()
            .any(|(k, v)| mentions(k, name) || mentions(v, name)),
        Value::Tagged(tagged) => mentions(&tagged.value, name),
        _ => false,
    }
}

/// The template's parameters that only a primary stack uses: those about
/// the DR regions (`Dr...`; `Drill...` are a recovery stack's own).
fn dr_parameters(template: &Value) -> Vec<String> {
    let names: Vec<String> = template["Parameters"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(Value::as_str)
        .filter(|name| name.starts_with("Dr") && !name.starts_with("Drill"))
        .map(str::to_string)
        .collect();
    assert!(names.iter().any(|n| n == "DrRegions"), "{names:?}");
    assert!(names.iter().any(|n| n == "DrCatalogBuckets"), "{names:?}");
    names
}

/// Every string in `value`, for looking through a resolved policy.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Mapping(mapping) => mapping.iter().for_each(|(k, v)| {
            strings(k, out);
            strings(v, out);
        }),
        Value::Tagged(tagged) => strings(&tagged.value, out),
        _ => {}
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
fn the_stack_role_is_a_parameter_with_a_condition_for_each_role() {
    let template = template();
    let parameter = &template["Parameters"]["StackRole"];
    assert_eq!(parameter["Default"], "primary", "{parameter:?}");
    let allowed: Vec<&str> = parameter["AllowedValues"]
        .as_sequence()
        .expect("StackRole has AllowedValues")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(allowed, ["primary", "recovery"]);
    for role in Role::ALL {
        let evaluator = Evaluator::new(&template, role);
        assert_eq!(
            evaluator.condition("IsPrimary"),
            Some(role == Role::Primary)
        );
        assert_eq!(
            evaluator.condition("IsRecovery"),
            Some(role == Role::Recovery)
        );
    }
}

#[test]
fn each_role_deploys_its_functions() {
    let template = template();
    for role in Role::ALL {
        let deployed = Evaluator::new(&template, role).functions();
        let expected: BTreeSet<String> = deployed_in(role).iter().map(|s| s.to_string()).collect();
        assert_eq!(deployed, expected, "StackRole={}", role.parameter_value());
    }
    // Said twice, as it is the point of a recovery stack: it depends on
    // nothing that runs in the source region.
    let recovery = Evaluator::new(&template, Role::Recovery).functions();
    for name in ["snapshot", "copy", "prune"] {
        assert!(
            !recovery.contains(name),
            "a recovery stack must not deploy lifeboat-{name}"
        );
    }
}

#[test]
fn every_setting_a_function_reads_is_set_in_each_role_that_deploys_it() {
    let template = template();
    for role in Role::ALL {
        let evaluator = Evaluator::new(&template, role);
        for name in evaluator.functions() {
            let (id, resource) = function_resource(&template, &name).unwrap();
            let variables = evaluator
                .resolve(&resource["Properties"]["Environment"]["Variables"])
                .unwrap_or(Value::Null);
            let variables = variables.as_mapping().cloned().unwrap_or_default();
            for setting in settings_of(&name) {
                assert!(
                    variables.contains_key(*setting),
                    "{id} (lifeboat-{name}) reads {setting}, but with StackRole={} template.yaml does not set it",
                    role.parameter_value()
                );
            }
        }
    }
}

#[test]
fn a_recovery_stack_restores_with_no_dr_settings() {
    let template = template();
    let evaluator = Evaluator::new(&template, Role::Recovery);
    let (id, resource) = function_resource(&template, "restore").unwrap();
    let variables = evaluator
        .resolve(&resource["Properties"]["Environment"]["Variables"])
        .unwrap_or(Value::Null);
    // The function refuses a DR region that is its own region, and a
    // recovery stack restores only into its own: no DR region, no DR
    // catalog, no DR option group.
    for setting in [
        lifeboat::lambda::config::DR_REGIONS,
        lifeboat::lambda::config::DR_CATALOG_BUCKETS,
        lifeboat::lambda::config::DR_OPTION_GROUPS,
    ] {
        assert_eq!(
            variables[setting],
            Value::String(String::new()),
            "{id} with StackRole=recovery: {setting} must be empty, not {:?}",
            variables[setting]
        );
    }
    // And in a primary stack they come from the parameters.
    let primary = Evaluator::new(&template, Role::Primary)
        .resolve(&resource["Properties"]["Environment"]["Variables"])
        .unwrap();
    assert!(mentions(
        &primary[lifeboat::lambda::config::DR_REGIONS],
        "DrRegions"
    ));
    assert!(mentions(
        &primary[lifeboat::lambda::config::DR_CATALOG_BUCKETS],
        "DrCatalogBuckets"
    ));
}

#[test]
fn a_recovery_stack_names_no_other_region() {
    let template = template();
    let evaluator = Evaluator::new(&template, Role::Recovery);
    let dr_parameters = dr_parameters(&template);

    // The restore function's policies, the heart of it: after the !Ifs on
    // the role, no DR parameter and no region by name.
    let (id, restore) = function_resource(&template, "restore").unwrap();
    let policies = evaluator
        .resolve(&restore["Properties"]["Policies"])
        .expect("the restore function has policies");
    for parameter in &dr_parameters {
        assert!(
            !mentions(&policies, parameter),
            "{id}'s policies with StackRole=recovery still refer to {parameter}"
        );
    }
    let mut texts = Vec::new();
    strings(&policies, &mut texts);
    for text in texts {
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            assert!(
                !lifeboat::lambda::config::is_region_name(word),
                "{id}'s policies with StackRole=recovery name the region {word}: {text}"
            );
        }
    }
    let mut statements = Vec::new();
    for policy in policies.as_sequence().unwrap() {
        statements.extend(
            policy["Statement"]
                .as_sequence()
                .cloned()
                .unwrap_or_default(),
        );
    }
    assert!(
        statements.iter().any(|s| s["Sid"] == "ReadCatalogRecords"),
        "{id} with StackRole=recovery must still read its own catalog"
    );

    // And nothing else a recovery stack deploys depends on a DR parameter.
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        let id = id.as_str().unwrap();
        if !evaluator.deploys(id, resource) {
            continue;
        }
        let resolved = evaluator.resolve(resource).unwrap();
        for parameter in &dr_parameters {
            assert!(
                !mentions(&resolved, parameter),
                "{id} with StackRole=recovery refers to {parameter}"
            );
        }
    }
}

#[test]
fn outputs_of_primary_only_resources_share_their_condition() {
    let template = template();
    for role in Role::ALL {
        let evaluator = Evaluator::new(&template, role);
        let deployed: BTreeSet<&str> = template["Resources"]
            .as_mapping()
            .unwrap()
            .iter()
            .filter(|(id, resource)| evaluator.deploys(id.as_str().unwrap(), resource))
            .filter_map(|(id, _)| id.as_str())
            .collect();
        for (name, output) in template["Outputs"].as_mapping().unwrap() {
            let name = name.as_str().unwrap();
            if !evaluator.deploys(name, output) {
                continue;
            }
            let mut texts = Vec::new();
            strings(&output["Value"], &mut texts);
            for id in template["Resources"]
                .as_mapping()
                .unwrap()
                .keys()
                .filter_map(Value::as_str)
            {
                let refers = mentions(&output["Value"], id)
                    || texts
                        .iter()
                        .any(|t| t == id || t.starts_with(&format!("{id}.")));
                assert!(
                    !refers || deployed.contains(id),
                    "output {name} refers to {id}, which StackRole={} does not deploy",
                    role.parameter_value()
                );
            }
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
            "monitor" => lifeboat_monitor::event::parse(&event, now).map(|_| ()),
            "drill" => lifeboat_drill::event::parse(&event, now).map(|_| ()),
            other => {
                panic!("events/{file}: no function {other}; name samples <function>-<what>.json")
            }
        };
        accepted.unwrap_or_else(|e| panic!("events/{file} is refused by its function: {e}"));
    }
}
