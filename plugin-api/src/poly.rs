//! The polynomial activation: per channel, `a*x^2 + b*x + c`, which private
//! inference evaluates with one secure multiplication per element instead
//! of a garbled-circuit ReLU. It replaces a whole ReLU layer (DELPHI) or the
//! elements a mask drops (AutoReP).
//!
//! On the wire: `{"a": [...], "b": [...], "c": [...], "trainable": true}`,
//! one coefficient per channel in each list.

use serde::{Deserialize, Serialize};

/// DELPHI's quadratic approximation of the ReLU (Mishra et al., USENIX
/// Security 2020), as `(a, b, c)` of `a*x^2 + b*x + c`.
pub const DELPHI: (f32, f32, f32) = (0.1997, 0.5002, 0.1992);

/// Per-channel coefficients of `a*x^2 + b*x + c`. `trainable` coefficients
/// are learned with the weights (and count as parameters); fixed ones stay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Polynomial {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    pub c: Vec<f32>,
    pub trainable: bool,
}

impl Polynomial {
    /// The same fixed `(a, b, c)` on each of `channels`.
    pub fn uniform(channels: usize, (a, b, c): (f32, f32, f32)) -> Self {
        Polynomial {
            a: vec![a; channels],
            b: vec![b; channels],
            c: vec![c; channels],
            trainable: false,
        }
    }

    /// `x` on every channel, fixed: (0, 1, 0).
    pub fn identity(channels: usize) -> Self {
        Self::uniform(channels, (0.0, 1.0, 0.0))
    }

    /// [`DELPHI`]'s quadratic on every channel, fixed.
    pub fn delphi(channels: usize) -> Self {
        Self::uniform(channels, DELPHI)
    }

    /// The same coefficients, learned from here on.
    pub fn into_trainable(self) -> Self {
        Polynomial {
            trainable: true,
            ..self
        }
    }

    /// Trainable parameters: three per channel when trainable, else none.
    pub fn params(&self) -> u64 {
        if self.trainable {
            (self.a.len() + self.b.len() + self.c.len()) as u64
        } else {
            0
        }
    }

    /// Why these coefficients do not fit a layer of `channels`, if they do
    /// not: each list needs one finite coefficient per channel.
    pub fn check(&self, channels: usize) -> Result<(), String> {
        for (term, coefficients) in [("a", &self.a), ("b", &self.b), ("c", &self.c)] {
            if coefficients.len() != channels {
                return Err(format!(
                    "its polynomial has {} coefficients in `{term}`, but the layer has {channels} channels",
                    coefficients.len()
                ));
            }
            if let Some(i) = coefficients.iter().position(|v| !v.is_finite()) {
                return Err(format!(
                    "its polynomial's {term}[{i}] is {}; coefficients must be finite",
                    coefficients[i]
                ));
            }
        }
        Ok(())
    }
}
