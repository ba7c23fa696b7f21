//! One module per command.

pub mod drill;
pub mod restore;
pub mod snapshot;
pub mod snapshots;
pub mod status;
