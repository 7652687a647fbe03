//! sophia-slack (being built).
