use crate::spread::{evenly_spaced, spread};

#[test]
fn pixel_shares_are_proportional_and_sum_exactly_to_the_budget() {
    // Quotas 10 * (1, 2, 3, 4) / 10: exact, nothing left over.
    assert_eq!(spread(10, &[(1, 1), (2, 1), (3, 1), (4, 1)]), [1, 2, 3, 4]);
    // 7 * (5, 3, 2) / 10 = 3.5, 2.1, 1.4: floors 3, 2, 1 leave one for
    // the largest remainder, the first layer.
    assert_eq!(spread(7, &[(5, 1), (3, 1), (2, 1)]), [4, 2, 1]);
    // Equal remainders: the earlier layer first. 2 * (1, 1, 1) / 3.
    assert_eq!(spread(2, &[(1, 1), (1, 1), (1, 1)]), [1, 1, 0]);
    assert_eq!(spread(0, &[(5, 1), (3, 1)]), [0, 0]);
    assert_eq!(spread(8, &[(5, 1), (3, 1)]), [5, 3]);
    assert_eq!(spread(0, &[]), Vec::<u64>::new());
}

#[test]
fn pixel_shares_hold_for_every_budget() {
    let sizes = [(1, 1), (7, 1), (64, 1), (3, 1), (1000, 1), (0, 1)];
    let total: u64 = sizes.iter().map(|(u, _)| u).sum();
    for budget in 0..=total {
        let shares = spread(budget, &sizes);
        assert_eq!(shares.iter().sum::<u64>(), budget, "budget {budget}");
        for (share, (size, _)) in shares.iter().zip(&sizes) {
            assert!(share <= size, "budget {budget}: {shares:?}");
            // Never further from the exact quota than one unit.
            let exact = budget as f64 * *size as f64 / total as f64;
            assert!(
                (*share as f64 - exact).abs() < 1.0,
                "budget {budget}: {shares:?}"
            );
        }
    }
}

#[test]
fn channel_shares_fill_with_one_channel_each_then_whatever_fits() {
    // Two layers of 4 channels of 16 elements and one of 2 of 64: 256.
    // 100 * (4, 4, 2) / 256 = 1.56, 1.56, 0.78 channels: floors 1, 1, 0
    // (32 elements) leave 68; unspent shares 0.56 x 16 and 0.78 x 64
    // elements: the third layer first, whose channel of 64 fits; 4 left,
    // less than any channel.
    assert_eq!(spread(100, &[(4, 16), (4, 16), (2, 64)]), [1, 1, 1]);
    // 90: floors 1, 1, 0 (32); 58 left: 64 does not fit, 16 and 16 do; 26
    // left, then another 16: 10 left, less than any channel.
    assert_eq!(spread(90, &[(4, 16), (4, 16), (2, 64)]), [3, 2, 0]);
}

#[test]
fn channel_shares_end_within_one_channel_of_the_budget() {
    let layers = [(64, 1024), (128, 256), (256, 64), (512, 16), (10, 1)];
    let total: u64 = layers.iter().map(|(u, p)| u * p).sum();
    for budget in (0..=total).step_by(997).chain([total]) {
        let shares = spread(budget, &layers);
        let used: u64 = shares.iter().zip(&layers).map(|(k, (_, p))| k * p).sum();
        assert!(used <= budget, "budget {budget}: {shares:?}");
        let smallest_left = shares
            .iter()
            .zip(&layers)
            .filter(|(k, (u, _))| *k < u)
            .map(|(_, (_, p))| *p)
            .min()
            .unwrap_or(u64::MAX);
        assert!(budget - used < smallest_left, "budget {budget}: {shares:?}");
    }
}

#[test]
fn positions_are_evenly_spaced_and_distinct() {
    assert_eq!(evenly_spaced(3, 10).collect::<Vec<_>>(), [1, 5, 8]);
    assert_eq!(evenly_spaced(4, 4).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(evenly_spaced(1, 9).collect::<Vec<_>>(), [4]);
    assert_eq!(evenly_spaced(0, 9).count(), 0);
    for count in 1..60 {
        for share in 0..=count {
            let p: Vec<usize> = evenly_spaced(share, count).collect();
            assert_eq!(p.len(), share);
            assert!(
                p.windows(2).all(|w| w[0] < w[1]),
                "{share} of {count}: {p:?}"
            );
            assert!(p.iter().all(|&i| i < count), "{share} of {count}: {p:?}");
        }
    }
}
