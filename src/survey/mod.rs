//! Questionnaires: the survey file format, the standard instruments, rendering (issue 3).
