//! `--plugin-timeout [METHOD=]SECS`: how long plugins may take.

use crate::engine::plugin_host::CallTimeouts;
use deepreduce_plugin_api::method;
use std::time::Duration;

/// The calls a timeout can be given for.
const METHODS: [&str; 7] = [
    method::ARCHITECTURE_DESCRIBE,
    method::ARCHITECTURE_BUILD,
    method::OPTIMIZATION_APPLY,
    method::OBJECTIVE_RECIPE,
    method::LATENCY_ESTIMATE,
    method::METHOD_DESCRIBE,
    method::METHOD_STEP,
];

/// Which timeout a flag sets.
#[derive(Clone, Debug, PartialEq)]
pub enum Applies {
    Every,
    Start,
    Method(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct PluginTimeout {
    pub applies: Applies,
    pub after: Duration,
}

impl PluginTimeout {
    pub fn apply(&self, timeouts: &mut CallTimeouts) {
        match &self.applies {
            Applies::Every => timeouts.default = self.after,
            Applies::Start => timeouts.start = self.after,
            Applies::Method(method) => {
                timeouts.per_method.insert(method.clone(), self.after);
            }
        }
    }
}

/// A day: longer is a mistake, not a plugin that needs the time.
const LONGEST: f64 = 86_400.0;

pub fn parse(text: &str) -> Result<PluginTimeout, String> {
    let (applies, secs) = match text.rsplit_once('=') {
        None => (Applies::Every, text),
        Some(("start", secs)) => (Applies::Start, secs),
        Some((name, secs)) if METHODS.contains(&name) => (Applies::Method(name.into()), secs),
        Some((name, _)) => {
            return Err(format!(
                "'{name}' is not a plugin call; give SECS, start=SECS or one of: {}",
                METHODS.join(", ")
            ));
        }
    };
    let seconds: f64 = secs
        .trim()
        .parse()
        .map_err(|_| format!("'{secs}' is not a number of seconds"))?;
    if !(seconds > 0.0 && seconds <= LONGEST) {
        return Err(format!(
            "a timeout is more than 0 and at most {LONGEST} seconds, got {secs}"
        ));
    }
    Ok(PluginTimeout {
        applies,
        after: Duration::from_secs_f64(seconds),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_start_and_one_method() {
        let mut t = CallTimeouts::default();
        for flag in ["2.5", "start=60", "deepreduce.method/1:step=120"] {
            parse(flag).unwrap().apply(&mut t);
        }
        assert_eq!(t.default, Duration::from_millis(2500));
        assert_eq!(t.start, Duration::from_secs(60));
        assert_eq!(
            t.for_method("deepreduce.method/1:step"),
            Duration::from_secs(120)
        );
        assert_eq!(t.for_method("other"), Duration::from_millis(2500));
    }

    #[test]
    fn absurd_values_are_refused() {
        for flag in [
            "0",
            "-1",
            "nan",
            "inf",
            "1e9",
            "x",
            "=3",
            "step=",
            "latency.estimate=2",
        ] {
            assert!(parse(flag).is_err(), "{flag}");
        }
    }
}
