//! The trainer: SGD with momentum and weight decay, a learning-rate
//! schedule, optional knowledge distillation, top-1 evaluation, per-epoch
//! checkpoints and metrics sent as events, cancellation between batches,
//! and a clean stop when the loss stops being a number.

mod checkpoint;
mod gate_mask;
pub mod gates;
pub mod loss;
pub mod memory;
pub mod schedule;

pub use checkpoint::Checkpoint;
pub use gates::{GateEpoch, GatedOutcome, learn_gates};
pub use schedule::Schedule;

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use deepreduce_datasets::{Batch, BatchConfig, Batcher, Dataset, Split};
use deepreduce_models::IrModel;
use deepreduce_plugin_api::{IrError, Network, TrainingObjective};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::Instant;

/// How to train. The defaults are the paper's CIFAR-100 recipe; the CLI
/// and GUI override epochs, batch and subset for laptop-sized runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub schedule: Schedule,
    /// Train on this many training images (a fixed, class-balanced subset).
    pub subset: Option<usize>,
    /// Evaluate on this many test images.
    pub test_subset: Option<usize>,
    pub augment: bool,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 120,
            batch_size: 128,
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 4e-4,
            schedule: Schedule::Step {
                every: 30,
                gamma: 0.1,
            },
            subset: None,
            test_subset: None,
            augment: true,
            seed: 42,
        }
    }
}

impl TrainConfig {
    /// The paper's epochs and schedule for `dataset` (a name or a path):
    /// CIFAR-10 trains 150 epochs with cosine decay, everything else 120
    /// epochs with lr / 10 every 30 (SPEC.md).
    pub fn paper_schedule(dataset: &str) -> (usize, schedule::ScheduleKind) {
        let kind = deepreduce_datasets::DatasetKind::from_name(dataset)
            .or_else(|| deepreduce_datasets::detect(std::path::Path::new(dataset)));
        match kind {
            Some(deepreduce_datasets::DatasetKind::Cifar10) => {
                (150, schedule::ScheduleKind::Cosine)
            }
            _ => (120, schedule::ScheduleKind::Step),
        }
    }

    /// Refuses a configuration that cannot train or would record
    /// meaningless results; the message names the setting. Checked before
    /// anything is stored (a NaN learning rate cannot even be read back).
    pub fn validate(&self) -> Result<(), String> {
        let positive = |name: &str, v: f64| match v.is_finite() && v > 0.0 {
            true => Ok(()),
            false => Err(format!("{name} must be a positive number, got {v}")),
        };
        positive("the learning rate", self.lr)?;
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(format!("momentum must be in [0, 1), got {}", self.momentum));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(format!(
                "weight decay must be 0 or positive, got {}",
                self.weight_decay
            ));
        }
        for (name, value) in [("epochs", self.epochs), ("the batch size", self.batch_size)] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        for (name, value) in [("subset", self.subset), ("test subset", self.test_subset)] {
            if value == Some(0) {
                return Err(format!(
                    "the {name} must be at least 1 image (leave it out to use them all)"
                ));
            }
        }
        self.schedule.validate()
    }

    /// The paper's recipe with what the CLI and the GUI let a user change.
    pub fn with_choices(
        epochs: usize,
        batch_size: usize,
        lr: f64,
        schedule: schedule::ScheduleKind,
        subset: Option<usize>,
        test_subset: Option<usize>,
    ) -> Self {
        TrainConfig {
            epochs,
            batch_size,
            lr,
            schedule: schedule.for_epochs(epochs),
            subset,
            test_subset,
            ..TrainConfig::default()
        }
    }
}

/// Progress, sent while training runs.
#[derive(Clone, Debug)]
pub enum TrainEvent {
    Started {
        epochs: usize,
        batches_per_epoch: usize,
        start_epoch: usize,
    },
    Batch {
        epoch: usize,
        batch: usize,
        loss: f64,
        images_per_second: f64,
    },
    Epoch(EpochMetrics),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based.
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    pub lr: f64,
    pub seconds: f64,
    pub checkpoint: Option<PathBuf>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Completed,
    Cancelled {
        epoch: usize,
    },
    /// The loss became NaN or infinite: training stops instead of producing garbage.
    Diverged {
        epoch: usize,
        batch: usize,
        loss: f64,
    },
    /// Training kept a finite loss but the evaluation-mode forward (with
    /// BatchNorm's running statistics) gave NaN or infinite logits for
    /// `images` test images: no accuracy is reported for such a network.
    DivergedInEvaluation {
        epoch: usize,
        images: usize,
    },
}

