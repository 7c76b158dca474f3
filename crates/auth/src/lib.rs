//! Accounts, roles, scopes and credentials: who may do what, over which areas.
//!
//! This crate does no I/O. It owns
//! - the [`Role`]s and the [`Action`]s each role may take ([`Role::permits`]),
//! - the [`Principal`] an authenticated request acts as, and the [`Scope`]
//!   of data it may see, which storage queries are narrowed to,
//! - password hashing with Argon2id ([`password`]), random session and API
//!   token secrets stored only as SHA-256 digests ([`secret`]), TOTP second
//!   factors ([`totp`]) and the login throttling policy ([`throttle`]).
//!
//! The server authenticates a request, builds its [`Principal`] from the
//! stored account, checks [`Principal::require`] before it acts and passes
//! [`Principal::scope`] to every query.

mod action;
pub mod password;
mod principal;
mod role;
pub mod secret;
pub mod throttle;
pub mod totp;
mod username;

pub use action::Action;
pub use principal::{AuthMethod, Forbidden, Principal, Scope};
pub use role::{Role, UnknownRole};
pub use username::normalize_username;
