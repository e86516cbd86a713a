//! Minimum group size: which figures may be published, and the [`Gated`] wrapper that makes
//! every exporter handle suppression.
//!
//! The rules (documented for users in `docs/export-schema.md`, "Suppression"). Rules 2–4
//! hold each cell of a distribution to k; they apply in [`Distributions::Cell`] mode. In the
//! default [`Distributions::Group`] mode a distribution (an item's counts, NPS categories,
//! participation) is shown whole once its group (the item's respondents, the round's
//! audience) has k people, as employee-survey tools do; rules 1, 5 and 6 hold in both.
//!
//! 1. **n < k**: a figure computed from fewer than k respondents is suppressed
//!    ([`Reason::BelowMinGroupSize`]); so are its n and everything derived from it.
//! 2. **Small cells, nominal rows** (single choice without scale values, and each option of a
//!    multiple choice against "not chosen"): a cell with 1..k−1 respondents is suppressed
//!    ([`Reason::SmallCell`]). Then, while the respondents hidden in the row (its total minus
//!    the published cells, which includes unpublished cells such as "not chosen") number
//!    1..k−1, the smallest non-zero published cell is suppressed as well
//!    ([`Reason::Complementary`]) — so no cell of fewer than k people can be recovered by
//!    subtracting from n. Zero cells stay: "nobody chose this" describes no person.
//! 3. **Distributions with a published mean** (likert, instrument items, 0–10): all or
//!    nothing. The mean (and SD) are further linear equations over the cells: with two
//!    hidden cells, n and the mean alone solve them (e.g. hidden cells "1" and "3" with
//!    c1 + c3 = 5 and c1 + 3·c3 = 13 give c1 = 1, c3 = 4). The common "also suppress the
//!    next-smallest cell" rule therefore does not protect such rows, so if any cell is in
//!    1..k−1 the whole distribution is suppressed and only n, mean, SD, median and CI stay.
//! 4. **Counts that add up** (completion: audience, consented, finished, partial): the
//!    published counts are checked with [`derivable_small_group`], which finds any group of
//!    1..k−1 people whose size follows from the published counts by adding and subtracting
//!    (e.g. consented − finished − partial = those who never answered). finished + partial
//!    counts as published, because every item's n reveals it. Counts are withheld, least
//!    important first, until none is derivable.
//! 5. **Differences** (subject vs subject, round over round) are published only when both
//!    sides are: a difference next to one published mean reveals the other. A withheld
//!    difference carries its withheld side's reason (usually fewer than k answers).
//! 6. **Free text** only with the explicit include-text flag and n ≥ max(k, k_text)
//!    (default k_text = 10); texts are sorted, so their order says nothing.
//!
//! Figures are never dropped silently: a suppressed figure is a [`Gated`] holding the
//! [`Reason`], and the exporters print it as `suppressed: true` with the reason.

use serde::{Deserialize, Serialize};

/// Default minimum number of respondents for free-text answers (facts/context.md).
pub const DEFAULT_TEXT_MIN: u32 = 10;

/// Why a figure is not published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Computed from fewer than k respondents.
    BelowMinGroupSize,
    /// A distribution cell or count of 1..k−1 respondents.
    SmallCell,
    /// Not small itself, but publishing it would let a small group be derived by
    /// subtraction (from n, a total, a mean, or the other side of a difference).
    Complementary,
    /// Free text, and the export was not asked to include free text.
    TextNotRequested,
    /// Free text from fewer than max(k, k_text) respondents.
    TextBelowThreshold,
}

impl Reason {
    /// The stable name used in JSON and CSV.
    pub fn name(self) -> &'static str {
        match self {
            Reason::BelowMinGroupSize => "below_min_group_size",
            Reason::SmallCell => "small_cell",
            Reason::Complementary => "complementary",
            Reason::TextNotRequested => "text_not_requested",
            Reason::TextBelowThreshold => "text_below_threshold",
        }
    }
}

/// A figure that is either published or suppressed with a reason. The value of a suppressed
/// figure is not kept at all, so no renderer can print it by mistake.
#[derive(Debug, Clone, PartialEq)]
pub struct Gated<T>(Result<T, Reason>);

impl<T> Gated<T> {
    /// A published figure.
    pub(crate) fn shown(value: T) -> Self {
        Gated(Ok(value))
    }

    /// A suppressed figure.
    pub(crate) fn suppressed(reason: Reason) -> Self {
        Gated(Err(reason))
    }

