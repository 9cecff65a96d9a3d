use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use deepreduce_datasets::{Batch, BatchConfig, Batcher, DatasetInfo, Split};

/// `n` 2-channel 6x6 images; item i's pixels are all `i`, except channel 1
/// which holds `255 - i` so that channels are told apart. Label `i % 3`.
fn numbered(n: usize) -> (Arc<Split>, DatasetInfo) {
    let mut split = Split::default();
    for i in 0..n {
        split.images.extend(std::iter::repeat_n(i as u8, 36));
        split.images.extend(std::iter::repeat_n(255 - i as u8, 36));
        split.labels.push((i % 3) as u16);
    }
    let info = DatasetInfo::new(
        "numbered",
        (2, 6, 6),
        vec!["a".into(), "b".into(), "c".into()],
        (vec![0.5, 0.25], vec![0.5, 2.0]),
        true,
    );
    (Arc::new(split), info)
}

fn config(batch_size: usize, shuffle: bool, augment: bool) -> BatchConfig {
    BatchConfig {
        batch_size,
        shuffle,
        augment,
        seed: 42,
        drop_last: false,
    }
}

fn normalise(p: u8, mean: f32, std: f32) -> f32 {
    (p as f32 / 255.0 - mean) / std
}

/// The item a batch entry came from, read back from its (unaugmented) pixels.
fn item_of(batch: &Batch, k: usize) -> usize {
    let v = batch.images[k * 72];
    (0..=255u8).find(|&p| normalise(p, 0.5, 0.5) == v).unwrap() as usize
}

#[test]
fn shapes_and_normalisation() {
    let (split, info) = numbered(10);
    let batches: Vec<Batch> = Batcher::spawn(split, &info, config(4, false, false), 0).collect();
    assert_eq!(
        batches.iter().map(|b| b.batch_size).collect::<Vec<_>>(),
        vec![4, 4, 2]
    );
    let last = &batches[2];
    assert_eq!((last.channels, last.height, last.width), (2, 6, 6));
    assert_eq!(last.images.len(), 2 * 72);
    assert_eq!(last.labels, vec![8 % 3, 9 % 3]);
    // Item 9: channel 0 is 9 everywhere, channel 1 is 246.
    assert_eq!(last.images[72], normalise(9, 0.5, 0.5));
    assert_eq!(last.images[72 + 36 + 35], normalise(246, 0.25, 2.0));
    assert!((batches[0].images[0] - (-1.0)).abs() < 1e-6); // pixel 0 → (0 - 0.5) / 0.5
}

#[test]
fn drop_last_and_batch_count() {
    let (split, info) = numbered(10);
    let cfg = BatchConfig {
        drop_last: true,
        ..config(4, true, false)
    };
    assert_eq!(cfg.batches(10), 2);
    assert_eq!(config(4, true, false).batches(10), 3);
    let batcher = Batcher::spawn(split, &info, cfg, 0);
    assert_eq!(batcher.len(), 2);
    assert!(batcher.into_iter().all(|b| b.batch_size == 4));
}

#[test]
fn same_seed_and_epoch_give_identical_batches() {
    let (split, info) = numbered(50);
    let run = |epoch, seed| -> Vec<Batch> {
        let cfg = BatchConfig {
            seed,
            ..config(8, true, true)
        };
        Batcher::spawn(split.clone(), &info, cfg, epoch).collect()
    };
    assert_eq!(run(3, 42), run(3, 42));
    assert_ne!(run(3, 42), run(4, 42));
    assert_ne!(run(3, 42), run(3, 43));
}

#[test]
fn every_sample_is_visited_once_per_epoch() {
    let (split, info) = numbered(37);
    for epoch in 0..3 {
        let mut seen = Vec::new();
        for batch in Batcher::spawn(split.clone(), &info, config(5, true, false), epoch) {
            for k in 0..batch.batch_size {
                let item = item_of(&batch, k);
                assert_eq!(batch.labels[k], (item % 3) as i64);
                seen.push(item);
            }
        }
        assert_ne!(
            seen,
            (0..37).collect::<Vec<_>>(),
            "epoch {epoch} was not shuffled"
        );
        seen.sort();
        assert_eq!(seen, (0..37).collect::<Vec<_>>());
    }
}

#[test]
fn augmentation_moves_pixels_but_keeps_labels() {
    let (split, info) = numbered(64);
    let plain: Vec<Batch> =
        Batcher::spawn(split.clone(), &info, config(16, true, false), 1).collect();
    let augmented: Vec<Batch> = Batcher::spawn(split, &info, config(16, true, true), 1).collect();
    let padding = [normalise(0, 0.5, 0.5), normalise(0, 0.25, 2.0)];
    let mut padded = 0;
    for (p, a) in plain.iter().zip(&augmented) {
        assert_eq!(p.labels, a.labels);
        for (i, (&pv, &av)) in p.images.iter().zip(&a.images).enumerate() {
            // Each augmented value is the item's own pixel, or zero padding.
            let channel = (i / 36) % 2;
            assert!(av == pv || av == padding[channel], "{av} vs {pv}");
            padded += usize::from(av != pv);
        }
    }
    assert!(padded > 0, "no pixel was moved into the padding");
}

#[test]
fn dropping_mid_epoch_does_not_hang() {
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let (split, info) = numbered(200);
        let mut batcher = Batcher::spawn(split, &info, config(1, true, true), 0);
        assert!(batcher.next().is_some());
        // Let the worker fill the channel and block on send.
        thread::sleep(Duration::from_millis(50));
        drop(batcher);
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("dropping the batcher hung");
}
