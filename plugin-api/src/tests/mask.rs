use crate::mask::{BitSet, Granularity, ReluMask};
use serde_json::json;

#[test]
fn a_bitset_sets_gets_counts_and_lists_its_bits() {
    let mut set = BitSet::new(12);
    assert_eq!((set.len(), set.count_ones()), (12, 0));
    assert!(!set.is_empty());
    set.set(0, true);
    set.set(9, true);
    set.set(11, true);
    set.set(5, true);
    set.set(5, false);
    assert!(set.get(9) && !set.get(10) && !set.get(5));
    assert_eq!(set.count_ones(), 3);
    assert_eq!(set.ones().collect::<Vec<_>>(), [0, 9, 11]);
    assert_eq!(set, BitSet::from_indices(12, [11, 0, 9]));
    assert!(BitSet::new(0).is_empty());
}

#[test]
fn counting_by_words_counts_every_byte() {
    // 125 bytes: 15 whole words and 5 bytes after them.
    let set = BitSet::from_indices(1000, (3..1000).step_by(7));
    assert_eq!(set.count_ones(), (3..1000).step_by(7).count());
    assert_eq!(BitSet::full(1000).count_ones(), 1000);
    assert_eq!(BitSet::full(64).count_ones(), 64);
}

#[test]
fn bit_i_is_bit_i_mod_8_of_byte_i_div_8() {
    let set = BitSet::from_indices(12, [0, 9, 11]);
    assert_eq!(set.as_le_bytes(), [0b0000_0001, 0b0000_1010]);
    assert_eq!(BitSet::from_le_bytes(12, vec![0x01, 0x0a]).unwrap(), set);
}

#[test]
fn a_full_set_has_no_bits_past_its_length() {
    let full = BitSet::full(10);
    assert_eq!(full.as_le_bytes(), [0xff, 0x03]);
    assert_eq!(full.count_ones(), 10);
    assert_eq!(full.ones().collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    assert_eq!(BitSet::full(16).as_le_bytes(), [0xff, 0xff]);
    assert_eq!(BitSet::full(0).count_ones(), 0);
}

#[test]
fn bytes_of_the_wrong_length_or_with_bits_past_the_end_are_refused() {
    assert_eq!(
        BitSet::from_le_bytes(12, vec![0x01]).unwrap_err(),
        "12 bits take 2 bytes, got 1"
    );
    assert_eq!(
        BitSet::from_le_bytes(12, vec![0x01, 0x0a, 0x00]).unwrap_err(),
        "12 bits take 2 bytes, got 3"
    );
    assert_eq!(
        BitSet::from_le_bytes(12, vec![0x01, 0x10]).unwrap_err(),
        "bits past the length 12 are set"
    );
    assert!(BitSet::from_le_bytes(16, vec![0xff, 0xff]).is_ok());
}

#[test]
#[should_panic(expected = "bit 12 of a set of 12 bits")]
fn reading_past_the_end_panics() {
    BitSet::new(12).get(12);
}

#[test]
#[should_panic(expected = "bit 3 of a set of 3 bits")]
fn setting_past_the_end_panics() {
    // Within the last byte, but past the length: still refused.
    BitSet::new(3).set(3, true);
}

#[test]
fn a_mask_counts_kept_elements_by_granularity() {
    let channels = ReluMask::new(Granularity::Channel, BitSet::from_indices(16, [1, 2, 3]));
    assert_eq!((channels.len(), channels.kept()), (16, 3));
    // Three kept channels of 4x4 planes.
    assert_eq!(channels.kept_elements(16), 48);
    let pixels = ReluMask::new(Granularity::Pixel, BitSet::from_indices(256, [1, 2, 3]));
    assert_eq!(pixels.kept_elements(16), 3);
}

#[test]
fn a_mask_is_checked_against_its_layer() {
    let channels = ReluMask::new(Granularity::Channel, BitSet::full(16));
    assert_eq!(channels.check(16, 64), Ok(()));
    assert_eq!(
        channels.check(8, 64).unwrap_err(),
        "its channel mask has 16 bits, but the layer has 8 channels"
    );
    let pixels = ReluMask::new(Granularity::Pixel, BitSet::full(1024));
    assert_eq!(pixels.check(16, 64), Ok(()));
    assert_eq!(
        pixels.check(16, 16).unwrap_err(),
        "its pixel mask has 1024 bits, but the layer has 256 elements"
    );
}

#[test]
fn a_mask_is_written_as_granularity_len_kept_and_base64_bits() {
    let mask = ReluMask::new(Granularity::Pixel, BitSet::from_indices(12, [0, 9, 11]));
    let text = serde_json::to_string(&mask).unwrap();
    assert_eq!(
        text,
        r#"{"granularity":"pixel","len":12,"kept":3,"bits":"AQo="}"#
    );
    assert_eq!(serde_json::from_str::<ReluMask>(&text).unwrap(), mask);
    let channels = ReluMask::new(Granularity::Channel, BitSet::full(64));
    let value = serde_json::to_value(&channels).unwrap();
    assert_eq!(
        value,
        json!({"granularity": "channel", "len": 64, "kept": 64, "bits": "//////////8="})
    );
    assert_eq!(serde_json::from_value::<ReluMask>(value).unwrap(), channels);
}

#[test]
fn a_corrupted_or_truncated_mask_is_refused() {
    let read = |value: serde_json::Value| {
        serde_json::from_value::<ReluMask>(value)
            .unwrap_err()
            .to_string()
    };
    let mask = |kept: usize, bits: &str| json!({"granularity": "pixel", "len": 12, "kept": kept, "bits": bits});
    assert_eq!(
        read(mask(4, "AQo=")),
        "`kept` says 4 bits are set, but `bits` has 3: truncated or corrupted"
    );
    assert_eq!(read(mask(1, "AQ==")), "`bits`: 12 bits take 2 bytes, got 1");
    // 0x01 0xf0: bits 12..15 set in a 12-bit mask.
    assert_eq!(
        read(mask(5, "AfA=")),
        "`bits`: bits past the length 12 are set"
    );
    assert!(
        read(mask(3, "A*o=")).starts_with("`bits` is not base64: "),
        "{}",
        read(mask(3, "A*o="))
    );
    assert!(
        read(json!({"granularity": "row", "len": 1, "kept": 0, "bits": "AA=="})).contains("row")
    );
    assert!(read(json!({"granularity": "pixel", "len": 12, "bits": "AQo="})).contains("kept"));
    let extra =
        read(json!({"granularity": "pixel", "len": 12, "kept": 3, "bits": "AQo=", "runs": []}));
    assert!(extra.contains("unknown field `runs`"), "{extra}");
}
