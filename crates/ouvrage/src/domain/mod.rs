//! Typed values parsed at the edge: once a value of these types exists, it is valid.

pub mod format;
pub mod ids;
pub mod people;
pub mod text;
pub mod time;

pub use ids::*;
pub use people::*;