#[derive(Debug)]
pub struct TrainOutcome {
    pub status: Status,
    /// The trained model (on the training device).
    pub model: IrModel,
    /// Top-1 test accuracy (%) after the last finished epoch.
    pub test_accuracy: Option<f64>,
    pub epochs_done: usize,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("cannot build the model: {0}")]
    Model(#[from] deepreduce_plugin_api::IrError),
    #[error("the network expects {expected} input but the dataset has {found} images")]
    InputMismatch { expected: String, found: String },
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("checkpoint {0}")]
    CheckpointWrite(#[from] crate::engine::atomic_write::WriteError),
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Memory(#[from] memory::MemoryError),
    #[error("gate learning: {0}")]
    Gates(String),
}

/// The teacher for knowledge distillation: a trained model and the recipe.
pub struct Teacher<'a> {
    pub model: &'a IrModel,
    pub objective: TrainingObjective,
}

/// Everything a training run needs besides the network and the data.
pub struct RunContext<'a> {
    pub device: &'a Device,
    pub events: Option<&'a Sender<TrainEvent>>,
    pub cancel: Option<&'a AtomicBool>,
    /// Where per-epoch checkpoints go; none when `None`.
    pub checkpoint_dir: Option<PathBuf>,
    /// Continue from this checkpoint instead of starting fresh.
    pub resume: Option<Checkpoint>,
}

pub fn train(
    net: &Network,
    data: &Dataset,
    cfg: &TrainConfig,
    teacher: Option<Teacher<'_>>,
    ctx: &RunContext<'_>,
) -> Result<TrainOutcome, TrainError> {
    train_from(net, data, cfg, teacher, None, ctx)
}

/// [`train`], warm-started: the layers of `init` whose IR node has the same
/// name and shape replace the fresh ones (a fine-tuning of a gated model's
/// weights, for one).
pub fn train_from(
    net: &Network,
    data: &Dataset,
    cfg: &TrainConfig,
    teacher: Option<Teacher<'_>>,
    init: Option<&IrModel>,
    ctx: &RunContext<'_>,
) -> Result<TrainOutcome, TrainError> {
    check_run(net, data, cfg)?;
    let model = seeded_model(|d| IrModel::new(net, d), ctx.device, cfg.seed)?;
    run(warm(model, init), data, cfg, teacher, ctx, &mut Plain)
}

/// What a kind of run adds to the plain training loop (gate learning adds
/// an L1 term, a projection and a hard mask for evaluation).
trait Regime {
    /// A term added to every step's loss.
    fn penalty(&self, _model: &IrModel) -> Option<Tensor<1>> {
        None
    }

    /// The model after an optimizer step.
    fn after_step(&self, model: IrModel) -> IrModel {
        model
    }

    /// The model whose test accuracy an epoch reports.
    fn evaluated<'m>(&self, model: &'m IrModel) -> Cow<'m, IrModel> {
        Cow::Borrowed(model)
    }

    /// After an epoch, with its metrics (not yet with its checkpoint).
    fn end_epoch(&mut self, _model: &IrModel, _metrics: &EpochMetrics) {}
}

/// Training the network as it is.
struct Plain;

impl Regime for Plain {}

/// The checks before anything is built.
fn check_run(net: &Network, data: &Dataset, cfg: &TrainConfig) -> Result<(), TrainError> {
    check_input(net, data)?;
    cfg.validate().map_err(TrainError::Config)?;
    memory::check(net, cfg.batch_size)?;
    Ok(())
}

/// `model` warm-started from `init`, if given.
fn warm(model: IrModel, init: Option<&IrModel>) -> IrModel {
    match init {
        Some(init) => model.warm_start(init).0,
        None => model,
    }
}

