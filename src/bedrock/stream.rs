//! Owned by stream helper.
