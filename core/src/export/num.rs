//! Number formatting shared by the exporters: one rounding rule, two decimal separators.

/// Rounds to 4 decimal places (what every format publishes; more digits are noise at these
/// sample sizes and would make snapshots depend on the last bit of a float). −0 becomes 0.
pub(crate) fn r4(x: f64) -> f64 {
    let r = (x * 10_000.0).round() / 10_000.0;
    if r == 0.0 { 0.0 } else { r }
}

/// `x` rounded to 4 places, shortest form, with a decimal point or comma.
pub(crate) fn plain(x: f64, comma: bool) -> String {
    let s = r4(x).to_string();
    if comma { s.replace('.', ",") } else { s }
}

/// `x` with exactly `decimals` places, for readers (Markdown).
pub(crate) fn fixed(x: f64, decimals: usize, comma: bool) -> String {
    let mut s = format!("{:.*}", decimals, x);
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s.remove(0); // no "-0.0"
    }
    if comma { s.replace('.', ",") } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_and_separators() {
        assert_eq!(plain(68.333333, false), "68.3333");
        assert_eq!(plain(68.333333, true), "68,3333");
        assert_eq!(plain(-0.00001, false), "0");
        assert_eq!(plain(5.0, true), "5");
        assert_eq!(fixed(71.65, 1, true), "71,7");
        assert_eq!(fixed(-0.01, 1, false), "0.0");
        assert_eq!(fixed(-5.72, 1, true), "-5,7");
    }
}