    /// The value, if published.
    pub fn value(&self) -> Option<&T> {
        self.0.as_ref().ok()
    }

    /// Why it is suppressed, if it is.
    pub fn reason(&self) -> Option<Reason> {
        self.0.as_ref().err().copied()
    }

    /// True if suppressed.
    pub fn is_suppressed(&self) -> bool {
        self.0.is_err()
    }

    /// Maps the published value (a suppressed figure stays suppressed with its reason).
    pub fn map<U>(&self, f: impl FnOnce(&T) -> U) -> Gated<U> {
        Gated(self.0.as_ref().map(f).map_err(|r| *r))
    }
}

/// `[privacy] distributions`: which rule decides whether a distribution is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distributions {
    /// A distribution is shown whole when its group (the item's respondents; for
    /// participation, the round's audience) has at least k people.
    #[default]
    Group,
    /// Every cell of a distribution is held to k (rules 2–4): stricter, and at pilot sizes
    /// most distributions are withheld.
    Cell,
}

impl Distributions {
    /// The name in the config and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Distributions::Group => "group",
            Distributions::Cell => "cell",
        }
    }

    /// From the config's spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<Distributions> {
        match s {
            "group" => Some(Distributions::Group),
            "cell" => Some(Distributions::Cell),
            _ => None,
        }
    }
}

/// What may be published: the minimum group size, the distribution rule and the free-text
/// switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// k: figures from fewer respondents are suppressed (the survey's `min_group_size`).
    pub min_group_size: u32,
    /// k_text: free text needs at least max(k, k_text) respondents.
    pub text_min: u32,
    /// Free text only when explicitly asked for (`--include-text`).
    pub include_text: bool,
    /// Group or cell rule for distributions (`[privacy] distributions`).
    #[serde(default)]
    pub distributions: Distributions,
}

impl Policy {
    /// k as given (at least 1), k_text = 10, free text off, the group rule.
    pub fn new(min_group_size: u32) -> Policy {
        Policy {
            min_group_size: min_group_size.max(1),
            text_min: DEFAULT_TEXT_MIN,
            include_text: false,
            distributions: Distributions::Group,
        }
    }

    /// The same policy with the given distribution rule.
    pub fn with_distributions(mut self, d: Distributions) -> Policy {
        self.distributions = d;
        self
    }

    /// The cells of a nominal row of `total` respondents (the caller has checked
    /// `total ≥ k`): all shown under the group rule, rule 2 under the cell rule.
    pub fn nominal_row(&self, cells: &[u64], total: u64) -> Vec<Option<Reason>> {
        match self.distributions {
            Distributions::Group => vec![None; cells.len()],
            Distributions::Cell => nominal_row(cells, total, self.k()),
        }
    }

    /// The cells of a distribution whose mean is published (the caller has checked n ≥ k):
    /// all shown under the group rule, rule 3 under the cell rule.
    pub fn distribution_with_mean(&self, cells: &[u64]) -> Vec<Option<Reason>> {
        match self.distributions {
            Distributions::Group => vec![None; cells.len()],
            Distributions::Cell => distribution_with_mean(cells, self.k()),
        }
    }

    /// The completion counts of a round: under the group rule all four are shown when the
    /// audience has at least k people (nothing otherwise); under the cell rule, rule 4.
    pub fn completion(
        &self,
        audience: u64,
        consented: u64,
        finished: u64,
        partial: u64,
    ) -> CompletionGates {
        match self.distributions {
            Distributions::Cell => completion(audience, consented, finished, partial, self.k()),
            Distributions::Group if audience < self.k() => {
                completion(audience, consented, finished, partial, self.k())
            }
            Distributions::Group => {
                // Clamped as rule 4 does, so inconsistent input cannot print nonsense.
                let consented = consented.min(audience);
                let finished = finished.min(consented);
                let partial = partial.min(consented - finished);
                CompletionGates {
                    audience: Gated::shown(audience),
                    consented: Gated::shown(consented),
                    finished: Gated::shown(finished),
                    partial: Gated::shown(partial),
                }
            }
        }
    }

    /// The same policy with free text requested.
    pub fn with_text(mut self, include: bool) -> Policy {
        self.include_text = include;
        self
    }

    /// k as u64.
    pub fn k(&self) -> u64 {
        u64::from(self.min_group_size.max(1))
    }

    /// max(k, k_text).
    pub fn text_threshold(&self) -> u64 {
        self.k().max(u64::from(self.text_min))
    }

