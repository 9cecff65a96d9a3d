//! The states and roles the store records, as types: each is stored as its
//! text (the column values stores have always held), and a text no variant
//! has is a conversion error naming it, not a silent string.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// An enum stored and serialised as fixed texts, one per variant.
macro_rules! stored_text {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(unknown(stringify!($name), &text, Self::ALL))
                })
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                Self::parse(text).ok_or_else(|| {
                    FromSqlError::Other(unknown(stringify!($name), text, Self::ALL).into())
                })
            }
        }
    };
}

fn unknown<T: Copy + std::fmt::Display>(what: &str, text: &str, all: &[T]) -> String {
    let known: Vec<String> = all.iter().map(T::to_string).collect();
    format!("unknown {what} '{text}' (known: {})", known.join(", "))
}

stored_text! {
    /// Where a run is: planned, then running, then one of the end states.
    RunStatus {
        Planned = "planned",
        Running = "running",
        /// Trained to the end, with its accuracy and weights.
        Completed = "completed",
        Cancelled = "cancelled",
        /// The loss or the test logits became NaN or infinite.
        Diverged = "diverged",
        Failed = "failed",
    }
}

impl RunStatus {
    /// Whether a run in this state has ended (`finish_run` takes only these).
    pub fn is_end(self) -> bool {
        !matches!(self, RunStatus::Planned | RunStatus::Running)
    }
}

stored_text! {
    /// Where a pipeline is: running, then one of the end states.
    PipelineStatus {
        Running = "running",
        Completed = "completed",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

stored_text! {
    /// What a run is for.
    RunRole {
        /// The full-ReLU network: teacher and reference.
        Baseline = "baseline",
        /// A stage-only network measuring its stage's criticality.
        Criticality = "criticality",
        /// The same, trained without distillation (reported only).
        CriticalityWithoutKd = "criticality-nokd",
        /// Gates learned to a ReLU budget.
        Gates = "gates",
        /// A network a method offers as a result.
        Candidate = "candidate",
        /// A standalone training, outside any pipeline.
        Single = "single",
    }
}

impl From<deepreduce_plugin_api::reduction::Role> for RunRole {
    fn from(role: deepreduce_plugin_api::reduction::Role) -> Self {
        use deepreduce_plugin_api::reduction::Role;
        match role {
            Role::Baseline => RunRole::Baseline,
            Role::Criticality => RunRole::Criticality,
            Role::CriticalityWithoutKd => RunRole::CriticalityWithoutKd,
            Role::Gates => RunRole::Gates,
            Role::Candidate => RunRole::Candidate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_reads_back_from_its_text_and_an_unknown_text_is_named() {
        for status in RunStatus::ALL {
            assert_eq!(RunStatus::parse(status.as_str()), Some(*status));
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(serde_json::from_value::<RunStatus>(json).unwrap(), *status);
        }
        assert_eq!(RunRole::CriticalityWithoutKd.as_str(), "criticality-nokd");
        let error = serde_json::from_value::<RunStatus>(serde_json::json!("done")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown RunStatus 'done' (known: planned, running, completed, cancelled, \
             diverged, failed)"
        );
        assert!(RunStatus::Diverged.is_end() && !RunStatus::Running.is_end());
    }
}
