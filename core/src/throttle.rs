//! How many replies one participant (or one room) may cause: a token bucket per key.
//!
//! Why: hints, `meine daten` and "the survey is closed" are answers to what a participant
//! types; without a bound, one participant typing junk in a loop makes the bot post as fast
//! as they type, which is work for the homeserver and a queue every other participant's
//! next question would wait behind. The first few replies always go out (a confused
//! participant gets their hint); a flood gets a reply now and then. Pure: the caller passes
//! the time, so the rule is tested without waiting.
//!
//! With [`Throttle::with_cooldown`] (participant replies) a refused reply restarts the refill
//! clock: someone who keeps typing gets the burst and then nothing until they pause for a
//! period, however long the flood lasts; a plain bucket would add a reply every period of
//! the flood, so a slow homeserver (a flood that takes longer to arrive) meant more replies.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Replies one key may get at once before the rate applies.
pub const REPLY_BURST: u32 = 5;
/// One more reply becomes available this often.
pub const REPLY_EVERY: Duration = Duration::from_secs(20);
/// Keys kept at most; full buckets are forgotten first (they behave like unknown keys).
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u32,
    /// When the last token was added (or the bucket made).
    at: Instant,
}

/// A token bucket per key (in memory: a restart gives everyone a full bucket).
#[derive(Debug)]
pub struct Throttle {
    burst: u32,
    every: Duration,
    /// Whether a refused reply restarts the refill clock.
    cooldown: bool,
    buckets: HashMap<String, Bucket>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(REPLY_BURST, REPLY_EVERY)
    }
}

impl Throttle {
    /// `burst` replies at once, then one per `every`.
    pub fn new(burst: u32, every: Duration) -> Throttle {
        Throttle {
            burst: burst.max(1),
            every: every.max(Duration::from_millis(1)),
            cooldown: false,
            buckets: HashMap::new(),
        }
    }

    /// The same bucket, but a refused reply restarts the refill clock: replies come back
    /// only after a pause of `every` (one per pause, up to the burst after long ones).
    pub fn with_cooldown(mut self) -> Throttle {
        self.cooldown = true;
        self
    }

