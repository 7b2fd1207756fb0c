//! How the pool is set up ([`Policy`], [`PoolOptions`]) and what it counts ([`PoolStats`]): what
//! every other part of the pool reads, so it sits below them all.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// `Pool` that keeps the most asked-for accounts on their terminals while logins leave
    /// terminals spare, and switches the least asked-for idle terminal.
    Adaptive,
    /// Affinity, LRU switching, per-account batching, fairness.
    Pool,
    /// One terminal, one global lock, log in for every request.
    Naive,
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "adaptive" => Ok(Policy::Adaptive),
            "pool" => Ok(Policy::Pool),
            "naive" => Ok(Policy::Naive),
            other => Err(format!(
                "POOL_POLICY must be `adaptive`, `pool` or `naive` (got {other:?})"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub policy: Policy,
    /// Most requests waiting at once; more are refused with 503.
    pub queue_limit: usize,
    /// Most requests of one user waiting at once; more are refused with 429 (`queue_per_user`),
    /// so one user flooding the queue does not make everyone else's requests answer 503.
    pub queue_limit_per_user: usize,
    /// Deadline of one operation, waiting included (504 after it).
    pub timeout: Duration,
    /// Operations a terminal serves for one account in a row while other accounts wait.
    pub max_batch: u32,
    /// Time a terminal stays on one account while other accounts wait.
    pub max_turn: Duration,
    /// How long after its last use a terminal stays idle on a hot account while other accounts
    /// wait (bounded by the turn); zero turns residency off.
    pub residency: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            policy: Policy::Adaptive,
            queue_limit: 1024,
            queue_limit_per_user: 64,
            timeout: Duration::from_secs(30),
            max_batch: 32,
            max_turn: Duration::from_millis(500),
            residency: Duration::from_millis(500),
        }
    }
}

/// Counters the pool keeps (read by tests, benchmarks and metrics).
#[derive(Debug, Default)]
pub struct PoolStats {
    pub logins: AtomicU64,
    pub failed_logins: AtomicU64,
    pub guard_mismatches: AtomicU64,
    pub leases: AtomicU64,
    pub queue_rejections: AtomicU64,
    pub timeouts: AtomicU64,
    /// Total time requests spent waiting for a lease, in microseconds.
    pub wait_us: AtomicU64,
    /// Times residency kept an idle terminal from an account that waited for one.
    pub residency_holds: AtomicU64,
    /// Requests served by a terminal while residency held it for their account.
    pub residency_hits: AtomicU64,
    /// Times an idle terminal was kept on a hot account while another account waited for one
    /// (`adaptive`).
    pub kept_holds: AtomicU64,
}
