//! Work that holds a core for long (a wide slot search, a report, an export, password
//! hashing) runs off the async request threads, at most two pieces at once: a request
//! that would take tens or hundreds of milliseconds of computing must not stop `/health`
//! or the next booking from being answered. Further pieces wait their turn without holding
//! a thread.

use std::future::Future;

use tokio::sync::Semaphore;

/// Pieces of heavy work at once: the reference machine's cores. More would only make each
/// slower; fewer would leave a core idle.
pub const AT_ONCE: usize = 2;

static HEAVY: Semaphore = Semaphore::const_new(AT_ONCE);

/// Runs `work` on a blocking thread (driving its I/O through the runtime), once one of
/// [`AT_ONCE`] turns is free.
///
/// # Panics
/// Re-raises a panic of `work` on the caller's task (which the server turns into a 500).
pub async fn run<F, T>(work: F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    // The semaphore is never closed, so acquiring cannot fail; if it could, running
    // without a turn is the safe side.
    let _turn = HEAVY.acquire().await.ok();
    let handle = tokio::runtime::Handle::current();
    rejoin(tokio::task::spawn_blocking(move || handle.block_on(work)).await)
}

fn rejoin<T>(joined: Result<T, tokio::task::JoinError>) -> T {
    match joined {
        Ok(out) => out,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // A blocking task is only cancelled when the runtime shuts down.
            Err(_) => std::panic::resume_unwind(Box::new("heavy work was cancelled")),
        },
    }
}

/// Runs a synchronous `work` (hashing a password, rendering a page) on a blocking thread,
/// once one of [`AT_ONCE`] turns is free.
///
/// # Panics
/// Re-raises a panic of `work` on the caller's task.
pub async fn run_sync<F, T>(work: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let _turn = HEAVY.acquire().await.ok();
    rejoin(tokio::task::spawn_blocking(work).await)
}

/// Password hashes at once: argon2id holds 7 MiB for each, and the allocator keeps what a
/// thread used, so hashing on the blocking pool's many threads grew the server past 1.4 GB
/// under 16 concurrent sign-ins. A turn of their own keeps sign-ins from waiting behind
/// reports, and memory to two hashes' worth.
static HASHING: Semaphore = Semaphore::const_new(AT_ONCE);

/// Runs a password hash or verification on a blocking thread, at most [`AT_ONCE`] at once.
///
/// # Panics
/// Re-raises a panic of `work` on the caller's task.
pub async fn run_hashing<F, T>(work: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let _turn = HASHING.acquire().await.ok();
    rejoin(tokio::task::spawn_blocking(work).await)
}
