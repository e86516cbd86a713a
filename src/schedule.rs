//! When rounds open, remind and close: a pure function of schedule, history and time (issue 3).
