//! Where the bot reads the time: the system clock in production, a clock the test moves in
//! tests of scheduled rounds (so "opens on Monday 10:00, reminds at 08:00 the next working
//! day" runs in seconds).

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until moved.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    /// A clock showing `t`.
    pub fn new(t: Timestamp) -> Self {
        ManualClock { now: Mutex::new(t) }
    }

    /// Sets the time.
    pub fn set(&self, t: Timestamp) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }

    /// Moves the time forward.
    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        // Only tests move this clock; past jiff's range it simply stays at the limit.
        if let Ok(t) = now.checked_add(by) {
            *now = t;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}
