//! sophia-snowflake (being built).
