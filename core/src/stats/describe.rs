//! Descriptive statistics of one sample: n, mean, SD, median, t-interval; adjusted-Wald
//! intervals for proportions and for the 0–10 recommendation score.
//!
//! Pure arithmetic over `f64`s and counts, no knowledge of surveys or privacy: suppression
//! happens later (`stats::suppress`), so these functions always return the raw figure. Rules
//! from `facts/instruments.md` ("Statistics for small samples"); the t quantile comes from
//! `statrs`, never from a hand-written table.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Two-sided 95 % level used everywhere.
pub const LEVEL: f64 = 0.95;

/// The normal quantile z(0.975) ≈ 1.959964, from `statrs` (a constant would do; computing it
/// keeps the level in one place).
pub fn z95() -> f64 {
    // Normal::new(0, 1) cannot fail (σ = 1 > 0); fall back to the tabled value anyway.
    Normal::new(0.0, 1.0)
        .map(|n| n.inverse_cdf(0.5 + LEVEL / 2.0))
        .unwrap_or(1.959_963_984_540_054)
}

/// The t quantile t(0.975, df) for a two-sided 95 % interval; `None` if df is not positive
/// (fractional df are fine: Welch).
pub fn t95(df: f64) -> Option<f64> {
    if !(df > 0.0 && df.is_finite()) {
        return None;
    }
    StudentsT::new(0.0, 1.0, df)
        .ok()
        .map(|t| t.inverse_cdf(0.5 + LEVEL / 2.0))
}

/// A closed interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Interval {
    /// `center ± half`.
    pub fn around(center: f64, half: f64) -> Interval {
        Interval {
            low: center - half,
            high: center + half,
        }
    }

    /// Applies an increasing affine map `a·x + b` (a > 0) to both bounds.
    pub fn map_affine(self, a: f64, b: f64) -> Interval {
        Interval {
            low: a * self.low + b,
            high: a * self.high + b,
        }
    }
}

/// n, mean, SD, median and the t-interval of the mean of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of values.
    pub n: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator); `None` for n < 2.
    pub sd: Option<f64>,
    /// Median (mean of the two middle values for even n).
    pub median: f64,
    /// x̄ ± t(0.975, n−1)·s/√n; `None` for n < 2.
    pub ci95: Option<Interval>,
}

/// Sample variance with n − 1 in the denominator (two-pass, stable enough for ratings).
fn variance(values: &[f64], mean: f64) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let ss: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    Some(ss / (values.len() - 1) as f64)
}

/// Describes a sample; `None` when it is empty. NaN values are ignored (never produced by
/// scoring, but a guard keeps a single bad value from poisoning every figure).
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n as f64;
    let sd = variance(&v, mean).map(f64::sqrt);
    v.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let ci95 = sd.and_then(|s| {
        let t = t95((n - 1) as f64)?;
        Some(Interval::around(mean, t * s / (n as f64).sqrt()))
    });
    Some(Summary {
        n: n as u64,
        mean,
        sd,
        median,
        ci95,
    })
}

/// A proportion x/n with its adjusted-Wald (Agresti–Coull) 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    /// Successes.
    pub x: u64,
    /// Trials.
    pub n: u64,
    /// x / n (the point estimate reported; the interval is centred on p̃, not on it).
    pub p: f64,
    /// p̃ ± z·√(p̃(1−p̃)/ñ), p̃ = (x + z²/2)/(n + z²), ñ = n + z², clipped to [0, 1].
    pub ci95: Interval,
}

/// The adjusted-Wald interval of x/n; `None` for n = 0 or x > n.
pub fn adjusted_wald(x: u64, n: u64) -> Option<Proportion> {
    if n == 0 || x > n {
        return None;
    }
    let z = z95();
    let z2 = z * z;
    let nt = n as f64 + z2;
    let pt = (x as f64 + z2 / 2.0) / nt;
    let half = z * (pt * (1.0 - pt) / nt).sqrt();
    Some(Proportion {
        x,
        n,
        p: x as f64 / n as f64,
        ci95: Interval {
            low: (pt - half).max(0.0),
            high: (pt + half).min(1.0),
        },
    })
}

/// The 0–10 recommendation score (NPS) of a sample, on −100..+100.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NpsSummary {
    /// Respondents.
    pub n: u64,
    /// Answers 9–10.
    pub promoters: u64,
    /// Answers 7–8.
    pub passives: u64,
    /// Answers 0–6.
    pub detractors: u64,
    /// 100 × (promoters − detractors) / n.
    pub score: f64,
    /// Adjusted-Wald interval (Rocks 2016), ×100, clipped to [−100, 100].
    pub ci95: Interval,
}

