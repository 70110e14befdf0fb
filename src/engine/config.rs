//! Settings from the environment, read once, on first use.
//!
//! Every variable is optional; set but empty is the same as unset. A value
//! kaio cannot use is reported once, on stderr, naming the variable, the
//! value, what is accepted and what kaio does instead.
//! The accepted values are documented in `kaio(7)` and the README.

use core::sync::atomic::{AtomicBool, Ordering};

use super::fork_lazy::ForkLazy;

pub struct Config {
    /// `KAIO_MAX_EVENTS`: events asked of `io_setup` (default 256; the
    /// system-wide `aio-max-nr` is shared by every process).
    pub max_events: u32,
    /// `KAIO_THREADS`: most threads in the pool that does blocking I/O the
    /// kernel would not do asynchronously (default 20, or 2 × CPUs if more).
    pub threads: u32,
    /// `KAIO_SHOW_STATS`: print the counters to stderr at exit.
    pub show_stats: bool,
    /// `KAIO_VERBOSE`: say why requests leave the fast path.
    pub verbose: bool,
    /// `KAIO_DISABLE`: forward every call to glibc.
    pub disable: bool,
}

/// A number's accepted range.
pub const MAX_EVENTS_RANGE: (u32, u32) = (1, 65536);
pub const THREADS_RANGE: (u32, u32) = (1, 1024);
/// The spellings of a boolean, as the messages and the documentation list them.
pub const BOOLEANS: &str = "1/0, yes/no, true/false, on/off";

/// Fork-safe (a `OnceLock` being initialised by another thread at fork time
/// would block the child forever); two racing first calls both read the
/// environment and one result is kept.
static CONFIG: ForkLazy<Config> = ForkLazy::new();
static STATS_AT_EXIT: AtomicBool = AtomicBool::new(false);

/// What reading one variable gave: the value to use and, if the variable
/// held something unusable, the message saying so.
#[derive(Debug, PartialEq)]
pub struct Read<T> {
    pub value: T,
    pub message: Option<String>,
}

/// A boolean: 1/0, yes/no, true/false, on/off, in any case; unset or empty
/// gives `default`.
pub fn parse_bool(name: &str, raw: Option<&str>, default: bool, effect_off: &str) -> Read<bool> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Read {
            value: default,
            message: None,
        };
    };
    let v = raw.trim().to_ascii_lowercase();
    let value = match v.as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    };
    match value {
        Some(value) => Read {
            value,
            message: None,
        },
        None => Read {
            value: default,
            message: Some(format!(
                "kaio: {name}={raw} is not a boolean (accepted: {BOOLEANS}): using {}, {effect_off}\n",
                if default { "1" } else { "0" }
            )),
        },
    }
}

