//! Protocol-buffer encoding of the few onnx.proto messages the ONNX writer
//! emits, by hand. Field numbers are onnx.proto's (checked against the copy
//! in onnx 1.23). Not prost: its derive macro pulls itertools' std feature
//! into the host build that cubecl's macros share, which rebuilds burn and
//! cubecl from scratch; the wire format needed here is a few lines.

/// One message being written: fields are appended in call order.
#[derive(Default)]
pub struct Msg(Vec<u8>);

const VARINT: u64 = 0;
const LENGTH_DELIMITED: u64 = 2;
const FIXED32: u64 = 5;

impl Msg {
    pub fn new() -> Self {
        Msg::default()
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire_type: u64) {
        self.varint(((field as u64) << 3) | wire_type);
    }

    /// An int32 or int64 field (negative values as ten-byte varints).
    pub fn int(mut self, field: u32, v: i64) -> Self {
        self.key(field, VARINT);
        self.varint(v as u64);
        self
    }

    /// A repeated int64 field, one entry per value (proto2's unpacked form).
    pub fn ints(self, field: u32, values: impl IntoIterator<Item = i64>) -> Self {
        values.into_iter().fold(self, |m, v| m.int(field, v))
    }

    pub fn float(mut self, field: u32, v: f32) -> Self {
        self.key(field, FIXED32);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn bytes(mut self, field: u32, b: &[u8]) -> Self {
        self.key(field, LENGTH_DELIMITED);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }

    pub fn string(self, field: u32, s: &str) -> Self {
        self.bytes(field, s.as_bytes())
    }

    pub fn message(self, field: u32, m: Msg) -> Self {
        self.bytes(field, &m.0)
    }

    pub fn messages(self, field: u32, ms: impl IntoIterator<Item = Msg>) -> Self {
        ms.into_iter().fold(self, |acc, m| acc.message(field, m))
    }

    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

pub mod model {
    pub const IR_VERSION: u32 = 1;
    pub const PRODUCER_NAME: u32 = 2;
    pub const PRODUCER_VERSION: u32 = 3;
    pub const DOC_STRING: u32 = 6;
    pub const GRAPH: u32 = 7;
    pub const OPSET_IMPORT: u32 = 8;
    pub const METADATA_PROPS: u32 = 14;
}

pub mod opset_id {
    pub const DOMAIN: u32 = 1;
    pub const VERSION: u32 = 2;
}

pub mod string_entry {
    pub const KEY: u32 = 1;
    pub const VALUE: u32 = 2;
}

pub mod graph {
    pub const NODE: u32 = 1;
    pub const NAME: u32 = 2;
    pub const INITIALIZER: u32 = 5;
    pub const INPUT: u32 = 11;
    pub const OUTPUT: u32 = 12;
}

pub mod node {
    pub const INPUT: u32 = 1;
    pub const OUTPUT: u32 = 2;
    pub const NAME: u32 = 3;
    pub const OP_TYPE: u32 = 4;
    pub const ATTRIBUTE: u32 = 5;
}

pub mod attribute {
    pub const NAME: u32 = 1;
    pub const F: u32 = 2;
    pub const I: u32 = 3;
    pub const T: u32 = 5;
    pub const INTS: u32 = 8;
    pub const TYPE: u32 = 20;
    /// `AttributeProto.AttributeType` values.
    pub const TYPE_FLOAT: i64 = 1;
    pub const TYPE_INT: i64 = 2;
    pub const TYPE_TENSOR: i64 = 4;
    pub const TYPE_INTS: i64 = 7;
}

pub mod tensor {
    pub const DIMS: u32 = 1;
    pub const DATA_TYPE: u32 = 2;
    pub const NAME: u32 = 8;
    pub const RAW_DATA: u32 = 9;
    /// `TensorProto.DataType` values.
    pub const FLOAT: i64 = 1;
    pub const INT64: i64 = 7;
}

pub mod value_info {
    pub const NAME: u32 = 1;
    pub const TYPE: u32 = 2;
}

/// `TypeProto.tensor_type`, then `TypeProto.Tensor`'s fields.
pub mod type_proto {
    pub const TENSOR_TYPE: u32 = 1;
    pub const ELEM_TYPE: u32 = 1;
    pub const SHAPE: u32 = 2;
}

/// `TensorShapeProto.dim`, then `Dimension`'s fields.
pub mod shape {
    pub const DIM: u32 = 1;
    pub const DIM_VALUE: u32 = 1;
    pub const DIM_PARAM: u32 = 2;
}

#[cfg(test)]
mod tests {
    use super::Msg;

    #[test]
    fn encodes_the_protobuf_wire_format() {
        // Examples from the protobuf encoding guide: field 1 = 150, field 2 = "testing".
        let m = Msg::new().int(1, 150).string(2, "testing").finish();
        assert_eq!(
            m,
            [
                0x08, 0x96, 0x01, 0x12, 0x07, b't', b'e', b's', b't', b'i', b'n', b'g'
            ]
        );
        assert_eq!(Msg::new().int(1, -1).finish().len(), 11);
        assert_eq!(
            Msg::new().float(2, 1.0).finish(),
            [0x15, 0x00, 0x00, 0x80, 0x3f]
        );
    }
}
