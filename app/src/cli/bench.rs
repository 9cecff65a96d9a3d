//! `deepreduce bench`: training-step throughput of ResNet18-CIFAR on the
//! chosen backend next to the same step in PyTorch on the same kind of
//! device (CUDA when the workbench trains on a GPU, else the CPU), in one
//! run, each side held to the same instruction set (`--isa`).

use crate::engine::backend::{BackendChoice, select};
use crate::engine::bench::{median, train_step_throughput};
use crate::engine::network::{NetworkSpec, build_network};
use crate::engine::plugin_host::PluginHost;
use deepreduce_models::cpu::isa::{self, Isa};
use deepreduce_plugin_api::{InputSpec, analyze};
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
    /// Timed steps per configuration (after warm-up).
    #[arg(long, default_value_t = 5, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    steps: usize,
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Python with PyTorch (default: the venv of bench/setup-torch.sh, else python3).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Rounds per configuration, the workbench and PyTorch alternating, so
    /// that both see the same machine load; medians are reported.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    rounds: u64,
    /// Only these configurations, as WIDTHxBATCH (e.g. 64x32,64x128,16x128).
    #[arg(long, value_delimiter = ',', default_value = "64x32,64x128,16x128")]
    configs: Vec<String>,
    /// The most either side may use on the CPU: avx2 measures what a
    /// processor without AVX-512 gets (our kernels and PyTorch's alike).
    #[arg(long, value_enum, default_value_t)]
    isa: IsaChoice,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
enum IsaChoice {
    Avx2,
    #[default]
    Avx512,
}

impl IsaChoice {
    fn isa(self) -> Isa {
        match self {
            IsaChoice::Avx2 => Isa::Avx2,
            IsaChoice::Avx512 => Isa::Avx512,
        }
    }

    /// What holds PyTorch to this set: ATen's vector kernels, oneDNN's and
    /// MKL's. (AVX-512 is their default wherever the processor has it.)
    fn torch_env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            IsaChoice::Avx2 => &[
                ("ATEN_CPU_CAPABILITY", "avx2"),
                ("ONEDNN_MAX_CPU_ISA", "AVX2"),
                ("MKL_ENABLE_INSTRUCTIONS", "AVX2"),
            ],
            IsaChoice::Avx512 => &[],
        }
    }
}

/// How PyTorch runs the reference step.
struct TorchRun<'a> {
    args: &'a Args,
    /// `cpu` or `cuda`.
    device: &'static str,
    env: &'static [(&'static str, &'static str)],
}

/// The PyTorch reference script: in the checkout the command runs from, else
/// in the one the binary was built from (a shared target dir may hold a
/// binary built in another clone).
fn torch_script() -> PathBuf {
    let here = PathBuf::from("bench/torch_train_step.py");
    if here.exists() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/torch_train_step.py")
}

/// The Python to run PyTorch with: `--python`, else the venv that
/// bench/setup-torch.sh makes for this device kind (`--cuda` for the GPU),
/// else python3.
fn python(args: &Args, device: &str) -> PathBuf {
    args.python.clone().unwrap_or_else(|| {
        let venv = if device == "cuda" {
            "bench-venv-cuda"
        } else {
            "bench-venv"
        };
        let venv = std::env::var_os("HOME")
            .map(|h| {
                PathBuf::from(h)
                    .join(".cache/deepreduce")
                    .join(venv)
                    .join("bin/python")
            })
            .filter(|p| p.exists());
        venv.unwrap_or_else(|| PathBuf::from("python3"))
    })
}