/// A number in `range` (decimal, surrounding blanks allowed); unset or
/// empty gives `default`, something else the default, a number out of the
/// range the nearest bound.
pub fn parse_number(
    name: &str,
    raw: Option<&str>,
    range: (u32, u32),
    default: u32,
    default_why: &str,
) -> Read<u32> {
    let (min, max) = range;
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Read {
            value: default,
            message: None,
        };
    };
    let t = raw.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Read {
            value: default,
            message: Some(format!(
                "kaio: {name}={raw} is not a number (accepted: {min}..{max}): using the default, {default}{default_why}\n"
            )),
        };
    }
    // Beyond u64 is beyond the range too.
    let n = digits.parse::<u64>().unwrap_or(u64::MAX);
    let used = if neg || n < min as u64 {
        min
    } else if n > max as u64 {
        max
    } else {
        return Read {
            value: n as u32,
            message: None,
        };
    };
    Read {
        value: used,
        message: Some(format!(
            "kaio: {name}={raw} is out of range (accepted: {min}..{max}): using {used}\n"
        )),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

fn say<T>(r: Read<T>) -> T {
    if let Some(m) = &r.message {
        super::warn(m);
    }
    r.value
}

fn cpus() -> u32 {
    std::thread::available_parallelism().map_or(2, |n| n.get() as u32)
}

fn read_env() -> Config {
    // glibc's default pool (20), or two per CPU on a larger machine.
    let dflt_threads = (2 * cpus()).max(20).clamp(THREADS_RANGE.0, THREADS_RANGE.1);
    let max_events = parse_number(
        "KAIO_MAX_EVENTS",
        env("KAIO_MAX_EVENTS").as_deref(),
        MAX_EVENTS_RANGE,
        256,
        "",
    );
    let threads = parse_number(
        "KAIO_THREADS",
        env("KAIO_THREADS").as_deref(),
        THREADS_RANGE,
        dflt_threads,
        " (20, or 2 x CPUs if more)",
    );
    let show = parse_bool(
        "KAIO_SHOW_STATS",
        env("KAIO_SHOW_STATS").as_deref(),
        false,
        "no statistics at exit",
    );
    let verbose = parse_bool(
        "KAIO_VERBOSE",
        env("KAIO_VERBOSE").as_deref(),
        false,
        "no explanations",
    );
    let disable = parse_bool(
        "KAIO_DISABLE",
        env("KAIO_DISABLE").as_deref(),
        false,
        "kaio stays active",
    );
    Config {
        max_events: say(max_events),
        threads: say(threads),
        show_stats: say(show),
        verbose: say(verbose),
        disable: say(disable),
    }
}

pub fn get() -> &'static Config {
    CONFIG.get_or_init(|| {
        // Statistics file (KAIO_STATS_DIR): normally attached when the
        // library was loaded; this covers a static link without that hook.
        super::stats::attach();
        let c = read_env();
        if c.disable {
            super::stats::STATS.set_flag(super::stats::FLAG_DISABLED);
        }
        if c.show_stats && !STATS_AT_EXIT.swap(true, Ordering::AcqRel) {
            super::stats::print_at_exit();
        }
        c
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(raw: Option<&str>) -> Read<bool> {
        parse_bool("KAIO_VERBOSE", raw, false, "off")
    }

    #[test]
    fn booleans() {
        for s in ["1", "yes", "YES", "true", "True", "on", " on "] {
            assert_eq!(
                b(Some(s)),
                Read {
                    value: true,
                    message: None
                },
                "{s}"
            );
        }
        for s in ["0", "no", "false", "OFF"] {
            assert_eq!(
                b(Some(s)),
                Read {
                    value: false,
                    message: None
                },
                "{s}"
            );
        }
        for s in [None, Some(""), Some("  ")] {
            assert_eq!(
                b(s),
                Read {
                    value: false,
                    message: None
                }
            );
        }
        let r = b(Some("maybe"));
        assert!(!r.value);
        assert_eq!(
            r.message.as_deref(),
            Some(
                "kaio: KAIO_VERBOSE=maybe is not a boolean (accepted: 1/0, yes/no, true/false, on/off): using 0, off\n"
            )
        );
        let r = parse_bool("KAIO_DISABLE", Some("2"), true, "on");
        assert!(r.value);
        assert!(r.message.is_some_and(|m| m.contains("using 1, on")));
    }

    fn n(raw: &str) -> Read<u32> {
        parse_number("KAIO_THREADS", Some(raw), (1, 1024), 8, " (why)")
    }

    #[test]
    fn numbers() {
        assert_eq!(
            n("5"),
            Read {
                value: 5,
                message: None
            }
        );
        assert_eq!(
            n(" 1024 "),
            Read {
                value: 1024,
                message: None
            }
        );
        assert_eq!(n("+3").value, 3);
        assert_eq!(
            parse_number("KAIO_THREADS", None, (1, 9), 4, ""),
            Read {
                value: 4,
                message: None
            }
        );
        assert_eq!(
            parse_number("KAIO_THREADS", Some(""), (1, 9), 4, ""),
            Read {
                value: 4,
                message: None
            }
        );
        let r = n("banana");
        assert_eq!(r.value, 8);
        assert_eq!(
            r.message.as_deref(),
            Some(
                "kaio: KAIO_THREADS=banana is not a number (accepted: 1..1024): using the default, 8 (why)\n"
            )
        );
        for (raw, used) in [
            ("0", 1),
            ("-5", 1),
            ("1025", 1024),
            ("99999999999999999999999", 1024),
        ] {
            let r = n(raw);
            assert_eq!(r.value, used, "{raw}");
            assert_eq!(
                r.message,
                Some(format!(
                    "kaio: KAIO_THREADS={raw} is out of range (accepted: 1..1024): using {used}\n"
                ))
            );
        }
        for raw in ["0x10", "1e3", "-", "12a", "1 2"] {
            assert_eq!(n(raw).value, 8, "{raw}");
        }
    }
}
