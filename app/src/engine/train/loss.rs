//! Training objectives, computed on the device: cross-entropy, and
//! knowledge distillation as the kd plugin's recipe states it,
//! `w * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - w) * CE(s, y)`,
//! with the KL term summed over classes and averaged over the batch.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Int, Tensor};

/// Mean cross-entropy of logits `[N, K]` against labels `[N]`.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let [n, _] = logits.dims();
    let log_p = log_softmax(logits, 1);
    let picked = log_p.gather(1, labels.reshape([n, 1]));
    picked.mean().neg()
}

/// The distillation loss; `teacher` logits carry no gradient.
pub fn distillation(
    student: Tensor<2>,
    teacher: Tensor<2>,
    labels: Tensor<1, Int>,
    temperature: f64,
    soft_weight: f64,
) -> Tensor<1> {
    let [n, _] = student.dims();
    let log_q = log_softmax(student.clone() / temperature, 1);
    let p = softmax(teacher.detach() / temperature, 1);
    let log_p = p.clone().clamp_min(1e-12).log();
    let kl = (p * (log_p - log_q)).sum() / n as f64;
    let soft = kl * (soft_weight * temperature * temperature);
    soft + cross_entropy(student, labels) * (1.0 - soft_weight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn scalar(t: Tensor<1>) -> f64 {
        t.into_scalar::<f32>() as f64
    }

    /// Hand computation, two samples, three classes.
    fn hand_kd(s: [[f64; 3]; 2], t: [[f64; 3]; 2], y: [usize; 2], temp: f64, w: f64) -> f64 {
        let softmax = |v: [f64; 3], temp: f64| {
            let e: Vec<f64> = v.iter().map(|x| (x / temp).exp()).collect();
            let z: f64 = e.iter().sum();
            e.into_iter().map(|x| x / z).collect::<Vec<_>>()
        };
        let mut kl = 0.0;
        let mut ce = 0.0;
        for i in 0..2 {
            let (p, q) = (softmax(t[i], temp), softmax(s[i], temp));
            kl += (0..3).map(|k| p[k] * (p[k] / q[k]).ln()).sum::<f64>();
            ce -= softmax(s[i], 1.0)[y[i]].ln();
        }
        w * temp * temp * kl / 2.0 + (1.0 - w) * ce / 2.0
    }

    #[test]
    fn distillation_matches_the_formula_by_hand() {
        let device = Device::flex();
        let s = [[1.0, -0.5, 2.0], [0.3, 0.1, -1.2]];
        let t = [[2.5, 0.0, -1.0], [-0.7, 1.9, 0.4]];
        let y = [2, 1];
        let tensor = |v: [[f64; 3]; 2]| {
            let flat: Vec<f32> = v.iter().flatten().map(|x| *x as f32).collect();
            Tensor::<2>::from_data(TensorData::new(flat, [2, 3]), &device)
        };
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64, 1], [2]), &device);
        for (temp, w) in [(4.0, 0.9), (1.0, 0.5), (2.0, 0.0)] {
            let got = scalar(distillation(tensor(s), tensor(t), labels.clone(), temp, w));
            let want = hand_kd(s, t, y, temp, w);
            assert!((got - want).abs() < 1e-5, "T={temp} w={w}: {got} vs {want}");
        }
        // With w = 0 it is plain cross-entropy.
        let ce = scalar(cross_entropy(tensor(s), labels.clone()));
        assert!((ce - hand_kd(s, t, y, 1.0, 0.0)).abs() < 1e-5);
        // A student equal to the teacher pays no soft-target cost.
        let same = scalar(distillation(tensor(t), tensor(t), labels.clone(), 4.0, 1.0));
        assert!(same.abs() < 1e-5, "{same}");
    }
}
