use crate::poly::{DELPHI, Polynomial};
use serde_json::json;

#[test]
fn identity_and_delphi_coefficients() {
    let id = Polynomial::identity(2);
    assert_eq!(
        (id.a, id.b, id.c, id.trainable),
        (vec![0.0; 2], vec![1.0; 2], vec![0.0; 2], false)
    );
    assert_eq!(DELPHI, (0.1997, 0.5002, 0.1992));
    let delphi = Polynomial::delphi(3);
    assert_eq!(delphi.a, [0.1997; 3]);
    assert_eq!(delphi.b, [0.5002; 3]);
    assert_eq!(delphi.c, [0.1992; 3]);
    assert!(!delphi.trainable);
    assert!(delphi.into_trainable().trainable);
}

#[test]
fn only_trainable_coefficients_are_parameters() {
    assert_eq!(Polynomial::delphi(16).params(), 0);
    assert_eq!(Polynomial::delphi(16).into_trainable().params(), 48);
}

#[test]
fn coefficients_must_match_the_channels_and_be_finite() {
    let poly = Polynomial::delphi(4);
    assert_eq!(poly.check(4), Ok(()));
    assert_eq!(
        poly.check(8).unwrap_err(),
        "its polynomial has 4 coefficients in `a`, but the layer has 8 channels"
    );
    let mut short_c = poly.clone();
    short_c.c.pop();
    assert_eq!(
        short_c.check(4).unwrap_err(),
        "its polynomial has 3 coefficients in `c`, but the layer has 4 channels"
    );
    let mut nan = poly.clone();
    nan.b[2] = f32::NAN;
    assert_eq!(
        nan.check(4).unwrap_err(),
        "its polynomial's b[2] is NaN; coefficients must be finite"
    );
    let mut infinite = poly;
    infinite.a[0] = f32::INFINITY;
    assert_eq!(
        infinite.check(4).unwrap_err(),
        "its polynomial's a[0] is inf; coefficients must be finite"
    );
}

#[test]
fn a_polynomial_is_written_as_three_lists_and_a_flag() {
    let poly = Polynomial::delphi(2).into_trainable();
    let text = serde_json::to_string(&poly).unwrap();
    assert_eq!(
        text,
        r#"{"a":[0.1997,0.1997],"b":[0.5002,0.5002],"c":[0.1992,0.1992],"trainable":true}"#
    );
    assert_eq!(serde_json::from_str::<Polynomial>(&text).unwrap(), poly);
    let missing = serde_json::from_value::<Polynomial>(json!({"a": [], "b": [], "c": []}))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("trainable"), "{missing}");
    let extra = serde_json::from_value::<Polynomial>(
        json!({"a": [], "b": [], "c": [], "d": [], "trainable": false}),
    )
    .unwrap_err()
    .to_string();
    assert!(extra.contains("unknown field `d`"), "{extra}");
}