/// The training loop, from `model` (on the training device).
fn run(
    mut model: IrModel,
    data: &Dataset,
    cfg: &TrainConfig,
    teacher: Option<Teacher<'_>>,
    ctx: &RunContext<'_>,
    regime: &mut impl Regime,
) -> Result<TrainOutcome, TrainError> {
    let started = Instant::now();
    let device = ctx.device.clone();
    let train_device = device.clone().autodiff();
    let mut optim = sgd(cfg);
    let mut start_epoch = 0;
    if let Some(cp) = &ctx.resume {
        (model, optim) = cp.load(model, optim)?;
        start_epoch = cp.epoch;
    }
    let teacher = teacher.map(|t| (t.model.valid(), t.objective));

    let train_split = Arc::new(subset(&data.train, cfg.subset, cfg.seed));
    let test_split = subset(&data.test, cfg.test_subset, cfg.seed);
    let batch_cfg = BatchConfig {
        batch_size: cfg.batch_size,
        shuffle: true,
        augment: cfg.augment,
        seed: cfg.seed,
        drop_last: train_split.len() > cfg.batch_size,
    };
    let batches = batch_cfg.batches(train_split.len());
    send(
        ctx,
        TrainEvent::Started {
            epochs: cfg.epochs,
            batches_per_epoch: batches,
            start_epoch,
        },
    );

    let mut test_accuracy = None;
    let mut epochs_done = start_epoch;
    for epoch in start_epoch..cfg.epochs {
        let epoch_start = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
        let mut lr = cfg.lr;
        for (b, batch) in Batcher::spawn(
            train_split.clone(),
            &data.info,
            batch_cfg.clone(),
            epoch as u64,
        )
        .enumerate()
        {
            if ctx.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Ok(finish(
                    Status::Cancelled { epoch },
                    model,
                    test_accuracy,
                    epochs_done,
                    started,
                ));
            }
            let batch_start = Instant::now();
            lr = cfg.schedule.lr(cfg.lr, epoch, cfg.epochs, b, batches);
            let (images, labels) = to_tensors(&batch, &train_device);
            let (next, loss_value, logits) = step(
                model,
                &mut optim,
                images,
                labels,
                lr,
                teacher.as_ref(),
                regime,
            );
            model = next;
            if !loss_value.is_finite() {
                let status = Status::Diverged {
                    epoch: epoch + 1,
                    batch: b + 1,
                    loss: loss_value,
                };
                return Ok(finish(status, model, test_accuracy, epochs_done, started));
            }
            correct += count_correct(logits, &batch.labels);
            seen += batch.batch_size;
            loss_sum += loss_value * batch.batch_size as f64;
            let per_second =
                batch.batch_size as f64 / batch_start.elapsed().as_secs_f64().max(1e-9);
            send(
                ctx,
                TrainEvent::Batch {
                    epoch: epoch + 1,
                    batch: b + 1,
                    loss: loss_value,
                    images_per_second: per_second,
                },
            );
        }
        let evaluated = regime.evaluated(&model);
        let accuracy = match evaluate(&evaluated, &test_split, data, cfg.batch_size, &device) {
            Ok(accuracy) => accuracy,
            Err(non_finite) => {
                let status = non_finite.status_after(epoch + 1);
                return Ok(finish(status, model, None, epochs_done, started));
            }
        };
        test_accuracy = Some(accuracy);
        epochs_done = epoch + 1;
        let mut metrics = EpochMetrics {
            epoch: epochs_done,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: 100.0 * correct as f64 / seen.max(1) as f64,
            test_accuracy: accuracy,
            lr,
            seconds: epoch_start.elapsed().as_secs_f64(),
            checkpoint: None,
        };
        regime.end_epoch(&model, &metrics);
        if let Some(dir) = &ctx.checkpoint_dir {
            let saved = Checkpoint::save(dir, &metrics, &model, &optim)?;
            metrics.checkpoint = Some(saved.model_path());
        }
        send(ctx, TrainEvent::Epoch(metrics));
    }
    // A run resumed from the checkpoint of its last epoch (stopped before
    // it was recorded finished) trains nothing more: evaluate it here, so
    // that it completes with its accuracy.
    let test_accuracy = match test_accuracy {
        Some(accuracy) => accuracy,
        None => match evaluate(
            &regime.evaluated(&model),
            &test_split,
            data,
            cfg.batch_size,
            &device,
        ) {
            Ok(accuracy) => accuracy,
            Err(non_finite) => {
                let status = non_finite.status_after(epochs_done);
                return Ok(finish(status, model, None, epochs_done, started));
            }
        },
    };
    Ok(finish(
        Status::Completed,
        model,
        Some(test_accuracy),
        epochs_done,
        started,
    ))
}

