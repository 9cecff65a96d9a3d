use crate::testing::{arch_params, input_spec};

#[test]
fn stage_blocks_default_and_override() {
    let mut p = arch_params("net", [3, 8, 8], 10);
    assert_eq!(p.stage_blocks("net", &[1, 2], "blocks"), Ok(vec![1, 2]));
    p.blocks = Some(vec![3, 1]);
    assert_eq!(p.stage_blocks("net", &[1, 2], "blocks"), Ok(vec![3, 1]));
}

#[test]
fn stage_blocks_refuses_another_stage_count_or_an_empty_stage() {
    let mut p = arch_params("net", [3, 8, 8], 10);
    p.blocks = Some(vec![1, 1, 1]);
    assert_eq!(
        p.stage_blocks("net", &[1, 2], "blocks"),
        Err("net has 2 stages (S1..S2), but blocks lists 3: [1, 1, 1]".to_string())
    );
    p.blocks = Some(vec![1, 0]);
    assert_eq!(
        p.stage_blocks("net", &[1, 2], "convolutions"),
        Err("blocks: stage S2 has 0 convolutions; every stage needs at least 1".to_string())
    );
}

#[test]
fn width_and_input_checks() {
    let mut p = arch_params("net", [3, 8, 8], 10);
    assert_eq!(p.width_or(16), Ok(16));
    p.width = Some(4);
    assert_eq!(p.width_or(16), Ok(4));
    p.width = Some(0);
    assert_eq!(p.width_or(16), Err("width must be at least 1".to_string()));
    assert_eq!(p.checked_input(), Ok(input_spec([3, 8, 8])));
    p.input.height = 0;
    assert_eq!(
        p.checked_input(),
        Err("input 3x0x8 has a zero dimension".to_string())
    );
}