    /// Rule 1 for one figure computed from `n` respondents.
    pub fn gate<T>(&self, n: u64, value: T) -> Gated<T> {
        if n < self.k() {
            Gated::suppressed(Reason::BelowMinGroupSize)
        } else {
            Gated::shown(value)
        }
    }

    /// Rule 6 for the free-text answers of one question.
    pub fn gate_texts(&self, mut texts: Vec<String>) -> Gated<Vec<String>> {
        if !self.include_text {
            Gated::suppressed(Reason::TextNotRequested)
        } else if (texts.len() as u64) < self.text_threshold() {
            Gated::suppressed(Reason::TextBelowThreshold)
        } else {
            // Sorted: the answer store's order is random anyway, and sorting keeps the export
            // reproducible and free of any order signal.
            texts.sort();
            Gated::shown(texts)
        }
    }
}

fn is_small(c: u64, k: u64) -> bool {
    c > 0 && c < k
}

/// Rule 2: suppression of one nominal row. `cells` are the counts that would be published,
/// `total` the published row total (≥ Σ cells; the rest is in unpublished cells such as "not
/// chosen"). Returns the reason per cell (`None` = publish). The caller has already checked
/// `total ≥ k`.
pub fn nominal_row(cells: &[u64], total: u64, k: u64) -> Vec<Option<Reason>> {
    let mut out: Vec<Option<Reason>> = cells
        .iter()
        .map(|&c| is_small(c, k).then_some(Reason::SmallCell))
        .collect();
    loop {
        let published: u64 = cells
            .iter()
            .zip(&out)
            .filter(|(_, r)| r.is_none())
            .map(|(c, _)| *c)
            .sum();
        let hidden = total.saturating_sub(published);
        if !is_small(hidden, k) {
            return out;
        }
        // The smallest non-zero published cell joins the hidden ones.
        let next = cells
            .iter()
            .enumerate()
            .filter(|(i, c)| **c > 0 && out[*i].is_none())
            .min_by_key(|(_, c)| **c)
            .map(|(i, _)| i);
        match next {
            Some(i) => out[i] = Some(Reason::Complementary),
            // Nothing left to hide: every published cell is zero, so the hidden group is the
            // whole total, which the caller guarantees is ≥ k. Unreachable in practice.
            None => return out,
        }
    }
}

/// Rule 3: a distribution whose mean is published is shown whole or not at all. Cells sum
/// to the published n.
pub fn distribution_with_mean(cells: &[u64], k: u64) -> Vec<Option<Reason>> {
    if cells.iter().any(|&c| is_small(c, k)) {
        cells
            .iter()
            .map(|&c| {
                Some(if is_small(c, k) {
                    Reason::SmallCell
                } else {
                    Reason::Complementary
                })
            })
            .collect()
    } else {
        vec![None; cells.len()]
    }
}

/// Rank of a set of row vectors (Gaussian elimination; entries are small numbers).
fn rank(rows: &[Vec<f64>]) -> usize {
    let mut m: Vec<Vec<f64>> = rows.to_vec();
    let cols = m.first().map_or(0, Vec::len);
    let mut r = 0;
    for c in 0..cols {
        let Some(p) = (r..m.len()).max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs())) else {
            break;
        };
        if m[p][c].abs() < 1e-9 {
            continue;
        }
        m.swap(r, p);
        for i in 0..m.len() {
            if i != r {
                let f = m[i][c] / m[r][c];
                if f != 0.0 {
                    let pivot = m[r].clone();
                    for (x, p) in m[i].iter_mut().zip(&pivot).skip(c) {
                        *x -= f * p;
                    }
                }
            }
        }
        r += 1;
        if r == m.len() {
            break;
        }
    }
    r
}

/// The derivability audit behind rule 4 (and the property tests of rules 2 and 3).
/// `atoms` are the sizes of disjoint groups of people; each published figure is a linear
/// combination of atoms (its coefficient row). Returns a set of atoms whose total is 1..k−1
/// and follows exactly from the published figures (its indicator vector lies in their
/// span), if there is one. Exhaustive over subsets: meant for ≤ 16 atoms.
pub fn derivable_small_group(atoms: &[u64], published: &[Vec<f64>], k: u64) -> Option<Vec<usize>> {
    let m = atoms.len();
    if m == 0 || m > 16 {
        return None;
    }
    let base = rank(published);
    for mask in 1u32..(1 << m) {
        let members: Vec<usize> = (0..m).filter(|i| mask & (1 << i) != 0).collect();
        let size: u64 = members.iter().map(|&i| atoms[i]).sum();
        if !is_small(size, k) {
            continue;
        }
        let indicator: Vec<f64> = (0..m)
            .map(|i| if mask & (1 << i) != 0 { 1.0 } else { 0.0 })
            .collect();
        let mut with = published.to_vec();
        with.push(indicator);
        if rank(&with) == base {
            return Some(members);
        }
    }
    None
}