/// A freshly initialised model (built by `build` on the training device of
/// `device`) whose weights depend on `seed` only. The
/// device's random generator is shared by every run in the process, so
/// seeding and drawing the initial weights happen under one lock: parallel
/// pipeline jobs and parallel tests still get repeatable weights. burn
/// initialises a parameter lazily, on first use, so every one is drawn
/// here, before the lock is released.
fn seeded_model<E>(
    build: impl FnOnce(&Device) -> Result<IrModel, E>,
    device: &Device,
    seed: u64,
) -> Result<IrModel, E> {
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    let model = build(&device.clone().autodiff())?;
    model.visit(&mut DrawParameters);
    Ok(model)
}

/// The weights `net` starts training from with `seed`: what an untrained
/// network is measured with (its cost does not depend on weight values).
pub fn initial_model(net: &Network, device: &Device, seed: u64) -> Result<IrModel, IrError> {
    seeded_model(|d| IrModel::new(net, d), device, seed)
}

/// Touches every float parameter, which makes burn draw its initial value.
struct DrawParameters;

impl burn::module::ModuleVisitor for DrawParameters {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// One training step on a batch: forward, loss (cross-entropy, or KD with
/// the teacher's logits computed without gradients), backward and SGD update.
/// Returns the model, the loss and the logits (detached). When the loss is
/// not finite the model is returned unchanged.
pub fn sgd_step(
    model: IrModel,
    optim: &mut ModuleOptimizer,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    lr: f64,
    teacher: Option<&(IrModel, TrainingObjective)>,
) -> (IrModel, f64, Tensor<2>) {
    step(model, optim, images, labels, lr, teacher, &Plain)
}

/// [`sgd_step`] under `regime`: its penalty joins the loss (and the loss
/// returned), its `after_step` follows the update.
fn step(
    model: IrModel,
    optim: &mut ModuleOptimizer,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    lr: f64,
    teacher: Option<&(IrModel, TrainingObjective)>,
    regime: &impl Regime,
) -> (IrModel, f64, Tensor<2>) {
    let logits = model.forward(images.clone());
    let loss = match teacher {
        Some((
            t,
            TrainingObjective::Distillation {
                temperature,
                soft_weight,
                ..
            },
        )) => {
            let teacher_logits = Tensor::from_inner(t.forward(images.inner()));
            loss::distillation(
                logits.clone(),
                teacher_logits,
                labels,
                *temperature,
                *soft_weight,
            )
        }
        None => loss::cross_entropy(logits.clone(), labels),
    };
    let loss = match regime.penalty(&model) {
        Some(penalty) => loss + penalty,
        None => loss,
    };
    let loss_value = loss.clone().into_scalar::<f32>() as f64;
    if !loss_value.is_finite() {
        return (model, loss_value, logits.inner());
    }
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = regime.after_step(optim.step(lr, model, grads));
    (model, loss_value, logits.inner())
}

/// The optimizer of the paper's recipe: SGD, momentum without dampening
/// (PyTorch's default; burn's default dampening differs), L2 weight decay.
pub fn sgd(cfg: &TrainConfig) -> ModuleOptimizer {
    SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(cfg.momentum)
                .with_dampening(0.0),
        ))
        .with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay as f32)))
        .init()
}

