//! Numbers as people read them, shared by the CLI and the GUI.

use std::time::Duration;

/// 557056 -> "557,056".
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// 557056 -> "557K", 11220132 -> "11.2M", 950 -> "950".
pub fn compact(x: f64) -> String {
    let (value, unit) = match x.abs() {
        a if a >= 1e9 => (x / 1e9, "G"),
        a if a >= 1e6 => (x / 1e6, "M"),
        a if a >= 1e3 => (x / 1e3, "K"),
        _ => (x, ""),
    };
    let digits = if unit.is_empty() || value.abs() >= 100.0 {
        0
    } else {
        1
    };
    let text = format!("{value:.digits$}");
    format!("{}{unit}", text.strip_suffix(".0").unwrap_or(&text))
}

/// 3725 s -> "1 h 02 min", 75 s -> "1 min 15 s".
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// The widest text [`milliseconds`] gives below ten seconds.
pub const WIDEST_MILLISECONDS: &str = "0000 ms";

/// A timing to three significant figures (four from a second on), always
/// in ms so that it reads the same whatever the machine's speed:
/// "0.42 ms", "12.3 ms", "457 ms", "1235 ms".
pub fn milliseconds(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    // Thresholds below 10 and 100 so that rounding up adds no digit.
    let decimals = match ms {
        m if m < 9.995 => 2,
        m if m < 99.95 => 1,
        _ => 0,
    };
    format!("{ms:.decimals$} ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(group(557_056), "557,056");
        assert_eq!(group(7), "7");
        assert_eq!(group(1_000), "1,000");
        assert_eq!(compact(557_056.0), "557K");
        assert_eq!(compact(11_220_132.0), "11.2M");
        assert_eq!(compact(7_168.0), "7.2K");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(10_000.0), "10K");
        assert_eq!(duration(Duration::from_secs(75)), "1 min 15 s");
        assert_eq!(duration(Duration::from_secs(3725)), "1 h 02 min");
    }

    #[test]
    fn timings_keep_three_figures() {
        let ms = |x: f64| milliseconds(Duration::from_secs_f64(x / 1e3));
        assert_eq!(ms(0.4213), "0.42 ms");
        assert_eq!(ms(9.996), "10.0 ms");
        assert_eq!(ms(12.34), "12.3 ms");
        assert_eq!(ms(99.96), "100 ms");
        assert_eq!(ms(456.7), "457 ms");
        assert_eq!(ms(1234.6), "1235 ms");
        for x in [0.001, 9.996, 99.96, 9999.4] {
            assert!(ms(x).len() <= WIDEST_MILLISECONDS.len(), "{}", ms(x));
        }
    }
}
