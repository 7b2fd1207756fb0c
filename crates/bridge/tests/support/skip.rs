//! How a test says it skipped its Postgres part: on stderr, and as a line in the file that
//! `MT5B_SKIPPED_LOG` names, so `./scripts/test` can end by counting the skips and saying how to
//! run them ("passed" never hides a skip).

use std::io::Write as _;

/// Notes that the running test skipped its Postgres part because `TEST_DATABASE_URL` is unset.
pub fn postgres_skipped() {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    eprintln!("{test}: TEST_DATABASE_URL is not set: the Postgres part is skipped");
    let Ok(path) = std::env::var("MT5B_SKIPPED_LOG") else {
        return;
    };
    // One short line per append: concurrent tests do not interleave within it.
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{test}");
    }
}