fn finish(
    status: Status,
    model: IrModel,
    test_accuracy: Option<f64>,
    epochs_done: usize,
    started: Instant,
) -> TrainOutcome {
    TrainOutcome {
        status,
        model,
        test_accuracy,
        epochs_done,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn send(ctx: &RunContext<'_>, event: TrainEvent) {
    if let Some(tx) = ctx.events {
        // A receiver that went away only means nobody is watching.
        let _ = tx.send(event);
    }
}

fn check_input(net: &Network, data: &Dataset) -> Result<(), TrainError> {
    let i = &data.info;
    let found = (i.channels, i.height, i.width);
    let expected = (net.input.channels, net.input.height, net.input.width);
    if found != expected {
        let fmt = |(c, h, w): (usize, usize, usize)| format!("{c}x{h}x{w}");
        return Err(TrainError::InputMismatch {
            expected: fmt(expected),
            found: fmt(found),
        });
    }
    Ok(())
}

fn subset(split: &Split, n: Option<usize>, seed: u64) -> Split {
    match n {
        Some(n) if n < split.len() => split.subset(n, seed),
        _ => split.clone(),
    }
}

fn to_tensors(batch: &Batch, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let shape = [batch.batch_size, batch.channels, batch.height, batch.width];
    let images = Tensor::<4>::from_data(TensorData::new(batch.images.clone(), shape), device);
    let labels = Tensor::<1, Int>::from_data(
        TensorData::new(batch.labels.clone(), [batch.batch_size]),
        device,
    );
    (images, labels)
}

fn count_correct(logits: Tensor<2>, labels: &[i64]) -> usize {
    let predicted = logits.argmax(1).into_data();
    predicted
        .iter::<i64>()
        .zip(labels)
        .filter(|(p, y)| p == *y)
        .count()
}

/// Test images whose logits were NaN or infinite.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NonFiniteLogits {
    pub images: usize,
}

impl NonFiniteLogits {
    /// How a run whose evaluation after `epoch` gave these ends.
    fn status_after(self, epoch: usize) -> Status {
        Status::DivergedInEvaluation {
            epoch,
            images: self.images,
        }
    }
}

/// Top-1 accuracy (%) of `model` on `split`, in evaluation mode; an error
/// when any logit is not finite (argmax would still name a class).
pub fn evaluate(
    model: &IrModel,
    split: &Split,
    data: &Dataset,
    batch_size: usize,
    device: &Device,
) -> Result<f64, NonFiniteLogits> {
    let eval = model.valid();
    let cfg = BatchConfig {
        batch_size,
        shuffle: false,
        augment: false,
        seed: 0,
        drop_last: false,
    };
    let (mut correct, mut seen, mut non_finite) = (0, 0, 0);
    for batch in Batcher::spawn(Arc::new(split.clone()), &data.info, cfg, 0) {
        let (images, _) = to_tensors(&batch, device);
        let logits = eval.forward(images);
        non_finite += non_finite_rows(logits.clone());
        correct += count_correct(logits, &batch.labels);
        seen += batch.batch_size;
    }
    if non_finite > 0 {
        return Err(NonFiniteLogits { images: non_finite });
    }
    Ok(100.0 * correct as f64 / seen.max(1) as f64)
}

/// Rows of `logits` holding a NaN or an infinity.
fn non_finite_rows(logits: Tensor<2>) -> usize {
    let [rows, classes] = logits.dims();
    let values = logits.into_data().convert::<f32>();
    let values = values.as_slice::<f32>().expect("f32 logits");
    (0..rows)
        .filter(|r| {
            values[r * classes..(r + 1) * classes]
                .iter()
                .any(|v| !v.is_finite())
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepreduce_plugin_api::testing::tiny;

    fn first_weights(model: &IrModel) -> Vec<f32> {
        model.convs()[0]
            .weight
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 weights")
    }

    #[test]
    fn cifar10_trains_150_cosine_epochs_and_the_rest_120_stepped() {
        use schedule::ScheduleKind::{Cosine, Step};
        assert_eq!(TrainConfig::paper_schedule("cifar10"), (150, Cosine));
        assert_eq!(TrainConfig::paper_schedule("cifar100"), (120, Step));
        assert_eq!(TrainConfig::paper_schedule("synthetic"), (120, Step));
        let dir = std::env::temp_dir().join(format!("cifar10-detect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("data_batch_1.bin"), b"").unwrap();
        assert_eq!(
            TrainConfig::paper_schedule(dir.to_str().unwrap()),
            (150, Cosine)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn models_seeded_alike_on_parallel_threads_start_alike() {
        let net = tiny();
        let device = Device::flex();
        let make = |seed| {
            let model = seeded_model(|d| IrModel::new(&net, d), &device, seed).unwrap();
            // Other threads seed the shared generator meanwhile: weights
            // drawn only now (lazily) would come from their seeds.
            std::thread::sleep(std::time::Duration::from_millis(30));
            first_weights(&model)
        };
        let alone = make(7);
        // Threads seeding other values in between must not shift the draws.
        let results: Vec<(u64, Vec<f32>)> = std::thread::scope(|s| {
            let handles: Vec<_> = [7, 8, 7, 9, 7, 8]
                .into_iter()
                .map(|seed| s.spawn(move || (seed, make(seed))))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (seed, weights) in &results {
            if *seed == 7 {
                assert_eq!(weights, &alone);
            } else {
                assert_ne!(weights, &alone);
            }
        }
    }
}
