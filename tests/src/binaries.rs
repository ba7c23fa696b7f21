//! The function binaries and the `lifeboat` command line, built by cargo
//! on demand, so a test never runs a stale one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use crate::moto::repo_root;

static BUILT: Mutex<Option<HashMap<(String, bool), PathBuf>>> = Mutex::new(None);

/// Builds `lifeboat-<function>` (debug, or release when `release`) and
/// returns the executable's path. Cheap when it is up to date.
pub fn function(function: &str, release: bool) -> PathBuf {
    let bin = format!("lifeboat-{function}");
    build(&bin, &bin, release)
}

/// Builds the operator's command line, `lifeboat` of package
/// `lifeboat-cli`, and returns the executable's path.
pub fn cli(release: bool) -> PathBuf {
    build("lifeboat-cli", "lifeboat", release)
}

fn build(package: &str, bin: &str, release: bool) -> PathBuf {
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let cache = built.get_or_insert_with(HashMap::new);
    if let Some(path) = cache.get(&(bin.to_string(), release)) {
        return path.clone();
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command.current_dir(repo_root()).args([
        "build",
        "--quiet",
        "--message-format=json",
        "--package",
        package,
        "--bin",
        bin,
    ]);
    if release {
        command.arg("--release");
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("run cargo build for {bin}: {e}"));
    assert!(
        output.status.success(),
        "cargo build {bin} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["target"]["name"] == bin)
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo build did not report the {bin} executable"));
    cache.insert((bin.to_string(), release), path.clone());
    path
}
