//! The encrypted sled store: the only code that touches pulsebot's data on disk (issue 4).
