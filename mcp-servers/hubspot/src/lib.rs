//! sophia-hubspot (being built).
