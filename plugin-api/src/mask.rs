//! Which elements of a ReLU layer keep their ReLU: a [`ReluMask`] of one
//! bit per channel or per element, and the [`BitSet`] that holds it.
//!
//! On the wire a mask is
//! `{"granularity": "pixel", "len": 4096, "kept": 1234, "bits": "<base64>"}`:
//! `bits` is the standard base64 (with padding) of the bit bytes, bit `i` in
//! byte `i / 8` at bit `i % 8` (least significant first); `kept`, the number
//! of bits set, is redundant and checked on reading, so a truncated or
//! corrupted mask is refused instead of silently changing the ReLU count.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize, Serializer};

/// What one bit of a mask stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// One bit per channel: a kept channel keeps its whole H x W plane.
    Channel,
    /// One bit per element of C x H x W, in CHW order (channel-major, then
    /// row, then column).
    Pixel,
}

impl Granularity {
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Channel => "channel",
            Granularity::Pixel => "pixel",
        }
    }

    /// Bits a mask of this granularity has on a layer of `channels` whose
    /// channels hold `plane` elements each.
    pub fn mask_len(self, channels: usize, plane: usize) -> usize {
        match self {
            Granularity::Channel => channels,
            Granularity::Pixel => channels * plane,
        }
    }
}

/// A fixed number of bits. Bits past `len` in the last byte are always
/// zero, so equal sets have equal bytes.
///
/// Our own rather than `fixedbitset`'s: the wire format is these bytes, and
/// that crate's storage blocks are `usize` (platform-dependent), so the
/// encoding would need its own conversion anyway.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BitSet {
    len: usize,
    bytes: Vec<u8>,
}

impl BitSet {
    /// `len` bits, all clear.
    pub fn new(len: usize) -> Self {
        BitSet {
            len,
            bytes: vec![0; len.div_ceil(8)],
        }
    }

    /// `len` bits, all set.
    pub fn full(len: usize) -> Self {
        let mut set = BitSet {
            len,
            bytes: vec![0xff; len.div_ceil(8)],
        };
        set.clear_tail();
        set
    }

    /// `len` bits with exactly the bits at `indices` set.
    ///
    /// # Panics
    /// If an index is `len` or more.
    pub fn from_indices(len: usize, indices: impl IntoIterator<Item = usize>) -> Self {
        let mut set = BitSet::new(len);
        for i in indices {
            set.set(i, true);
        }
        set
    }

    /// The set of `len` bits stored little-endian in `bytes` (bit `i` is bit
    /// `i % 8` of byte `i / 8`), refused unless there are exactly enough
    /// bytes and the bits past `len` are zero.
    pub fn from_le_bytes(len: usize, bytes: Vec<u8>) -> Result<Self, String> {
        let needed = len.div_ceil(8);
        if bytes.len() != needed {
            return Err(format!(
                "{len} bits take {needed} bytes, got {}",
                bytes.len()
            ));
        }
        if bytes.last().is_some_and(|&last| last & past_len(len) != 0) {
            return Err(format!("bits past the length {len} are set"));
        }
        Ok(BitSet { len, bytes })
    }

    /// The bytes, as [`BitSet::from_le_bytes`] reads them.
    pub fn as_le_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// # Panics
    /// If `i` is `len` or more.
    pub fn get(&self, i: usize) -> bool {
        self.check(i);
        self.bytes[i / 8] & (1 << (i % 8)) != 0
    }

    /// # Panics
    /// If `i` is `len` or more.
    pub fn set(&mut self, i: usize, value: bool) {
        self.check(i);
        let bit = 1 << (i % 8);
        if value {
            self.bytes[i / 8] |= bit;
        } else {
            self.bytes[i / 8] &= !bit;
        }
    }

    /// How many bits are set. Counted eight bytes at a time: a ResNet18
    /// pixel mask is 70 KB, counted several times per recount in the GUI
    /// (shape inference here and in each plugin, reading the wire format).
    pub fn count_ones(&self) -> usize {
        let words = self.bytes.chunks_exact(8);
        let tail: u32 = words.remainder().iter().map(|b| b.count_ones()).sum();
        let full: usize = words
            .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")).count_ones() as usize)
            .sum();
        full + tail as usize
    }

    /// The indices of the set bits, ascending.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.bytes.iter().enumerate().flat_map(|(k, &byte)| {
            (0..8)
                .filter(move |bit| byte & (1 << bit) != 0)
                .map(move |bit| k * 8 + bit)
        })
    }

    fn check(&self, i: usize) {
        assert!(i < self.len, "bit {i} of a set of {} bits", self.len);
    }

    fn clear_tail(&mut self) {
        if let Some(last) = self.bytes.last_mut() {
            *last &= !past_len(self.len);
        }
    }
}

/// The bits of the last byte of a `len`-bit set that lie past `len`.
fn past_len(len: usize) -> u8 {
    match len % 8 {
        0 => 0,
        used => !((1u8 << used) - 1),
    }
}

/// Which elements of a ReLU layer keep their ReLU (bit set) and which are
/// dropped. Its length matches the layer: shape inference checks it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "MaskWire")]
pub struct ReluMask {
    pub granularity: Granularity,
    pub bits: BitSet,
}

impl ReluMask {
    pub fn new(granularity: Granularity, bits: BitSet) -> Self {
        ReluMask { granularity, bits }
    }

    /// Bits of the mask: channels or elements of its layer.
    pub fn len(&self) -> usize {
        self.bits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// Bits set: kept channels or kept elements.
    pub fn kept(&self) -> usize {
        self.bits.count_ones()
    }

    /// Elements whose ReLU is kept, on a layer whose channels hold `plane`
    /// elements each.
    pub fn kept_elements(&self, plane: usize) -> u64 {
        let kept = self.kept() as u64;
        match self.granularity {
            Granularity::Channel => kept * plane as u64,
            Granularity::Pixel => kept,
        }
    }

    /// Why this mask does not fit a layer of `channels` x `plane`, if it
    /// does not.
    pub fn check(&self, channels: usize, plane: usize) -> Result<(), String> {
        let expected = self.granularity.mask_len(channels, plane);
        if self.len() == expected {
            return Ok(());
        }
        let unit = match self.granularity {
            Granularity::Channel => "channels",
            Granularity::Pixel => "elements",
        };
        Err(format!(
            "its {} mask has {} bits, but the layer has {expected} {unit}",
            self.granularity.as_str(),
            self.len()
        ))
    }
}

/// A mask as written in JSON (see the module documentation).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MaskWire {
    granularity: Granularity,
    len: usize,
    kept: usize,
    bits: String,
}

impl TryFrom<MaskWire> for ReluMask {
    type Error = String;

    fn try_from(w: MaskWire) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(&w.bits)
            .map_err(|e| format!("`bits` is not base64: {e}"))?;
        let bits = BitSet::from_le_bytes(w.len, bytes).map_err(|e| format!("`bits`: {e}"))?;
        let kept = bits.count_ones();
        if kept != w.kept {
            return Err(format!(
                "`kept` says {} bits are set, but `bits` has {kept}: truncated or corrupted",
                w.kept
            ));
        }
        Ok(ReluMask::new(w.granularity, bits))
    }
}

impl Serialize for ReluMask {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        MaskWire {
            granularity: self.granularity,
            len: self.len(),
            kept: self.kept(),
            bits: STANDARD.encode(self.bits.as_le_bytes()),
        }
        .serialize(serializer)
    }
}
