use deepreduce_datasets::Split;

/// 1-byte images holding their own index; labels 0,0,0,0,0,0,1,1,2,2.
fn lopsided() -> Split {
    Split {
        images: (0..10).collect(),
        labels: vec![0, 0, 0, 0, 0, 0, 1, 1, 2, 2],
    }
}

#[test]
fn subset_is_deterministic_ordered_and_balanced() {
    let split = lopsided();
    let a = split.subset(6, 9);
    assert_eq!(a, split.subset(6, 9));
    assert_eq!(a.len(), 6);
    // Round-robin over classes: two of each, as far as each class allows.
    let count = |s: &Split, l: u16| s.labels.iter().filter(|&&x| x == l).count();
    assert_eq!([count(&a, 0), count(&a, 1), count(&a, 2)], [2, 2, 2]);
    // Items keep their relative order, and each pixel still matches its label.
    assert!(a.images.windows(2).all(|w| w[0] < w[1]));
    for i in 0..a.len() {
        assert_eq!(a.labels[i], split.labels[usize::from(a.image(i)[0])]);
    }
    let b = split.subset(8, 9);
    assert_eq!([count(&b, 0), count(&b, 1), count(&b, 2)], [4, 2, 2]);
    assert!((0..20).any(|seed| split.subset(6, seed) != a));
    assert_eq!(split.subset(99, 1), split);
}

#[test]
fn images_and_stats() {
    let split = Split {
        images: vec![0, 255, 10, 20, 0, 255, 30, 40],
        labels: vec![0, 1],
    };
    assert_eq!(split.image_len(), 4);
    assert_eq!(split.image(1), &[0, 255, 30, 40]);
    assert_eq!(split.select(&[1, 0]).labels, vec![1, 0]);
    let (mean, std) = split.channel_stats(2);
    assert!((mean[0] - 0.5).abs() < 1e-6 && (std[0] - 0.5).abs() < 1e-6);
    assert!((mean[1] - 25.0 / 255.0).abs() < 1e-6, "{mean:?}");
    assert_eq!(format!("{split:?}"), "Split { len: 2, image_bytes: 4 }");
    assert_eq!(Split::default().image_len(), 0);
}
