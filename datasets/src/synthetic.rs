//! A built-in dataset drawn from a seed: one small shape per image, at a
//! random place, size and colour, on a noisy background of another random
//! colour. The class is the shape alone; position and colours are nuisance,
//! which is what defeats a linear model on raw pixels (every class has the
//! same mean image) while a small CNN learns it from local edge patterns.

use crate::dataset::names;
use crate::rng::Rng;
use crate::{Dataset, DatasetError, DatasetInfo, DatasetKind, Split};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntheticConfig {
    pub seed: u64,
    /// At most [`SYNTHETIC_CLASSES`]`.len()`.
    pub classes: usize,
    /// Side of the square images, at least 16.
    pub size: usize,
    pub channels: usize,
    pub train: usize,
    pub test: usize,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            seed: 0,
            classes: 10,
            size: 32,
            channels: 3,
            train: 5000,
            test: 1000,
        }
    }
}

/// Whether the pixel at offset (dx, dy) from a shape's centre is covered by
/// it, for a shape of half-extent `r` drawn with half line width `w`.
type Cover = fn(dx: f32, dy: f32, r: f32, w: f32) -> bool;

const SHAPES: [(&str, Cover); 10] = [
    ("cross", |dx, dy, r, w| {
        let (a, b) = (dx.abs(), dy.abs());
        (a <= w && b <= r) || (b <= w && a <= r)
    }),
    ("ring", |dx, dy, r, w| (dx.hypot(dy) - 0.8 * r).abs() <= w),
    ("square", |dx, dy, r, w| {
        let m = dx.abs().max(dy.abs());
        m <= 0.8 * r && m >= 0.8 * r - 2.0 * w
    }),
    ("stripes", |dx, dy, r, w| {
        dx.abs().max(dy.abs()) <= 0.8 * r && ((dx + dy) / (2.0 * w)).rem_euclid(2.0) < 1.0
    }),
    ("dots", |dx, dy, r, _| {
        (dx.abs() - 0.5 * r).hypot(dy) <= 0.3 * r
    }),
    ("triangle", |dx, dy, r, _| {
        let t = (dy + 0.8 * r) / (1.6 * r); // 0 at the apex, 1 at the base
        (0.0..=1.0).contains(&t) && dx.abs() <= 0.8 * r * t
    }),
    ("ell", |dx, dy, r, w| {
        let upright = (-0.7 * r..=-0.7 * r + 2.0 * w).contains(&dx) && dy.abs() <= 0.8 * r;
        let foot =
            (0.8 * r - 2.0 * w..=0.8 * r).contains(&dy) && (-0.7 * r..=0.7 * r).contains(&dx);
        upright || foot
    }),
    ("ex", |dx, dy, r, w| {
        let (a, b) = (dx.abs(), dy.abs());
        (a - b).abs() <= 1.4 * w && a.max(b) <= 0.8 * r
    }),
    ("bars", |dx, dy, r, w| {
        (dy.abs() - 0.4 * r).abs() <= w && dx.abs() <= 0.8 * r
    }),
    ("diamond", |dx, dy, r, w| {
        (dx.abs() + dy.abs() - 0.85 * r).abs() <= 1.4 * w
    }),
];

/// The class names of the synthetic dataset, in label order.
pub const SYNTHETIC_CLASSES: [&str; SHAPES.len()] = {
    let mut out = [""; SHAPES.len()];
    let mut i = 0;
    while i < SHAPES.len() {
        out[i] = SHAPES[i].0;
        i += 1;
    }
    out
};

/// Generates the synthetic dataset. Item `i` of a split has label
/// `i % classes`, so the classes are balanced; each image depends only on
/// (seed, split, i).
pub fn synthetic(cfg: &SyntheticConfig) -> Result<Dataset, DatasetError> {
    if !(2..=SHAPES.len()).contains(&cfg.classes) {
        return Err(DatasetError::Config(format!(
            "classes is {}, expected 2..={}",
            cfg.classes,
            SHAPES.len()
        )));
    }
    // An empty split would let a training "complete" with a meaningless accuracy.
    if cfg.size < 16 || cfg.channels == 0 || cfg.train == 0 || cfg.test == 0 {
        return Err(DatasetError::Config(format!(
            "size {} (at least 16), channels {}, train {} and test {} (at least 1 each)",
            cfg.size, cfg.channels, cfg.train, cfg.test
        )));
    }
    let generate = |split: u64, n: usize| {
        let mut out = Split {
            images: Vec::with_capacity(n * cfg.channels * cfg.size * cfg.size),
            labels: Vec::with_capacity(n),
        };
        for i in 0..n {
            let label = i % cfg.classes;
            let mut rng = Rng::from_parts(&[cfg.seed, split, i as u64]);
            draw(
                &mut rng,
                SHAPES[label].1,
                cfg.size,
                cfg.channels,
                &mut out.images,
            );
            out.labels.push(label as u16);
        }
        out
    };
    let train = generate(0, cfg.train);
    let test = generate(1, cfg.test);
    let info = DatasetInfo::new(
        DatasetKind::Synthetic.name(),
        (cfg.channels, cfg.size, cfg.size),
        names(&SYNTHETIC_CLASSES[..cfg.classes]),
        train.channel_stats(cfg.channels),
        // No shape is the mirror image of another's, so flips keep the class.
        true,
    );
    Ok(Dataset { info, train, test })
}

/// Appends one CHW image of the shape `cover` to `out`.
fn draw(rng: &mut Rng, cover: Cover, size: usize, channels: usize, out: &mut Vec<u8>) {
    let s = size as f32;
    let r = s * rng.range(0.2, 0.3);
    let w = (s / 32.0) * rng.range(1.4, 2.0);
    let cx = rng.range(r + 1.0, s - r - 1.0);
    let cy = rng.range(r + 1.0, s - r - 1.0);
    let background: Vec<f32> = (0..channels).map(|_| rng.range(0.0, 255.0)).collect();
    let foreground = contrasting(rng, &background);
    for c in 0..channels {
        for y in 0..size {
            for x in 0..size {
                let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                let (base, noise) = if cover(dx, dy, r, w) {
                    (foreground[c], 12.0)
                } else {
                    (background[c], 24.0)
                };
                out.push((base + rng.range(-noise, noise)).clamp(0.0, 255.0) as u8);
            }
        }
    }
}

/// A random colour far enough from `background` for the shape to be visible
/// (brighter or darker, so a model cannot rely on the sign of the contrast).
fn contrasting(rng: &mut Rng, background: &[f32]) -> Vec<f32> {
    let min_distance = 90.0 * background.len() as f32;
    for _ in 0..32 {
        let colour: Vec<f32> = background.iter().map(|_| rng.range(0.0, 255.0)).collect();
        let distance: f32 = colour
            .iter()
            .zip(background)
            .map(|(a, b)| (a - b).abs())
            .sum();
        if distance >= min_distance {
            return colour;
        }
    }
    // Practically unreachable: the opposite end of each channel's range.
    background
        .iter()
        .map(|&b| if b < 128.0 { 255.0 } else { 0.0 })
        .collect()
}
