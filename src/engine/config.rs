//! Settings from the environment, read once, on first use.

use core::sync::atomic::{AtomicBool, Ordering};

use super::fork_lazy::ForkLazy;

pub struct Config {
    /// `KAIO_MAX_EVENTS`: events asked of `io_setup` (default 256; the
    /// system-wide `aio-max-nr` is shared by every process).
    pub max_events: u32,
    /// `KAIO_THREADS`: most threads in the pool that does blocking I/O the
    /// kernel would not do asynchronously (default 2 × CPUs).
    pub threads: u32,
    /// `KAIO_SHOW_STATS=1`: print the counters to stderr at exit (`exit` or `_exit`).
    pub show_stats: bool,
    /// `KAIO_VERBOSE=1`: say why requests leave the fast path.
    pub verbose: bool,
    /// `KAIO_DISABLE=1`: forward every call to glibc.
    pub disable: bool,
}

/// Fork-safe (a `OnceLock` being initialised by another thread at fork time
/// would block the child forever); two racing first calls both read the
/// environment and one result is kept.
static CONFIG: ForkLazy<Config> = ForkLazy::new();
static STATS_AT_EXIT: AtomicBool = AtomicBool::new(false);

fn env_u32(name: &str, min: u32, max: u32) -> Option<u32> {
    let raw = std::env::var_os(name)?;
    match raw.to_str().and_then(|s| s.trim().parse::<u32>().ok()) {
        Some(v) if (min..=max).contains(&v) => Some(v),
        _ => {
            warn(name);
            None
        }
    }
}

fn warn(name: &str) {
    super::warn(&format!("kaio: ignoring invalid {name}\n"));
}

fn cpus() -> u32 {
    std::thread::available_parallelism().map_or(2, |n| n.get() as u32)
}

pub fn get() -> &'static Config {
    CONFIG.get_or_init(|| {
        // Statistics file (KAIO_STATS_DIR): normally attached when the
        // library was loaded; this covers a static link without that hook.
        super::stats::attach();
        let c = Config {
            max_events: env_u32("KAIO_MAX_EVENTS", 1, 65536).unwrap_or(256),
            threads: env_u32("KAIO_THREADS", 1, 1024).unwrap_or(2 * cpus()),
            show_stats: env_u32("KAIO_SHOW_STATS", 0, 1).unwrap_or(0) == 1,
            verbose: env_u32("KAIO_VERBOSE", 0, 1).unwrap_or(0) == 1,
            disable: env_u32("KAIO_DISABLE", 0, 1).unwrap_or(0) == 1,
        };
        if c.disable {
            super::stats::STATS.set_flag(super::stats::FLAG_DISABLED);
        }
        if c.show_stats && !STATS_AT_EXIT.swap(true, Ordering::AcqRel) {
            super::stats::print_at_exit();
        }
        c
    })
}