/// NPS with Rocks' (2016) adjusted-Wald interval: n' = n + 3, p'P = (nP + ¾)/n',
/// p'D = (nD + ¾)/n', Var = p'P + p'D − (p'P − p'D)², CI = (p'P − p'D) ± z·√(Var/n').
/// `None` for n = 0.
pub fn nps(promoters: u64, passives: u64, detractors: u64) -> Option<NpsSummary> {
    let n = promoters + passives + detractors;
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let n1 = nf + 3.0;
    let pp = (promoters as f64 + 0.75) / n1;
    let pd = (detractors as f64 + 0.75) / n1;
    let adj = pp - pd;
    let var = pp + pd - adj * adj;
    let half = z95() * (var / n1).sqrt();
    Some(NpsSummary {
        n,
        promoters,
        passives,
        detractors,
        score: 100.0 * (promoters as f64 - detractors as f64) / nf,
        ci95: Interval {
            low: (100.0 * (adj - half)).max(-100.0),
            high: (100.0 * (adj + half)).min(100.0),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn quantiles_match_published_tables() {
        // Standard normal and Student t tables (any statistics textbook; t values re-checked
        // by numerically integrating the t density in Python): z(.975) = 1.959964,
        // t(.975, 9) = 2.262157, t(.975, 4) = 2.776445, t(.975, 1) = 12.706205.
        assert!(close(z95(), 1.959964, 1e-6));
        assert!(close(t95(9.0).unwrap_or(0.0), 2.262157, 1e-5));
        assert!(close(t95(4.0).unwrap_or(0.0), 2.776445, 1e-5));
        assert!(close(t95(1.0).unwrap_or(0.0), 12.706205, 1e-4));
        assert_eq!(t95(0.0), None);
    }

    #[test]
    fn summary_hand_computed() {
        // SUS scores 70, 75, 80, 65, 90 (n = 5).
        // mean = 380 / 5 = 76; deviations −6, −1, 4, −11, 14; squares 36+1+16+121+196 = 370;
        // s² = 370/4 = 92.5, s = 9.617692; se = s/√5 = 4.301163;
        // t(.975, 4) = 2.776445 → half width 11.941942 → [64.058058, 87.941942].
        // median of 65 70 75 80 90 = 75.
        let s = summarize(&[70.0, 75.0, 80.0, 65.0, 90.0]).expect("non-empty");
        assert_eq!(s.n, 5);
        assert!(close(s.mean, 76.0, 1e-12));
        assert!(close(s.sd.unwrap_or(0.0), 9.617692, 1e-6));
        assert_eq!(s.median, 75.0);
        let ci = s.ci95.expect("n ≥ 2");
        assert!(close(ci.low, 64.058058, 1e-4), "{ci:?}");
        assert!(close(ci.high, 87.941942, 1e-4), "{ci:?}");
    }

    #[test]
    fn summary_even_n_median_and_edge_cases() {
        // 1 2 3 4 → median (2 + 3)/2 = 2.5; mean 2.5; s² = (2.25+0.25+0.25+2.25)/3 = 5/3.
        let s = summarize(&[4.0, 1.0, 3.0, 2.0]).expect("non-empty");
        assert_eq!(s.median, 2.5);
        assert!(close(s.sd.unwrap_or(0.0), (5.0f64 / 3.0).sqrt(), 1e-12));
        // n = 1: a mean, no SD, no interval.
        let one = summarize(&[7.0]).expect("non-empty");
        assert_eq!((one.sd, one.ci95), (None, None));
        assert_eq!(summarize(&[]), None);
        // All equal: SD 0, the interval collapses to the mean.
        let flat = summarize(&[5.0; 6]).expect("non-empty");
        assert_eq!(flat.sd, Some(0.0));
        assert_eq!(flat.ci95, Some(Interval::around(5.0, 0.0)));
    }

    #[test]
    fn adjusted_wald_hand_computed() {
        // 7 of 10 users complete a task (hand calculation, checked in Python):
        // z = 1.959964, z² = 3.841459; ñ = 13.841459; p̃ = (7 + 1.920729)/13.841459 = 0.644491;
        // √(p̃(1−p̃)/ñ) = √(0.229122/13.841459) = 0.128661; half = 0.252171
        // → [0.392325, 0.896662].
        let p = adjusted_wald(7, 10).expect("n > 0");
        assert_eq!(p.p, 0.7);
        assert!(close(p.ci95.low, 0.392325, 1e-5), "{p:?}");
        assert!(close(p.ci95.high, 0.896662, 1e-4), "{p:?}");
        // 0 of 5: p̃ = 1.920729/8.841459 = 0.217241, half = 1.959964·√(0.217241·0.782759/8.841459)
        // = 1.959964·0.138683 = 0.271813 → low clipped to 0, high 0.489054.
        let z = adjusted_wald(0, 5).expect("n > 0");
        assert_eq!(z.ci95.low, 0.0);
        assert!(close(z.ci95.high, 0.489054, 1e-4), "{z:?}");
        assert_eq!(adjusted_wald(1, 0), None);
        assert_eq!(adjusted_wald(6, 5), None);
    }

    #[test]
    fn nps_adjusted_wald_hand_computed() {
        // Rocks (2016) adjusted Wald, by hand from the formula in facts/instruments.md:
        // 10 promoters, 6 passives, 4 detractors (n = 20): NPS = (10 − 4)/20 = +30.
        // n' = 23; p'P = 10.75/23 = 0.467391; p'D = 4.75/23 = 0.206522; NPS' = 0.260870;
        // Var = 0.673913 − 0.068053 = 0.605860; √(Var/23) = 0.162302; half = 0.318106
        // → [−0.057236, 0.578975] → ×100: [−5.72, 57.90].
        let s = nps(10, 6, 4).expect("n > 0");
        assert_eq!(s.n, 20);
        assert!(close(s.score, 30.0, 1e-12));
        assert!(close(s.ci95.low, -5.7236, 1e-3), "{s:?}");
        assert!(close(s.ci95.high, 57.8975, 1e-3), "{s:?}");
        // All promoters (n = 5): n' = 8, p'P = 5.75/8 = 0.71875, p'D = 0.09375; NPS' = 0.625;
        // Var = 0.8125 − 0.390625 = 0.421875; √(Var/8) = 0.229640; half = 0.450085
        // → [17.49, 107.51] → the high end is clipped to 100.
        let all = nps(5, 0, 0).expect("n > 0");
        assert_eq!(all.score, 100.0);
        assert!(close(all.ci95.low, 17.4915, 1e-3), "{all:?}");
        assert_eq!(all.ci95.high, 100.0);
        assert_eq!(nps(0, 0, 0), None);
    }
}