impl TorchRun<'_> {
    /// The reference script at `width` and `batch` on this run's device.
    fn command(&self, width: usize, batch: usize, steps: usize, warmup: usize) -> Command {
        let mut command = Command::new(python(self.args, self.device));
        command
            .arg(torch_script())
            .args(["--width", &width.to_string(), "--batch", &batch.to_string()])
            .args([
                "--steps",
                &steps.to_string(),
                "--warmup",
                &warmup.to_string(),
            ])
            .args(["--device", self.device, "--json"])
            .envs(self.env.iter().copied());
        command
    }

    /// Runs `command`: its stdout, or why it could not run.
    fn output(&self, mut command: Command) -> Result<String, String> {
        let out = command.output().map_err(|e| {
            format!(
                "cannot run {}: {e}",
                python(self.args, self.device).display()
            )
        })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let setup = match self.device {
                "cuda" => "bash bench/setup-torch.sh --cuda",
                _ => "bash bench/setup-torch.sh",
            };
            return Err(format!("PyTorch skipped: {} (run {setup})", stderr.trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The same step in PyTorch, or why it could not run.
    fn step(&self, width: usize, batch: usize) -> Result<serde_json::Value, String> {
        let stdout = self.output(self.command(width, batch, self.args.steps, self.args.warmup))?;
        last_json(&stdout)
    }

    /// Which instructions PyTorch really uses: ATen's capability, and
    /// oneDNN's ISA and convolution kernels from its verbose log of one
    /// small step (a run of its own: the log would slow the timed ones).
    fn instruction_sets(&self) -> Result<String, String> {
        let mut command = self.command(8, 4, 1, 0);
        command.env("ONEDNN_VERBOSE", "1");
        let stdout = self.output(command)?;
        let aten = last_json(&stdout)?["aten_capability"]
            .as_str()
            .unwrap_or("unknown")
            .to_string();
        let (onednn, convolutions) = onednn_isa(&stdout);
        Ok(format!(
            "ATen {aten}; oneDNN {}; its convolutions: {}",
            onednn.unwrap_or_else(|| "silent (not used?)".into()),
            if convolutions.is_empty() {
                "none logged".into()
            } else {
                convolutions.join(", ")
            }
        ))
    }
}

/// The last line of `stdout` as JSON.
fn last_json(stdout: &str) -> Result<serde_json::Value, String> {
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("PyTorch printed no JSON ({e}): {stdout}"))
}

/// From oneDNN's verbose log: the ISA it reports (`info,cpu,isa:...`) and
/// the distinct implementations its convolutions ran (e.g.
/// `brg_conv_fwd:avx2`).
fn onednn_isa(log: &str) -> (Option<String>, Vec<String>) {
    let mut isa = None;
    let mut convolutions: Vec<String> = Vec::new();
    for line in log.lines().filter(|l| l.starts_with("onednn_verbose")) {
        let fields: Vec<&str> = line.split(',').collect();
        if let Some(reported) = fields.iter().find_map(|f| f.strip_prefix("isa:")) {
            isa = Some(reported.trim().to_string());
        }
        let exec = fields.contains(&"exec");
        if let Some(at) = fields.iter().position(|f| *f == "convolution")
            && exec
            && let Some(kernel) = fields.get(at + 1)
            && !convolutions.iter().any(|c| c == kernel)
        {
            convolutions.push(kernel.to_string());
        }
    }
    (isa, convolutions)
}

pub fn run(host: &PluginHost, args: &Args) -> Result<(), String> {
    isa::limit_to(args.isa.isa());
    let backend = select(args.backend);
    println!("backend: {}", backend.label);
    let torch = TorchRun {
        args,
        device: if backend.on_gpu { "cuda" } else { "cpu" },
        env: if backend.on_gpu {
            &[]
        } else {
            args.isa.torch_env()
        },
    };
    if !backend.is_wgpu {
        println!(
            "workbench kernels: {} (this processor: {})",
            isa::active().name(),
            isa::detected().name()
        );
    }
    if backend.on_gpu {
        println!("PyTorch on CUDA");
    } else {
        match torch.instruction_sets() {
            Ok(sets) => println!("PyTorch on the CPU: {sets}"),
            Err(why) => println!("PyTorch: {why}"),
        }
    }
    for config in &args.configs {
        let (width, batch) = config
            .split_once('x')
            .and_then(|(w, b)| Some((w.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
            .ok_or_else(|| format!("'{config}' is not WIDTHxBATCH"))?;
        let mut spec = NetworkSpec::new(
            "resnet18",
            InputSpec {
                channels: 3,
                height: 32,
                width: 32,
            },
            100,
        );
        spec.width = Some(width);
        let (net, _) = build_network(host, &spec).map_err(|e| e.to_string())?;
        let params = analyze(&net).map_err(|e| e.to_string())?.total.params;
        let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let mut skipped = None;
        for _ in 0..args.rounds {
            let step = train_step_throughput(&net, &backend.device, batch, args.warmup, args.steps)
                .map_err(|e| e.to_string())?;
            ours.push(step.images_per_second);
            match torch.step(width, batch) {
                Ok(reference) => {
                    let images_per_second =
                        reference["images_per_second"].as_f64().ok_or_else(|| {
                            format!("PyTorch printed no images_per_second: {reference}")
                        })?;
                    theirs.push(images_per_second);
                    ratios.push(step.images_per_second / images_per_second);
                }
                Err(why) => skipped = Some(why),
            }
        }
        let (ours, theirs, ratio) = (median(&mut ours), median(&mut theirs), median(&mut ratios));
        let line = json!({
            "network": format!("resnet18 width {width} (CIFAR-100, {params} params)"),
            "batch": batch,
            "rounds": args.rounds,
            "workbench_images_per_second": ours,
            "pytorch_images_per_second": theirs,
            "ratio_vs_pytorch": ratio,
            "pytorch_skipped": skipped,
            "pytorch_device": torch.device,
            "workbench_isa": (!backend.is_wgpu).then(|| isa::active().name()),
        });
        println!("{line}");
        let ours = ours.unwrap_or(0.0);
        match (theirs, ratio) {
            (Some(theirs), Some(ratio)) => println!(
                "  width {width} batch {batch}: {ours:.1} img/s vs PyTorch {theirs:.1} img/s -> {ratio:.2}x{}",
                spread(&ratios)
            ),
            _ => println!(
                "  width {width} batch {batch}: {ours:.1} img/s; {}",
                skipped.unwrap_or_default()
            ),
        }
    }
    Ok(())
}

/// " (median of N rounds, from a to b)" when there was more than one round.
fn spread(ratios: &[f64]) -> String {
    match ratios
        .iter()
        .copied()
        .reduce(f64::min)
        .zip(ratios.iter().copied().reduce(f64::max))
    {
        Some((low, high)) if ratios.len() > 1 => {
            format!(
                " (median of {} rounds, {low:.2}x to {high:.2}x)",
                ratios.len()
            )
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::onednn_isa;

    #[test]
    fn onednn_verbose_logs_give_the_isa_and_the_convolution_kernels() {
        let log = "\
onednn_verbose,v1,info,oneDNN v3.7.1 (commit 8d263e6)
onednn_verbose,v1,info,cpu,runtime:OpenMP,nthr:2
onednn_verbose,v1,info,cpu,isa:Intel AVX2 with Intel DL Boost
onednn_verbose,v1,primitive,info,template:operation,engine,primitive,implementation
onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx2,forward_training,src:f32::blocked:abcd::f0,,alg:convolution_direct,mb4_ic3oc8_ih32oh32kh3sh1ph1_iw32ow32kw3sw1pw1,0.5
onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx2,forward_training,src:f32,,alg:convolution_direct,mb4_ic8oc8,0.2
onednn_verbose,v1,primitive,exec,cpu,convolution,jit:avx2,backward_weights,src:f32,,alg:convolution_direct,mb4_ic8oc8,0.3
{\"images_per_second\": 1.0}";
        let (isa, kernels) = onednn_isa(log);
        assert_eq!(isa.as_deref(), Some("Intel AVX2 with Intel DL Boost"));
        assert_eq!(kernels, ["brg_conv_fwd:avx2", "jit:avx2"]);
        assert_eq!(onednn_isa("{}"), (None, vec![]));
    }
}
