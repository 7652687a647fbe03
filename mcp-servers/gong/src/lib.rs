//! sophia-gong (being built).