/// The four completion counts with their suppression decided (rule 4).
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionGates {
    /// People asked.
    pub audience: Gated<u64>,
    /// Of those, consented and invited to the round.
    pub consented: Gated<u64>,
    /// Finished the round.
    pub finished: Gated<u64>,
    /// Answered part of it before it closed.
    pub partial: Gated<u64>,
}

/// Rule 4 for completion counts. Atoms: declined (audience − consented), finished, partial,
/// silent (consented − finished − partial). The audience is the published total (room
/// membership) and finished + partial is known from the items' n; the others are withheld
/// in the order partial, finished, consented until no group of 1..k−1 people can be derived,
/// and if even that is not enough, the audience too.
pub fn completion(
    audience: u64,
    consented: u64,
    finished: u64,
    partial: u64,
    k: u64,
) -> CompletionGates {
    if audience < k {
        let s = || Gated::suppressed(Reason::BelowMinGroupSize);
        return CompletionGates {
            audience: s(),
            consented: s(),
            finished: s(),
            partial: s(),
        };
    }
    // Callers pass consistent counts; clamp so bad input can only over-suppress.
    let consented = consented.min(audience);
    let finished = finished.min(consented);
    let partial = partial.min(consented - finished);
    let atoms = [
        audience - consented,
        finished,
        partial,
        consented - finished - partial,
    ];
    // finished + partial is the number of responses, which the items' n reveal (the first
    // question's n is all of them) once it reaches k: then it counts as published whatever
    // else is withheld. Below k every item is suppressed and it stays hidden.
    let responses_known = finished + partial >= k;
    // (row, value) of the optional figures in order of importance.
    let optional: [(Vec<f64>, u64); 3] = [
        (vec![0.0, 1.0, 1.0, 1.0], consented),
        (vec![0.0, 1.0, 0.0, 0.0], finished),
        (vec![0.0, 0.0, 1.0, 0.0], partial),
    ];
    // Try every choice of figures to publish: most figures first, then the choice that keeps
    // the more important ones (bit 0 = consented > bit 1 = finished > bit 2 = partial).
    let importance = |m: u32| ((m & 1) << 2) | (m & 2) | ((m & 4) >> 2);
    let mut masks: Vec<u32> = (0..8).collect();
    masks.sort_by_key(|&m| {
        (
            std::cmp::Reverse(m.count_ones()),
            std::cmp::Reverse(importance(m)),
        )
    });
    let safe = |with_audience: bool, mask: u32| {
        let mut rows = Vec::new();
        if with_audience {
            rows.push(vec![1.0, 1.0, 1.0, 1.0]);
        }
        if responses_known {
            rows.push(vec![0.0, 1.0, 1.0, 0.0]);
        }
        rows.extend(
            optional
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, (row, _))| row.clone()),
        );
        derivable_small_group(&atoms, &rows, k).is_none()
    };
    // With the audience if possible. Without it the only published group is the responses
    // (≥ k), so mask 0 without the audience is always safe.
    let (with_audience, chosen) = masks
        .iter()
        .map(|&m| (true, m))
        .chain(masks.iter().map(|&m| (false, m)))
        .find(|&(a, m)| safe(a, m))
        .unwrap_or((false, 0));
    let gate = |i: usize, v: u64| {
        if chosen & (1 << i) != 0 {
            Gated::shown(v)
        } else if is_small(v, k) {
            Gated::suppressed(Reason::SmallCell)
        } else {
            Gated::suppressed(Reason::Complementary)
        }
    };
    CompletionGates {
        // audience − (finished + partial) = declined + silent would be a small group.
        audience: if with_audience {
            Gated::shown(audience)
        } else {
            Gated::suppressed(Reason::Complementary)
        },
        consented: gate(0, consented),
        finished: gate(1, finished),
        partial: gate(2, partial),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Reason::*;

    /// The table of suppression cases the brief asks for: (name, cells, total, k, expected).
    #[test]
    fn nominal_rows_table() {
        type Case = (
            &'static str,
            &'static [u64],
            u64,
            u64,
            &'static [Option<Reason>],
        );
        let cases: &[Case] = &[
            ("all cells ≥ k", &[5, 6, 7], 18, 5, &[None, None, None]),
            (
                "zeros are published",
                &[0, 10, 0],
                10,
                5,
                &[None, None, None],
            ),
            (
                "one small cell pulls in the next-smallest non-zero cell",
                &[2, 0, 9, 6],
                17,
                5,
                &[Some(SmallCell), None, None, Some(Complementary)],
            ),
            (
                "two small cells hiding ≥ k together need nothing more",
                &[3, 2, 10],
                15,
                5,
                &[Some(SmallCell), Some(SmallCell), None],
            ),
            (
                "two small cells hiding < k together pull in another",
                &[1, 2, 10, 7],
                20,
                5,
                &[Some(SmallCell), Some(SmallCell), None, Some(Complementary)],
            ),
            (
                "multiple choice: option chosen by 2 of 12 is a small cell",
                &[2],
                12,
                5,
                &[Some(SmallCell)],
            ),
            (
                "multiple choice: 'not chosen' = 12 − 10 = 2 is derivable, so 10 is hidden",
                &[10],
                12,
                5,
                &[Some(Complementary)],
            ),
            ("multiple choice: chosen by all", &[12], 12, 5, &[None]),
            (
                "k = 10 (subgroups)",
                &[9, 11],
                20,
                10,
                &[Some(SmallCell), Some(Complementary)],
            ),
        ];
        for (name, cells, total, k, expected) in cases {
            assert_eq!(nominal_row(cells, *total, *k), expected.to_vec(), "{name}");
        }
    }

    #[test]
    fn distribution_with_mean_is_all_or_nothing() {
        assert_eq!(distribution_with_mean(&[0, 5, 10, 6, 0], 5), vec![None; 5]);
        assert_eq!(
            distribution_with_mean(&[1, 0, 4, 9, 6], 5),
            vec![
                Some(SmallCell),
                Some(Complementary),
                Some(SmallCell),
                Some(Complementary),
                Some(Complementary)
            ]
        );
    }

    #[test]
    fn why_next_smallest_is_not_enough_when_a_mean_is_published() {
        // 5-point item, n = 20, cells 1:1 2:0 3:4 4:9 5:6, k = 5. The next-smallest rule hides
        // "1" and "3" (hidden total 5 ≥ k) and publishes 2, 4, 5. With the mean published as
        // well, the audit finds "1" (a single person) derivable.
        let atoms = [1, 0, 4, 9, 6];
        let nominal = nominal_row(&atoms, 20, 5);
        assert_eq!(
            nominal,
            vec![Some(SmallCell), None, Some(SmallCell), None, None]
        );
        let mut rows = vec![vec![1.0; 5], vec![1.0, 2.0, 3.0, 4.0, 5.0]]; // n and n·mean
        for (i, r) in nominal.iter().enumerate() {
            if r.is_none() {
                let mut e = vec![0.0; 5];
                e[i] = 1.0;
                rows.push(e);
            }
        }
        assert!(derivable_small_group(&atoms, &rows, 5).is_some());
        // Rule 3 hides every cell: only n and the mean remain, and nothing small follows.
        assert!(
            distribution_with_mean(&atoms, 5)
                .iter()
                .all(Option::is_some)
        );
        let only_n_and_mean = &rows[..2];
        assert_eq!(derivable_small_group(&atoms, only_n_and_mean, 5), None);
    }

    #[test]
    fn completion_table() {
        let show = |v: u64| Gated::shown(v);
        let hide = |r: Reason| Gated::<u64>::suppressed(r);
        // 40 asked, 30 consented, 20 finished, 5 partial, 5 silent, 10 declined: all ≥ k.
        let c = completion(40, 30, 20, 5, 5);
        assert_eq!(
            (c.audience, c.consented, c.finished, c.partial),
            (show(40), show(30), show(20), show(5))
        );
        // partial 2 is small. finished + partial = 30 is known from the items' n, so
        // finished would reveal partial by subtraction: both withheld. consented − 30 = 0
        // silent people: nothing small, consented stays.
        let c = completion(40, 30, 28, 2, 5);
        assert_eq!(
            (c.audience, c.consented, c.finished, c.partial),
            (show(40), show(30), hide(Complementary), hide(SmallCell))
        );
        // 3 declined (audience − consented): consented would reveal them. Without it,
        // declined + silent = 3 + 4 = 7 ≥ k are hidden together.
        let c = completion(30, 27, 15, 8, 5);
        assert_eq!(
            (c.audience, c.consented, c.finished, c.partial),
            (show(30), hide(Complementary), show(15), show(8))
        );
        // 1 silent (consented − finished − partial): consented would reveal them, since
        // finished + partial is known anyway.
        let c = completion(40, 30, 21, 8, 5);
        assert_eq!(
            (c.audience, c.consented, c.finished, c.partial),
            (show(40), hide(Complementary), show(21), show(8))
        );
        // 10 asked, 8 responded: the 2 others follow from audience − responses (the items'
        // n), so the audience itself is withheld.
        let c = completion(10, 9, 8, 0, 5);
        assert_eq!(c.audience, hide(Complementary));
        assert_eq!((c.finished, c.partial), (show(8), show(0)));
        // Audience below k: nothing at all.
        let c = completion(4, 4, 4, 0, 5);
        assert_eq!(c.audience, hide(BelowMinGroupSize));
        assert_eq!(c.finished, hide(BelowMinGroupSize));
    }

    /// `[privacy] distributions`: the group rule shows a group of k whole, cells of 1..k−1
    /// included; the cell rule keeps rules 2–4; below k both withhold (rule 1).
    #[test]
    fn group_and_cell_rules_just_above_and_below_k() {
        let group = Policy::new(5);
        let cell = Policy::new(5).with_distributions(Distributions::Cell);
        assert_eq!(
            group.distributions,
            Distributions::Group,
            "group is the default"
        );
        // 5 respondents (= k), one option chosen by 1.
        assert_eq!(group.nominal_row(&[4, 1], 5), vec![None, None]);
        assert_eq!(
            cell.nominal_row(&[4, 1], 5),
            vec![Some(SmallCell), Some(SmallCell)]
        );
        assert_eq!(group.distribution_with_mean(&[1, 3, 1]), vec![None; 3]);
        assert!(
            cell.distribution_with_mean(&[1, 3, 1])
                .iter()
                .all(Option::is_some)
        );
        // Participation: an audience of exactly k shows all four counts under the group rule.
        let c = group.completion(5, 4, 3, 1);
        assert_eq!(
            (c.audience, c.consented, c.finished, c.partial),
            (
                Gated::shown(5),
                Gated::shown(4),
                Gated::shown(3),
                Gated::shown(1)
            )
        );
        let c = cell.completion(5, 4, 3, 1);
        assert!(c.finished.is_suppressed() && c.partial.is_suppressed());
        // An audience of k − 1: nothing under either rule.
        for p in [group, cell] {
            let c = p.completion(4, 4, 3, 1);
            assert_eq!(c.audience, Gated::suppressed(BelowMinGroupSize));
            assert_eq!(c.finished, Gated::suppressed(BelowMinGroupSize));
        }
        // Inconsistent ledger input is clamped, never printed as nonsense.
        let c = group.completion(6, 9, 9, 9);
        assert_eq!(
            (c.consented, c.finished, c.partial),
            (Gated::shown(6), Gated::shown(6), Gated::shown(0))
        );
        assert_eq!(Distributions::parse("cell"), Some(Distributions::Cell));
        assert_eq!(Distributions::parse("cells"), None);
        assert_eq!(Distributions::Group.name(), "group");
    }

    #[test]
    fn text_rules_table() {
        let texts = |n: usize| (0..n).map(|i| format!("t{i:02}")).collect::<Vec<_>>();
        let p = Policy::new(5);
        assert_eq!(p.gate_texts(texts(30)).reason(), Some(TextNotRequested));
        let p = p.with_text(true);
        assert_eq!(p.text_threshold(), 10);
        assert_eq!(p.gate_texts(texts(9)).reason(), Some(TextBelowThreshold));
        assert_eq!(p.gate_texts(texts(10)).value().map(Vec::len), Some(10));
        // k above k_text: k decides.
        let p = Policy::new(12).with_text(true);
        assert_eq!(p.gate_texts(texts(11)).reason(), Some(TextBelowThreshold));
        assert!(!p.gate_texts(texts(12)).is_suppressed());
        // Sorted output.
        let p = Policy::new(1).with_text(true);
        let mut t = texts(10);
        t.reverse();
        assert_eq!(p.gate_texts(t).value(), Some(&texts(10)));
    }

    #[test]
    fn gate_below_k() {
        let p = Policy::new(5);
        assert_eq!(p.gate(4, 1.0).reason(), Some(BelowMinGroupSize));
        assert_eq!(p.gate(5, 1.0).value(), Some(&1.0));
        assert_eq!(Policy::new(0).k(), 1);
    }
}
