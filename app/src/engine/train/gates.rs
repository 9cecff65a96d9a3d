//! Learning which ReLUs to keep, to an exact budget: SNL-style gates (Cho
//! et al., ICML 2022). Every ReLU unit of the network gets a gate in
//! [0, 1] (see `deepreduce_models::Gate`), trained with the weights under
//! `l1 * sum(gates)` added to the loss; after each epoch whose gates above
//! the threshold still cover more ReLUs than the budget, `l1` grows by the
//! recipe's factor. The result is the network masked to its largest gates
//! (`gate_mask`).
//!
//! Each epoch's test accuracy is that of the hard mask the gates would give
//! now (the gated model with the top-budget gates at 1 and the rest at 0,
//! which computes the masked network exactly), not of the soft gates: it is
//! what a stop after that epoch would deliver. Its batch norms' running
//! statistics are those of the soft gates, so a fine-tuning of the masked
//! network usually gains on it.

use super::gate_mask::{hard_gates, masked_network, relus_above, top_units};
use super::{
    EpochMetrics, Regime, RunContext, Status, Teacher, TrainConfig, TrainError, check_run, run,
    seeded_model, warm,
};
use burn::tensor::Tensor;
use deepreduce_datasets::Dataset;
use deepreduce_models::{GateSpec, IrModel};
use deepreduce_plugin_api::reduction::GateRecipe;
use deepreduce_plugin_api::{Network, analyze};
use std::borrow::Cow;

/// An epoch of gate learning.
#[derive(Clone, Debug, PartialEq)]
pub struct GateEpoch {
    /// Its metrics (test accuracy with the hard mask; train loss with the
    /// L1 term); the checkpoint is not filled in.
    pub metrics: EpochMetrics,
    /// The L1 weight it trained with.
    pub l1: f64,
    /// ReLUs whose gate was above the threshold at its end.
    pub relus_above_threshold: u64,
}

#[derive(Debug)]
pub struct GatedOutcome {
    pub status: Status,
    /// The network with the learned mask: exactly the budget's ReLUs at
    /// pixel granularity, the most whole channels within it at channel
    /// granularity.
    pub network: Network,
    /// The gated model as trained: its convolutions, norms, linears and
    /// quadratics seed a fine-tuning of `network` (`train_from`).
    pub model: IrModel,
    pub epochs: Vec<GateEpoch>,
    /// Of the hard mask, after the last finished epoch.
    pub test_accuracy: Option<f64>,
    pub seconds: f64,
}

/// Learns gates on `net`'s ReLU layers (whole or masked; units a mask
/// drops stay dropped) to `recipe`'s budget, with KD from `teacher` when
/// given and the layers of `init` of the same name and shape when given.
/// Resuming is refused: checkpoints do not hold the L1 weight.
pub fn learn_gates(
    net: &Network,
    recipe: &GateRecipe,
    data: &Dataset,
    cfg: &TrainConfig,
    teacher: Option<Teacher<'_>>,
    init: Option<&IrModel>,
    ctx: &RunContext<'_>,
) -> Result<GatedOutcome, TrainError> {
    check_run(net, data, cfg)?;
    check_recipe(net, recipe)?;
    if ctx.resume.is_some() {
        return Err(TrainError::Gates(
            "cannot resume: checkpoints do not hold the L1 weight".into(),
        ));
    }
    let spec = GateSpec {
        granularity: recipe.granularity,
        dropped: recipe.dropped,
    };
    let model = seeded_model(|d| IrModel::gated(net, spec, d), ctx.device, cfg.seed)
        .map_err(|e| TrainError::Gates(e.to_string()))?;
    let mut regime = GateRegime {
        recipe,
        l1: recipe.l1_initial,
        epochs: Vec::new(),
    };
    let outcome = run(warm(model, init), data, cfg, teacher, ctx, &mut regime)?;
    let layers = outcome.model.gate_layers();
    let kept = top_units(&layers, recipe.budget);
    Ok(GatedOutcome {
        status: outcome.status,
        network: masked_network(net, &layers, &kept),
        model: outcome.model,
        epochs: regime.epochs,
        test_accuracy: outcome.test_accuracy,
        seconds: outcome.seconds,
    })
}

/// Refuses a recipe that cannot give its budget on `net`.
fn check_recipe(net: &Network, recipe: &GateRecipe) -> Result<(), TrainError> {
    let relus = analyze(net)?.total.relus;
    if relus == 0 {
        return Err(TrainError::Gates(format!(
            "'{}' evaluates no ReLU: there is nothing to gate",
            net.name
        )));
    }
    if recipe.budget > relus {
        return Err(TrainError::Gates(format!(
            "a budget of {} ReLUs, but the network has {relus}",
            recipe.budget
        )));
    }
    recipe.check_schedule().map_err(TrainError::Gates)
}

/// The training loop's additions: the L1 term and its schedule, the
/// projection of the gates, the hard mask for evaluation.
struct GateRegime<'r> {
    recipe: &'r GateRecipe,
    l1: f64,
    epochs: Vec<GateEpoch>,
}

impl Regime for GateRegime<'_> {
    fn penalty(&self, model: &IrModel) -> Option<Tensor<1>> {
        model.gate_sum().map(|sum| sum * self.l1)
    }

    fn after_step(&self, model: IrModel) -> IrModel {
        model.project_gates()
    }

    fn evaluated<'m>(&self, model: &'m IrModel) -> Cow<'m, IrModel> {
        let layers = model.gate_layers();
        let gates = hard_gates(&layers, &top_units(&layers, self.recipe.budget));
        Cow::Owned(model.clone().with_gate_values(gates))
    }

    fn end_epoch(&mut self, model: &IrModel, metrics: &EpochMetrics) {
        let above = relus_above(&model.gate_layers(), self.recipe.threshold);
        self.epochs.push(GateEpoch {
            metrics: metrics.clone(),
            l1: self.l1,
            relus_above_threshold: above,
        });
        if above > self.recipe.budget {
            self.l1 *= self.recipe.l1_growth;
        }
    }
}