    /// Records a refusal: with a cool-down the refill starts over from `now`.
    fn refused(&self, b: &mut Bucket, now: Instant) {
        if self.cooldown {
            b.at = now;
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(b.at);
        let add = elapsed.as_millis() / self.every.as_millis().max(1);
        if add > 0 {
            let add = u32::try_from(add).unwrap_or(u32::MAX);
            b.tokens = b.tokens.saturating_add(add).min(self.burst);
            b.at = if b.tokens == self.burst {
                now
            } else {
                b.at + self.every * add
            };
        }
    }

    /// Whether `key` may get a reply now; does not use it up (see [`Throttle::take`]).
    pub fn allows(&mut self, key: &str, now: Instant) -> bool {
        match self.buckets.get(key).copied() {
            None => true,
            Some(mut b) => {
                self.refill(&mut b, now);
                self.buckets.insert(key.to_owned(), b);
                b.tokens > 0
            }
        }
    }

    /// Records that a reply to `key` was withheld after [`Throttle::allows`] said no (with a
    /// cool-down the refill starts over); [`Throttle::take`] records its own refusals.
    pub fn refuse(&mut self, key: &str, now: Instant) {
        if let Some(mut b) = self.buckets.get(key).copied() {
            self.refill(&mut b, now);
            if b.tokens == 0 {
                self.refused(&mut b, now);
            }
            self.buckets.insert(key.to_owned(), b);
        }
    }

    /// Uses one reply of `key`; false (and nothing used) if none is left.
    pub fn take(&mut self, key: &str, now: Instant) -> bool {
        if !self.buckets.contains_key(key) && self.buckets.len() >= MAX_KEYS {
            self.forget_full(now);
        }
        let mut b = self.buckets.get(key).copied().unwrap_or(Bucket {
            tokens: self.burst,
            at: now,
        });
        self.refill(&mut b, now);
        let ok = b.tokens > 0;
        if ok {
            b.tokens -= 1;
        } else {
            self.refused(&mut b, now);
        }
        self.buckets.insert(key.to_owned(), b);
        ok
    }

    /// How many keys are remembered (bounded).
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    fn forget_full(&mut self, now: Instant) {
        let (burst, every) = (self.burst, self.every);
        self.buckets.retain(|_, b| {
            let full_at = b.at + every * burst.saturating_sub(b.tokens);
            now < full_at
        });
        if self.buckets.len() >= MAX_KEYS {
            // Everyone is busy: start over rather than grow (a fresh bucket is only generous).
            self.buckets.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_period() {
        let t0 = Instant::now();
        let mut t = Throttle::new(3, Duration::from_secs(10));
        assert!((0..3).all(|_| t.take("a", t0)));
        assert!(!t.take("a", t0));
        assert!(!t.allows("a", t0 + Duration::from_secs(9)));
        assert!(t.take("b", t0), "keys are independent");
        assert!(t.allows("a", t0 + Duration::from_secs(10)));
        assert!(t.take("a", t0 + Duration::from_secs(10)));
        assert!(!t.take("a", t0 + Duration::from_secs(11)));
        // A long pause refills up to the burst, no more.
        let later = t0 + Duration::from_secs(3600);
        assert!((0..3).all(|_| t.take("a", later)));
        assert!(!t.take("a", later));
    }

    #[test]
    fn a_flood_gets_a_bounded_number_of_replies() {
        let t0 = Instant::now();
        let mut t = Throttle::default();
        // 500 messages in one minute.
        let replies = (0..500)
            .filter(|i| t.take("flooder", t0 + Duration::from_millis(i * 120)))
            .count();
        assert!(replies <= (REPLY_BURST + 3) as usize, "{replies} replies");
    }

    #[test]
    fn with_a_cooldown_a_flood_of_any_length_gets_only_the_burst() {
        let t0 = Instant::now();
        for minutes in [1u64, 5, 30] {
            let mut t = Throttle::default().with_cooldown();
            // One message every 2 s, never a pause of 20 s.
            let replies = (0..minutes * 30)
                .filter(|i| t.take("flooder", t0 + Duration::from_secs(i * 2)))
                .count();
            assert_eq!(replies, REPLY_BURST as usize, "{minutes} min flood");
        }
        // The same flood without a cool-down gets a reply every period.
        let mut t = Throttle::default();
        let replies = (0..30 * 30)
            .filter(|i| t.take("flooder", t0 + Duration::from_secs(i * 2)))
            .count();
        assert!(replies > 80, "{replies}");
    }

    #[test]
    fn with_a_cooldown_a_pause_brings_replies_back() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut t = Throttle::new(2, s(10)).with_cooldown();
        assert!(t.take("a", t0) && t.take("a", t0));
        assert!(!t.take("a", t0 + s(9)));
        // 9 s after the refused one is no pause yet; a withheld reply restarts too.
        assert!(!t.allows("a", t0 + s(18)));
        t.refuse("a", t0 + s(18));
        assert!(!t.take("a", t0 + s(27)));
        // A pause of a whole period gives one reply; a long one the burst.
        assert!(t.take("a", t0 + s(37)));
        assert!(!t.take("a", t0 + s(38)));
        let later = t0 + s(3600);
        assert!(t.take("a", later) && t.take("a", later));
        assert!(!t.take("a", later));
        // Asking is no refusal: input that needs no reply does not prolong the pause.
        let mut t = Throttle::new(1, s(10)).with_cooldown();
        assert!(t.take("b", t0));
        assert!(!t.allows("b", t0 + s(5)));
        assert!(t.take("b", t0 + s(10)));
        // A confused participant who writes now and then always gets their hint.
        let mut t = Throttle::default().with_cooldown();
        assert!((0..50).all(|i| t.take("slow", t0 + REPLY_EVERY * i)));
    }

    #[test]
    fn the_key_map_stays_bounded() {
        let t0 = Instant::now();
        let mut t = Throttle::new(1, Duration::from_secs(1));
        for i in 0..(MAX_KEYS + 10) {
            t.take(&format!("k{i}"), t0);
        }
        assert!(t.len() <= MAX_KEYS);
    }
}
