//! Cold starts alone: each function binary and the bare `lambda_runtime`
//! function started many times, in turns, and timed from process start to
//! the first poll of the runtime API. No event is handed out and no AWS
//! call is made: init does none, and what it costs is read against the bare
//! function measured in the same rounds on the same machine.

use std::path::PathBuf;

use lifeboat_tests::runtime::run_function;
use lifeboat_tests::Account;
use serde::Serialize;

/// The name of the bare function among the binaries measured.
pub const BARE: &str = "lifeboat-bench-bare";

#[derive(Debug, Clone, Serialize)]
pub struct InitTimes {
    pub name: String,
    /// Every cold start's init, ms, in order of size.
    pub ms: Vec<f64>,
    /// Cold starts that did not reach the first poll, with why.
    pub failed: Vec<String>,
}

impl InitTimes {
    fn quantile(&self, q: f64) -> Option<f64> {
        if self.ms.is_empty() {
            return None;
        }
        let at = (q * (self.ms.len() - 1) as f64).round() as usize;
        Some(self.ms[at])
    }

    pub fn median(&self) -> Option<f64> {
        self.quantile(0.5)
    }

    pub fn p10(&self) -> Option<f64> {
        self.quantile(0.1)
    }

    pub fn p90(&self) -> Option<f64> {
        self.quantile(0.9)
    }
}

/// The settings every function needs to start (each function checks the
/// ones it reads), aimed at `endpoint` with made-up credentials: init makes
/// no call, so nothing is sent.
pub fn env(endpoint: &str, region: &str, dr_region: &str) -> Vec<(String, String)> {
    let account = Account {
        id: "000000000000".to_string(),
        access_key: "AKIAIOSFODNN7EXAMPLE".to_string(),
        endpoint: endpoint.to_string(),
    };
    let mut env = account.env(region);
    env.extend(
        [
            ("LIFEBOAT_CATALOG_BUCKET", "lifeboat-catalog-bench"),
            ("LIFEBOAT_DR_REGIONS", dr_region),
            (
                "LIFEBOAT_DR_CATALOG_BUCKETS",
                &format!("{dr_region}=lifeboat-catalog-bench-{dr_region}"),
            ),
            ("LIFEBOAT_RETENTION", "last=3,daily=7,weekly=4,monthly=12"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    env
}

/// What `binary` starts with: the drill runs in a recovery stack, which
/// has no DR regions (it refuses to start with them).
fn env_for(binary: &str, env: &[(String, String)]) -> Vec<(String, String)> {
    if binary != "lifeboat-drill" {
        return env.to_vec();
    }
    let mut env: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| !k.starts_with("LIFEBOAT_DR_"))
        .cloned()
        .collect();
    env.push(("LIFEBOAT_STACK_ROLE".into(), "recovery".into()));
    env
}

/// `rounds` cold starts of each of `binaries`, one of each per round, so
/// that whatever else the machine is doing falls on all of them alike.
pub fn measure(
    binaries: &[(String, PathBuf)],
    env: &[(String, String)],
    rounds: usize,
) -> Vec<InitTimes> {
    let mut times: Vec<InitTimes> = binaries
        .iter()
        .map(|(name, _)| InitTimes {
            name: name.clone(),
            ms: Vec::new(),
            failed: Vec::new(),
        })
        .collect();
    for _ in 0..rounds {
        for ((name, path), t) in binaries.iter().zip(&mut times) {
            let run = run_function(path, &env_for(name, env), &[]);
            match (run.init_time, run.init_error) {
                (Some(init), _) => t.ms.push(init.as_secs_f64() * 1000.0),
                (None, error) => t.failed.push(format!(
                    "{}\n{}",
                    error.unwrap_or_default(),
                    run.logs.chars().take(300).collect::<String>()
                )),
            }
        }
    }
    for t in &mut times {
        t.ms.sort_by(f64::total_cmp);
    }
    times
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_read_from_the_sorted_times() {
        let t = InitTimes {
            name: BARE.into(),
            ms: (1..=11).map(f64::from).collect(),
            failed: Vec::new(),
        };
        assert_eq!(t.median(), Some(6.0));
        assert_eq!(t.p10(), Some(2.0));
        assert_eq!(t.p90(), Some(10.0));
        let none = InitTimes {
            ms: Vec::new(),
            ..t
        };
        assert_eq!(none.median(), None);
    }
}
