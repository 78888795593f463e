//! The HTTP layer's shared pieces: errors, sessions, CSRF, the actor extractor, page context,
//! static assets and security headers. Feature folders hold their own routes.

pub mod actor;
pub mod assets;
pub mod csrf;
pub mod error;
pub mod page;
pub mod security;
pub mod session;

pub use actor::{Actor, AdminActor, ClientActor, StaffActor};
pub use error::{AppError, AppResult};
pub use page::{Ctx, Nav, render};
