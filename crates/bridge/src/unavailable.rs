//! The one failure of shared state (Redis), in a module of its own: the error types, the limits and
//! the per-user context name it without depending on the Redis code.

/// The shared store could not be reached (or answered nonsense). Carries no secret: the URL with
/// its password is never part of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shared state unavailable: {0}")]
pub struct Unavailable(pub String);
