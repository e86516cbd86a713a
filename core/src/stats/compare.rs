//! Differences between two samples: paired t on per-respondent differences, Welch's t for
//! independent groups.
//!
//! Pure arithmetic. Which test applies (same respondent rated both subjects, or not) is
//! decided by the caller (`stats::dataset`), and whether a difference may be published at
//! all by `stats::suppress` (a difference next to one published side reveals the other).

use serde::{Deserialize, Serialize};

use super::describe::{Interval, summarize, t95};

/// How a difference was estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Paired t on the per-respondent differences a − b.
    Paired,
    /// Welch's t for two independent samples (unequal variances).
    Welch,
}

/// The difference of means a − b with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// Paired or Welch.
    pub method: Method,
    /// Respondents in a (paired: the pairs).
    pub n_a: u64,
    /// Respondents in b (paired: the pairs).
    pub n_b: u64,
    /// Mean of a.
    pub mean_a: f64,
    /// Mean of b.
    pub mean_b: f64,
    /// mean(a) − mean(b) (paired: the mean of the differences, the same number).
    pub diff: f64,
    /// Degrees of freedom (paired: n − 1; Welch: Welch–Satterthwaite).
    pub df: f64,
    /// diff ± t(0.975, df)·se.
    pub ci95: Interval,
}

/// Welch's t interval of mean(a) − mean(b); `None` unless both samples have n ≥ 2 and not
/// both variances are zero (then the standard error and df are undefined).
pub fn welch(a: &[f64], b: &[f64]) -> Option<Difference> {
    let (sa, sb) = (summarize(a)?, summarize(b)?);
    let (va, vb) = (sa.sd?.powi(2), sb.sd?.powi(2));
    let (na, nb) = (sa.n as f64, sb.n as f64);
    let (qa, qb) = (va / na, vb / nb);
    let se2 = qa + qb;
    if se2 <= 0.0 {
        return None;
    }
    // Welch–Satterthwaite: (qa + qb)² / (qa²/(na−1) + qb²/(nb−1)).
    let df = se2 * se2 / (qa * qa / (na - 1.0) + qb * qb / (nb - 1.0));
    let t = t95(df)?;
    let diff = sa.mean - sb.mean;
    Some(Difference {
        method: Method::Welch,
        n_a: sa.n,
        n_b: sb.n,
        mean_a: sa.mean,
        mean_b: sb.mean,
        diff,
        df,
        ci95: Interval::around(diff, t * se2.sqrt()),
    })
}

/// Paired t interval of the mean difference over pairs (a_i, b_i); `None` for fewer than 2
/// pairs. With all differences equal the interval collapses to the point.
pub fn paired(pairs: &[(f64, f64)]) -> Option<Difference> {
    let d: Vec<f64> = pairs.iter().map(|(a, b)| a - b).collect();
    let s = summarize(&d)?;
    let ci95 = s.ci95?;
    let n = pairs.len() as f64;
    Some(Difference {
        method: Method::Paired,
        n_a: s.n,
        n_b: s.n,
        mean_a: pairs.iter().map(|p| p.0).sum::<f64>() / n,
        mean_b: pairs.iter().map(|p| p.1).sum::<f64>() / n,
        diff: s.mean,
        df: n - 1.0,
        ci95,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn welch_hand_computed() {
        // a = 80 85 90 75 70 (mean 80, s² = (0+25+100+25+100)/4 = 62.5)
        // b = 60 65 70 55 (mean 62.5, s² = (6.25+6.25+56.25+56.25)/3 = 41.666667)
        // qa = 62.5/5 = 12.5, qb = 41.666667/4 = 10.416667, se² = 22.916667, se = 4.787136
        // df = 22.916667² / (12.5²/4 + 10.416667²/3) = 525.173611 / (39.0625 + 36.168981)
        //    = 525.173611 / 75.231481 = 6.980770
        // t(.975, 6.980770) = 2.365945 (between the tabled t(.975,7) = 2.364624 and t(.975,6) = 2.446912)
        // diff = 17.5, half = 2.365945·4.787136 = 11.326101 → [6.173899, 28.826101].
        let d = welch(&[80.0, 85.0, 90.0, 75.0, 70.0], &[60.0, 65.0, 70.0, 55.0]).expect("ok");
        assert_eq!(d.method, Method::Welch);
        assert!(close(d.diff, 17.5, 1e-12));
        assert!(close(d.df, 6.980770, 1e-5), "{d:?}");
        assert!(close(d.ci95.low, 6.173899, 1e-4), "{d:?}");
        assert!(close(d.ci95.high, 28.826101, 1e-4), "{d:?}");
        assert_eq!(welch(&[1.0], &[1.0, 2.0]), None);
        assert_eq!(welch(&[3.0, 3.0], &[2.0, 2.0]), None);
    }

    #[test]
    fn paired_hand_computed() {
        // Five respondents rated both systems (SUS): (80,70) (75,70) (90,75) (60,62.5) (85,70)
        // differences 10, 5, 15, −2.5, 15: mean 42.5/5 = 8.5;
        // deviations 1.5, −3.5, 6.5, −11, 6.5 → squares 2.25+12.25+42.25+121+42.25 = 220;
        // s² = 55, s = 7.416198; se = 3.316625; t(.975,4) = 2.776445 → half 9.208427
        // → [−0.708427, 17.708427] (checked with a Simpson-rule t integral in Python).
        let pairs = [
            (80.0, 70.0),
            (75.0, 70.0),
            (90.0, 75.0),
            (60.0, 62.5),
            (85.0, 70.0),
        ];
        let d = paired(&pairs).expect("ok");
        assert_eq!(d.method, Method::Paired);
        assert_eq!(d.n_a, 5);
        assert!(close(d.diff, 8.5, 1e-12));
        assert!(close(d.mean_a - d.mean_b, 8.5, 1e-12));
        assert_eq!(d.df, 4.0);
        assert!(close(d.ci95.low, -0.708427, 1e-5), "{d:?}");
        assert!(close(d.ci95.high, 17.708427, 1e-5), "{d:?}");
        assert_eq!(paired(&[(1.0, 2.0)]), None);
    }
}
