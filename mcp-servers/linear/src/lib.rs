//! sophia-linear (being built).
