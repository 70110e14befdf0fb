#!/usr/bin/env python3
"""kaio benchmark harness (python3 standard library only). Run by `make bench`.

fio's posixaio engine on glibc, the same job with LD_PRELOAD=libkaio.so, and fio's
libaio, io_uring and psync engines as references, in interleaved rounds (every round
runs every engine of a scenario back to back, starting with a different engine each
round). Then the C micro-benchmark (c-tests/bench_micro.c) on glibc and on kaio, and
whole-process timings with hyperfine (the blog example, the kernel AIO context exit
cost). Writes results.md, results.json and iops.svg to --out.

CPU per I/O: user+sys of the whole fio process tree from wait4()'s rusage (fio's job
process and every thread in it: glibc's AIO helper threads, io_uring's io-wq, kaio's
threads), minus an idle fio run of the same length (ioengine=null, rate_iops=1), divided
by the I/Os fio completed. fio's own usr_cpu/sys_cpu count only the job thread.
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

GIB = 1 << 30

# name: (label, fio ioengine, LD_PRELOAD kaio)
ENGINES = {
    "glibc": ("glibc posixaio", "posixaio", False),
    "kaio": ("kaio (posixaio + LD_PRELOAD)", "posixaio", True),
    "libaio": ("fio libaio", "libaio", False),
    "io_uring": ("fio io_uring", "io_uring", False),
    "psync": ("fio psync", "psync", False),
}
ENGINE_ORDER = ["glibc", "kaio", "libaio", "io_uring", "psync"]


class Scenario:
    def __init__(self, name, label, fileno, rw, bs, direct, iodepth, psync):
        self.name, self.label, self.file, self.rw = name, label, fileno, rw
        self.bs, self.direct, self.iodepth, self.psync = bs, direct, iodepth, psync

    @property
    def writes(self):
        return "write" in self.rw

    def engines(self):
        return [e for e in ENGINE_ORDER if e != "psync" or self.psync]


# psync ignores iodepth: it runs only where iodepth 1 is meaningful (the qd1 rows) and
# on the page-cache rows (where it is the synchronous reference).
SCENARIOS = [
    Scenario("rr4k_d_qd1", "4 KiB randread, O_DIRECT, iodepth 1", "read", "randread", "4k", 1, 1, True),
    Scenario("rr4k_d_qd8", "4 KiB randread, O_DIRECT, iodepth 8", "read", "randread", "4k", 1, 8, False),
    Scenario("rr4k_d_qd32", "4 KiB randread, O_DIRECT, iodepth 32", "read", "randread", "4k", 1, 32, False),
    Scenario("rr4k_d_qd128", "4 KiB randread, O_DIRECT, iodepth 128", "read", "randread", "4k", 1, 128, False),
    Scenario("rr4k_buf_qd1", "4 KiB randread, page cache, iodepth 1", "read", "randread", "4k", 0, 1, True),
    Scenario("rr4k_buf_qd32", "4 KiB randread, page cache, iodepth 32", "read", "randread", "4k", 0, 32, True),
    Scenario("sw128k_d_qd16", "128 KiB write, O_DIRECT, iodepth 16", "write", "write", "128k", 1, 16, False),
    Scenario("rw4k_d_qd32", "4 KiB randwrite, O_DIRECT, iodepth 32", "write", "randwrite", "4k", 1, 32, False),
]
QUICK_SCENARIOS = ["rr4k_d_qd1", "rr4k_d_qd8", "rr4k_d_qd32", "rr4k_d_qd128", "rr4k_buf_qd1", "sw128k_d_qd16"]

# Issue 4's targets, checked from the same run: (scenario, metric, numerator, denominator, op, bound).
TARGETS = [
    ("rr4k_d_qd1", "iops", "kaio", "libaio", ">=", 0.95),
    ("rr4k_d_qd32", "iops", "kaio", "libaio", ">=", 0.95),
    ("rr4k_d_qd128", "iops", "kaio", "libaio", ">=", 0.95),
    ("rr4k_d_qd1", "cpu_us_per_io", "kaio", "libaio", "<=", 1.15),
    ("rr4k_d_qd32", "cpu_us_per_io", "kaio", "libaio", "<=", 1.15),
    ("rr4k_d_qd128", "cpu_us_per_io", "kaio", "libaio", "<=", 1.15),
    ("sw128k_d_qd16", "iops", "kaio", "libaio", ">=", 0.95),
    ("rr4k_buf_qd1", "iops", "kaio", "psync", ">=", 0.70),
    ("rr4k_buf_qd32", "iops", "kaio", "libaio", ">=", 1.00),
]

# Rough costs for the duration estimate (seconds): fio start/stop around a job, the
# page-cache warm-up read, the micro-benchmark, the hyperfine timings.
FIO_OVERHEAD = 0.3
WARM_COST = 0.25


def log(*a):
    print(*a, flush=True)


def sh(cmd, **kw):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, **kw).stdout.strip()
    except OSError:
        return ""


# ---------------------------------------------------------------- machine, files

def machine_info(args):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.1f GiB" % (kb / 1024 / 1024)
    except (OSError, ValueError, IndexError):
        pass
    fs, dev = mount_of(args.data)
    commit = sh(["git", "-C", args.root, "rev-parse", "--short", "HEAD"]) or "?"
    dirty = sh(["git", "-C", args.root, "status", "--porcelain", "--untracked-files=no"])
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": os.cpu_count(),
        "kernel": os.uname().release,
        "cpu": cpu,
        "memory": mem,
        "glibc": os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else "?",
        "fio": sh(["fio", "--version"]),
        "hyperfine": sh(["hyperfine", "--version"]) if shutil.which("hyperfine") else None,
        "gnuplot": sh(["gnuplot", "--version"]) if shutil.which("gnuplot") else None,
        "data_dir": args.data,
        "data_fs": "%s on %s" % (fs, dev),
        "kaio_commit": commit + ("+dirty" if dirty else ""),
        "kaio_lib": args.lib_source,
        "kaio_lib_snapshot": args.lib,
        "kaio_lib_sha256": args.lib_sha,
    }


def sha16(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()[:16]


def snapshot_lib(src, work):
    """Copy libkaio.so to a private directory (as libkaio.so.1, its soname) and use the copy
    for the whole run: the working tree's build/lib may be rebuilt meanwhile (make test,
    another developer), and one run must measure one library."""
    d = os.path.join(work, "lib")
    os.makedirs(d, exist_ok=True)
    dst = os.path.join(d, "libkaio.so.1")
    shutil.copyfile(os.path.realpath(src), dst + ".tmp")
    os.chmod(dst + ".tmp", 0o755)
    os.rename(dst + ".tmp", dst)
    return dst, sha16(dst)


def mount_of(path):
    """(fs type, device) of the mount holding path."""
    path = os.path.realpath(path)
    best = ("", "?", "?")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                dev, mnt, fs = line.split()[:3]
                mnt = mnt.replace("\\040", " ")
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
                    best = (mnt, fs, dev)
    except OSError:
        pass
    return best[1], best[2]


def ensure_files(data):
    os.makedirs(data, exist_ok=True)
    fs, dev = mount_of(data)
    if fs in ("tmpfs", "ramfs"):
        sys.exit("bench: %s is on %s (memory, no O_DIRECT): set BENCH_DATA to a directory on a real disk" % (data, fs))
    files = {}
    for kind in ("read", "write"):
        path = os.path.join(data, kind + ".dat")
        if not (os.path.exists(path) and os.path.getsize(path) == GIB):
            log("bench: creating %s (1 GiB from /dev/urandom, once)" % path)
            tmp = path + ".tmp"
            subprocess.run(["dd", "if=/dev/urandom", "of=" + tmp, "bs=1M", "count=1024", "conv=fsync",
                            "status=none"], check=True)
            os.rename(tmp, path)
        files[kind] = path
    try:
        fd = os.open(files["read"], os.O_RDONLY | os.O_DIRECT)
        os.close(fd)
    except OSError as e:
        sys.exit("bench: O_DIRECT open of %s fails (%s): set BENCH_DATA to a directory on a real disk" % (files["read"], e))
    return files


def warm(path):
    """Read the whole file so a buffered job finds it in the page cache."""
    buf = bytearray(4 << 20)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass


# ---------------------------------------------------------------- running fio

def proc_tree(pid):
    """pid and its descendants (through /proc/PID/task/TID/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, tid)) as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            pass
    return out


class Sampler(threading.Thread):
    """Samples fio's process tree while it runs: threads per process, libkaio mapped."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.stop = pid, threading.Event()
        self.max_threads, self.max_job_threads, self.kaio_mapped, self.samples = 0, 0, False, 0

    def run(self):
        while not self.stop.wait(0.4):
            total = 0
            for p in proc_tree(self.pid):
                try:
                    n = len(os.listdir("/proc/%d/task" % p))
                except OSError:
                    continue
                total += n
                if p != self.pid:
                    self.max_job_threads = max(self.max_job_threads, n)
                    if not self.kaio_mapped:
                        try:
                            with open("/proc/%d/maps" % p) as f:
                                self.kaio_mapped = "libkaio" in f.read()
                        except OSError:
                            pass
            self.max_threads = max(self.max_threads, total)
            self.samples += 1


def busy_cpu_s():
    """Busy CPU seconds of the whole machine (all CPUs) so far, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal ...: busy = user+nice+system+irq+softirq
        return (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run_measured(cmd, env, stdout_path, stderr_path, cwd=None):
    """Run cmd, wait for it with wait4; returns (exit code, rusage, wall s, sampler).
    sampler.foreign_cpu: the share of the machine's CPU capacity that other processes
    (not this process tree) used meanwhile: a loaded machine makes the numbers noisy."""
    with open(stdout_path, "wb") as so, open(stderr_path, "wb") as se:
        b0 = busy_cpu_s()
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, env=env, stdout=so, stderr=se, cwd=cwd)
        s = Sampler(p.pid)
        s.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        except BaseException:
            p.kill()
            p.wait()
            raise
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        b1 = busy_cpu_s()
        s.stop.set()
        s.join()
        s.foreign_cpu = None
        if b0 is not None and b1 is not None and wall > 0:
            s.foreign_cpu = max(b1 - b0 - ru.ru_utime - ru.ru_stime, 0.0) / (wall * (os.cpu_count() or 1))
    return p.returncode, ru, wall, s


def engine_env(engine, lib, stats=False):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.pop("KAIO_SHOW_STATS", None)
    if ENGINES[engine][2]:
        env["LD_PRELOAD"] = lib
        if stats:
            env["KAIO_SHOW_STATS"] = "1"
    return env


def fio_cmd(sc, engine, path, runtime, out, extra=()):
    qd = 1 if engine == "psync" else sc.iodepth
    return ["fio", "--output-format=json", "--output=" + out, "--name=j", "--filename=" + path,
            "--size=1g", "--invalidate=0", "--time_based", "--runtime=%d" % runtime, "--norandommap",
            "--randrepeat=0", "--group_reporting", "--ioengine=" + ENGINES[engine][1], "--rw=" + sc.rw,
            "--bs=" + sc.bs, "--direct=%d" % sc.direct, "--iodepth=%d" % qd] + list(extra)


def load_fio_json(path):
    with open(path, errors="replace") as f:
        text = f.read()
    i = text.find("{")
    if i < 0:
        raise ValueError("no JSON in fio output")
    return json.loads(text[i:])


def parse_kaio_stats(stderr_text):
    lines = [l for l in stderr_text.splitlines() if l.startswith("kaio:") or l.startswith("kaio ")]
    counts = {}
    for l in lines:
        for k, v in re.findall(r"([A-Za-z_]+)[=: ]+(\d+)", l):
            counts[k] = counts.get(k, 0) + int(v)
    return lines, counts


def run_job(sc, engine, files, runtime, work, lib, tag, verify=False):
    """One fio job. verify: kaio's check run: --thread (fio's forked job processes leave
    with _exit, which skips kaio's exit statistics) and KAIO_SHOW_STATS=1."""
    path = files[sc.file]
    if not sc.direct:
        warm(path)
    out, err = os.path.join(work, tag + ".json"), os.path.join(work, tag + ".err")
    cmd = fio_cmd(sc, engine, path, runtime, out, ["--thread"] if verify else [])
    rc, ru, wall, smp = run_measured(cmd, engine_env(engine, lib, stats=verify), os.devnull, err)
    with open(err, errors="replace") as f:
        stderr_text = f.read()
    rec = {"scenario": sc.name, "engine": engine, "rc": rc, "wall_s": round(wall, 3),
           "cpu_s": ru.ru_utime + ru.ru_stime, "usr_s": ru.ru_utime, "sys_s": ru.ru_stime,
           "max_threads_tree": smp.max_threads, "max_threads_job": smp.max_job_threads,
           "libkaio_mapped": smp.kaio_mapped, "foreign_cpu": smp.foreign_cpu, "nvcsw": ru.ru_nvcsw, "nivcsw": ru.ru_nivcsw,
           "command": " ".join(shlex.quote(c) for c in cmd), "error": None}
    if ENGINES[engine][2]:
        rec["command"] = "LD_PRELOAD=%s %s%s" % (lib, "KAIO_SHOW_STATS=1 " if verify else "", rec["command"])
    fio_err = [l for l in stderr_text.splitlines() if l.strip() and not l.startswith("kaio")]
    if fio_err:
        rec["stderr"] = fio_err[:20]
    stat_lines, counts = parse_kaio_stats(stderr_text)
    rec["kaio_stats"] = stat_lines
    rec["kaio_counts"] = counts
    try:
        d = load_fio_json(out)
        j = d["jobs"][0]
        sec = j["write" if sc.writes else "read"]
        rec.update({
            "iops": sec["iops"],
            "ios": j["read"]["total_ios"] + j["write"]["total_ios"],
            "clat_p50_us": sec["clat_ns"].get("percentile", {}).get("50.000000", 0) / 1000.0,
            "clat_p99_us": sec["clat_ns"].get("percentile", {}).get("99.000000", 0) / 1000.0,
            "clat_mean_us": sec["clat_ns"].get("mean", 0) / 1000.0,
            "fio_usr_cpu_pct": j.get("usr_cpu"), "fio_sys_cpu_pct": j.get("sys_cpu"),
            "fio_ctx": j.get("ctx"), "fio_job_error": j.get("error", 0),
            "fio_runtime_ms": sec.get("runtime"),
        })
        if j.get("error"):
            rec["error"] = "fio job error %s" % j.get("error")
    except (OSError, ValueError, KeyError, IndexError) as e:
        rec["error"] = "no fio result: %s" % e
    if rc != 0 and not rec["error"]:
        rec["error"] = "fio exited %d" % rc
    if rec["error"] and fio_err:
        rec["error"] += ": " + fio_err[-1][:200]
    return rec


def run_calibration(runtime, work, tag):
    out, err = os.path.join(work, tag + ".json"), os.path.join(work, tag + ".err")
    cmd = ["fio", "--output-format=json", "--output=" + out, "--name=cal", "--ioengine=null",
           "--size=1g", "--rw=randread", "--bs=4k", "--rate_iops=1", "--time_based",
           "--runtime=%d" % runtime]
    rc, ru, wall, smp = run_measured(cmd, engine_env("glibc", None), os.devnull, err)
    return {"rc": rc, "cpu_s": ru.ru_utime + ru.ru_stime, "wall_s": round(wall, 3), "foreign_cpu": smp.foreign_cpu}


# ---------------------------------------------------------------- statistics

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(records, calibrations, scenarios):
    cal = med([c["cpu_s"] for c in calibrations if c["rc"] == 0]) or 0.0
    for r in records:
        if r.get("error") is None and r.get("ios"):
            r["cpu_us_per_io"] = max(r["cpu_s"] - cal, 0.0) * 1e6 / r["ios"]
    summary = {}
    for sc in scenarios:
        rows = {}
        for e in sc.engines():
            rs = [r for r in records if r["scenario"] == sc.name and r["engine"] == e]
            ok = [r for r in rs if r.get("error") is None]
            row = {"runs": len(rs), "ok": len(ok), "errors": [r["error"] for r in rs if r.get("error")]}
            for k in ("iops", "cpu_us_per_io", "clat_p50_us", "clat_p99_us", "max_threads_job"):
                vals = [r[k] for r in ok if r.get(k) is not None]
                row[k] = {"median": med(vals), "min": min(vals) if vals else None,
                          "max": max(vals) if vals else None, "values": vals}
            if e == "kaio":
                row["libkaio_mapped"] = sum(1 for r in rs if r["libkaio_mapped"])
            rows[e] = row
        ratios = {}
        for num, den in (("kaio", "glibc"), ("kaio", "libaio"), ("kaio", "psync"), ("kaio", "io_uring")):
            if den not in rows:
                continue
            for k in ("iops", "cpu_us_per_io"):
                a, b = rows[num][k]["median"], rows[den][k]["median"]
                # Paired per round: each round ran both engines back to back.
                pairs = []
                for rnd in sorted({r["round"] for r in records}):
                    x = [r.get(k) for r in records if r["scenario"] == sc.name and r["engine"] == num and r["round"] == rnd and r.get("error") is None]
                    y = [r.get(k) for r in records if r["scenario"] == sc.name and r["engine"] == den and r["round"] == rnd and r.get("error") is None]
                    if x and y and x[0] is not None and y[0]:
                        pairs.append(x[0] / y[0])
                ratios["%s/%s %s" % (num, den, k)] = {
                    "median_ratio": (a / b) if a is not None and b else None,
                    "per_round": pairs}
        summary[sc.name] = {"label": sc.label, "engines": rows, "ratios": ratios}
    return summary, cal


# ---------------------------------------------------------------- micro, hyperfine

def run_micro(args, quick):
    res = {}
    for kind in ("glibc", "kaio"):
        binp = os.path.join(args.root, "build", "bench", kind, "bench_micro")
        if not os.access(binp, os.X_OK):
            log("bench: %s missing; skipping the micro-benchmark" % binp)
            return None
        cmd = [binp, os.path.join(args.data, "read.dat")] + (["--quick"] if quick else [])
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        if kind == "kaio":  # the snapshot, ahead of the binary's RUNPATH (build/lib)
            env["LD_LIBRARY_PATH"] = os.path.dirname(args.lib)
        log("bench: micro-benchmark on %s: %s" % (kind, " ".join(cmd)))
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        rows = {}
        for line in p.stdout.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("| ") and len(cells) == 5 and cells[0] != "measurement" and not cells[0].startswith("-"):
                rows[cells[0]] = {"unit": cells[1], "median": cells[2], "p99": cells[3], "n": cells[4]}
        res[kind] = {"rc": p.returncode, "stdout": p.stdout, "stderr": p.stderr[-2000:], "rows": rows}
        if p.returncode != 0:
            log("bench: bench_micro (%s) exited %d: %s" % (kind, p.returncode, p.stderr.strip()[-300:]))
    return res


def timed_runs(cmds, cwd, runs, warmup, work, tag):
    """Whole-process wall time: hyperfine -N if installed, else a Python loop."""
    if shutil.which("hyperfine"):
        out = os.path.join(work, tag + ".hyperfine.json")
        cmd = ["hyperfine", "-N", "--style", "basic", "--warmup", str(warmup), "--runs", str(runs),
               "--export-json", out]
        for name, c in cmds:
            cmd += ["-n", name, c]
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        if p.returncode != 0:
            log("bench: hyperfine failed: %s" % p.stderr.strip()[-500:])
            return None
        with open(out) as f:
            d = json.load(f)
        return {"tool": "hyperfine -N --warmup %d --runs %d" % (warmup, runs),
                "results": [{"name": r["command"], "command": c, "mean_ms": r["mean"] * 1e3,
                             "stddev_ms": (r.get("stddev") or 0) * 1e3, "median_ms": r["median"] * 1e3,
                             "min_ms": r["min"] * 1e3, "max_ms": r["max"] * 1e3, "runs": len(r["times"])}
                            for r, (_, c) in zip(d["results"], cmds)]}
    results = []
    for name, c in cmds:
        argv = shlex.split(c)
        times = []
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
        results.append({"name": name, "command": c, "mean_ms": statistics.mean(times) * 1e3,
                        "stddev_ms": statistics.pstdev(times) * 1e3, "median_ms": statistics.median(times) * 1e3,
                        "min_ms": min(times) * 1e3, "max_ms": max(times) * 1e3, "runs": runs})
    return {"tool": "python subprocess loop (hyperfine not installed), warmup %d, runs %d" % (warmup, runs),
            "results": results}


def run_timings(args, quick, work):
    runs = 10 if quick else 30
    tmp = os.path.join(args.root, "build", "tmp")
    g = os.path.join(args.root, "build", "glibc")
    pre = "env LD_PRELOAD=" + shlex.quote(args.lib)
    out = {}
    if os.path.exists(os.path.join(tmp, "test.file")) and os.access(os.path.join(g, "blog_example"), os.X_OK):
        log("bench: blog example timings (hyperfine, warm cache, in build/tmp)")
        out["blog"] = timed_runs([
            ("blog_example glibc", "env " + shlex.quote(os.path.join(g, "blog_example"))),
            ("blog_example kaio", pre + " " + shlex.quote(os.path.join(g, "blog_example"))),
            ("blog_example_direct glibc", "env " + shlex.quote(os.path.join(g, "blog_example_direct"))),
            ("blog_example_direct kaio", pre + " " + shlex.quote(os.path.join(g, "blog_example_direct"))),
        ], tmp, runs, 3, work, "blog")
    else:
        log("bench: build/tmp/test.file or build/glibc/blog_example missing; skipping the blog timings")
    ec = os.path.join(args.root, "build", "bench", "exit_cost")
    if os.access(ec, os.X_OK):
        log("bench: kernel AIO context exit cost (hyperfine -N)")
        out["exit_cost"] = timed_runs([
            ("exit, no AIO context", shlex.quote(ec)),
            ("io_setup, exit with the context alive", shlex.quote(ec) + " setup"),
            ("io_setup, io_destroy, exit", shlex.quote(ec) + " destroy"),
        ], tmp if os.path.isdir(tmp) else None, runs * 2, 3, work, "exit_cost")
    return out


# ---------------------------------------------------------------- output

def fmt_iops(x):
    if x is None:
        return "—"
    if x >= 100000:
        return "%.0fk" % (x / 1000)
    if x >= 1000:
        return "%.1fk" % (x / 1000)
    return "%.0f" % x


def fmt_num(x, nd=1):
    if x is None:
        return "—"
    if x >= 1000:
        return "%.0f" % x
    if x >= 100:
        return "%.0f" % x
    return ("%%.%df" % nd) % x


def cell(row, k, f):
    if row is None:
        return "—"
    m = row[k]
    if m["median"] is None:
        return "**error**" if row["errors"] else "—"
    s = f(m["median"])
    if len(m["values"]) > 1:
        lo, hi = f(m["min"]), f(m["max"])
        s += " (%s–%s)" % (lo, hi)
    if row["errors"]:
        s += " [%d err]" % len(row["errors"])
    return s


def ratio_cell(summ, num, den, k):
    r = summ["ratios"].get("%s/%s %s" % (num, den, k))
    if not r or r["median_ratio"] is None:
        return "—"
    s = "%.2f" % r["median_ratio"]
    if len(r["per_round"]) > 1:
        s += " (%.2f–%.2f)" % (min(r["per_round"]), max(r["per_round"]))
    return s


LOAD_WARN = 0.10


def verify_text(v):
    if not v:
        return "not run"
    if v.get("error"):
        return "**fio failed**: %s" % v["error"][:120]
    c = v.get("kaio_counts") or {}
    if not v.get("kaio_stats"):
        return "no `kaio:` lines printed"
    nz = ", ".join("%s %d" % (k, n) for k, n in c.items() if n and k != "pid")
    ok = c.get("submitted", 0) > 0
    return ("" if ok else "**nothing submitted**: ") + (nz or "all zero")


def load_text(res):
    fl = [r["foreign_cpu"] for r in res["runs"] if r.get("foreign_cpu") is not None]
    if not fl:
        return "?"
    return ("CPU used by other processes during the fio jobs (share of all %s CPUs, from /proc/stat): "
            "median %.1f%%, max %.1f%%" % (res["machine"]["nproc"], 100 * statistics.median(fl), 100 * max(fl)))


def write_markdown(path, res):
    m, cfg, summ = res["machine"], res["config"], res["summary"]
    L = []
    L.append("# kaio benchmark results%s\n" % (" (QUICK smoke run)" if cfg["quick"] else ""))
    L.append("Generated by `make bench%s` (bench/run.py); method and meaning of every number: "
             "[bench/README.md](README.md). Raw data: `results.json`.\n" % (" QUICK=1" if cfg["quick"] else ""))
    L.append("| machine | |\n|---|---|")
    for k, v in (("date", m["date"]), ("CPU", "%s, %s cores (nproc)" % (m["cpu"], m["nproc"])),
                 ("memory", m["memory"]), ("kernel", m["kernel"]), ("glibc", m["glibc"]), ("fio", m["fio"]),
                 ("data files", "2 × 1 GiB (urandom) in `%s` (%s)" % (m["data_dir"], m["data_fs"])),
                 ("kaio", "commit %s, libkaio.so sha256 %s… (copied at the start; every kaio run used the copy)"
                  % (m["kaio_commit"], m["kaio_lib_sha256"])),
                 ("rounds", "%d interleaved rounds × %d s fio jobs (engine order rotated per round and scenario)"
                  % (cfg["rounds"], cfg["runtime"])),
                 ("idle calibration", "fio ioengine=null rate_iops=1, %d s: median %.3f s CPU (subtracted)"
                  % (cfg["runtime"], res["calibration_cpu_s"])),
                 ("duration", "%.0f s for the whole `make bench` run.py" % res["duration_s"]),
                 ("other load", load_text(res))):
        L.append("| %s | %s |" % (k, v))
    L.append("")
    end_sha = res.get("kaio_lib_sha256_at_end")
    if end_sha and end_sha != m["kaio_lib_sha256"]:
        L.append("Note: `%s` was rebuilt during the run (now sha256 %s…); these results are for the copy "
                 "taken at the start.\n" % (m["kaio_lib"], end_sha))
    fl = [r["foreign_cpu"] for r in res["runs"] if r.get("foreign_cpu") is not None]
    if fl and max(fl) > LOAD_WARN:
        L.append("**Warning:** other processes used more than %.0f%% of the machine's CPU during %d of %d fio "
                 "jobs (max %.0f%%): those numbers are noisy; rerun on a quiet machine.\n"
                 % (100 * LOAD_WARN, sum(1 for x in fl if x > LOAD_WARN), len(fl), 100 * max(fl)))
    L.append("Cells: median over the rounds, (min–max) in brackets. Ratios: ratio of the medians, "
             "(min–max) of the per-round ratios (each round ran the engines back to back).\n")

    eng = [e for e in ENGINE_ORDER]
    heads = [ENGINES[e][0] for e in eng]
    L.append("## IOPS\n")
    L.append("| scenario | " + " | ".join(heads) + " | kaio/glibc | kaio/libaio | kaio/psync |")
    L.append("|---|" + "---:|" * (len(eng) + 3))
    for name, s in summ.items():
        L.append("| %s | " % s["label"] + " | ".join(cell(s["engines"].get(e), "iops", fmt_iops) for e in eng)
                 + " | %s | %s | %s |" % (ratio_cell(s, "kaio", "glibc", "iops"), ratio_cell(s, "kaio", "libaio", "iops"),
                                          ratio_cell(s, "kaio", "psync", "iops")))
    L.append("")
    L.append("## CPU µs per I/O (whole fio process tree, usr+sys, idle-calibrated)\n")
    L.append("| scenario | " + " | ".join(heads) + " | kaio/glibc | kaio/libaio |")
    L.append("|---|" + "---:|" * (len(eng) + 2))
    for name, s in summ.items():
        L.append("| %s | " % s["label"] + " | ".join(cell(s["engines"].get(e), "cpu_us_per_io", fmt_num) for e in eng)
                 + " | %s | %s |" % (ratio_cell(s, "kaio", "glibc", "cpu_us_per_io"),
                                     ratio_cell(s, "kaio", "libaio", "cpu_us_per_io")))
    L.append("")
    L.append("## Completion latency (fio clat), µs: p50 / p99 (medians over the rounds)\n")
    L.append("| scenario | " + " | ".join(heads) + " |")
    L.append("|---|" + "---:|" * len(eng))
    for name, s in summ.items():
        cs = []
        for e in eng:
            r = s["engines"].get(e)
            if r is None or r["clat_p50_us"]["median"] is None:
                cs.append("—")
            else:
                cs.append("%s / %s" % (fmt_num(r["clat_p50_us"]["median"]), fmt_num(r["clat_p99_us"]["median"])))
        L.append("| %s | " % s["label"] + " | ".join(cs) + " |")
    L.append("")

    if res.get("targets"):
        L.append("## Issue 4 targets (same run)\n")
        L.append("| scenario | target | measured | met |\n|---|---|---:|---|")
        for t in res["targets"]:
            L.append("| %s | %s | %s | %s |" % (t["label"], t["target"], t["measured"], t["met"]))
        L.append("")

    L.append("## Did kaio serve the kaio runs?\n")
    L.append("*mapped*: measured kaio runs whose fio job process had libkaio.so mapped (sampled from /proc while "
             "it ran). *check run*: one extra %d s kaio run per scenario with `--thread` and `KAIO_SHOW_STATS=1` "
             "(fio's forked job processes leave with `_exit`, which skips kaio's exit statistics): its non-zero "
             "`kaio:` counters. *threads*: the most threads seen in fio's job process during the measured runs. "
             "*errors*: failed fio runs (left out of the medians).\n" % cfg.get("verify_runtime", 1))
    L.append("| scenario | mapped | check run: kaio counters | threads glibc / kaio / libaio / io_uring | errors |")
    L.append("|---|---:|---|---|---|")
    ver = res.get("verification") or {}
    for name, s in summ.items():
        k = s["engines"]["kaio"]
        th = " / ".join("%s" % (fmt_num(s["engines"][e]["max_threads_job"]["max"], 0)
                                if s["engines"][e]["max_threads_job"]["max"] is not None else "?")
                        for e in ("glibc", "kaio", "libaio", "io_uring"))
        errs = sorted({"%s: %s" % (e, x) for e in eng if e in s["engines"] for x in s["engines"][e]["errors"]})
        v = ver.get(name)
        L.append("| %s | %d/%d | %s | %s | %s |" % (s["label"], k["libkaio_mapped"], k["runs"], verify_text(v),
                                                    th, "; ".join(errs)[:300] or "none"))
    L.append("")
    L.append("## IOPS vs iodepth (4 KiB randread, O_DIRECT)\n")
    L.append("![IOPS vs iodepth, one line per engine](iops.svg)\n")
    L.append("Drawn by %s.\n" % (res.get("plot_tool") or "?"))

    t = res.get("timings") or {}
    if t:
        L.append("## Whole-process wall time (start to exit)\n")
        L.append("`build/glibc/blog_example` (20 MiB buffered `aio_read`, busy-wait on `aio_error`) and "
                 "`blog_example_direct` (O_DIRECT), run in `build/tmp` on its 20 MiB `test.file` (warm cache "
                 "after the warm-up runs), on glibc and with `LD_PRELOAD` kaio (both through `env`). Then the "
                 "kernel AIO context exit cost: `build/bench/exit_cost` (bench/exit_cost.c) with no context, "
                 "with an `io_setup(128)` context alive at exit, and with `io_setup` + `io_destroy`.\n")
        for key in ("blog", "exit_cost"):
            if not t.get(key):
                continue
            L.append("%s:\n" % t[key]["tool"])
            L.append("| command | mean ms | ± σ | median | min | max | runs |\n|---|---:|---:|---:|---:|---:|---:|")
            for r in t[key]["results"]:
                L.append("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %d |" % (
                    r["name"], r["mean_ms"], r["stddev_ms"], r["median_ms"], r["min_ms"], r["max_ms"], r["runs"]))
            L.append("")
        rs = {r["name"]: r for k in t if t[k] for r in t[k]["results"]}
        notes = []
        if "blog_example glibc" in rs and "blog_example kaio" in rs:
            notes.append("blog_example kaio/glibc (median): %.2f" % (rs["blog_example kaio"]["median_ms"] / rs["blog_example glibc"]["median_ms"]))
        if "blog_example_direct glibc" in rs and "blog_example_direct kaio" in rs:
            notes.append("blog_example_direct kaio/glibc (median): %.2f" % (rs["blog_example_direct kaio"]["median_ms"] / rs["blog_example_direct glibc"]["median_ms"]))
        if "exit, no AIO context" in rs and "io_setup, exit with the context alive" in rs:
            notes.append("exit cost of a live AIO context (median difference): %.1f ms" % (
                rs["io_setup, exit with the context alive"]["median_ms"] - rs["exit, no AIO context"]["median_ms"]))
        if notes:
            L.append("; ".join(notes) + ".\n")

    mic = res.get("micro")
    if mic and "glibc" in mic and "kaio" in mic:
        L.append("## Micro-benchmark (c-tests/bench_micro.c, no fio)\n")
        L.append("`build/bench/glibc/bench_micro` (glibc) and `build/bench/kaio/bench_micro` (linked with -lkaio), "
                 "on the 1 GiB read file, 4 KiB requests at random offsets%s. Submit: time inside `aio_read`; "
                 "to return: from before `aio_read` to `aio_suspend`'s return. CPU per request: getrusage(RUSAGE_SELF), "
                 "every thread.\n" % (" (QUICK: fewer samples, 0.5 s per depth)" if cfg["quick"] else ""))
        L.append("| measurement | unit | glibc median | glibc p99 | kaio median | kaio p99 | kaio/glibc (median) |")
        L.append("|---|---|---:|---:|---:|---:|---:|")
        g, k = mic["glibc"]["rows"], mic["kaio"]["rows"]
        for name in g:
            a, b = g[name], k.get(name, {})
            try:
                ratio = "%.2f" % (float(b["median"]) / float(a["median"]))
            except (KeyError, ValueError, ZeroDivisionError):
                ratio = "—"
            L.append("| %s | %s | %s | %s | %s | %s | %s |" % (name, a["unit"], a["median"], a["p99"],
                                                              b.get("median", "—"), b.get("p99", "—"), ratio))
        for kind in ("glibc", "kaio"):
            if mic[kind]["rc"] != 0:
                L.append("\n%s run exited %d: `%s`" % (kind, mic[kind]["rc"], mic[kind]["stderr"].strip()[-200:]))
        kc = [l for k in ("glibc", "kaio") for l in mic[k]["stdout"].splitlines()
              if l.startswith("kaio counters") or l.startswith("backend:")]
        if kc:
            L.append("\n" + "; ".join(kc) + ".")
        L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def plot_series(summ):
    """{engine: [(qd, median, min, max)]} for the O_DIRECT randread rows."""
    series = {}
    for name, s in summ.items():
        mt = re.match(r"rr4k_d_qd(\d+)$", name)
        if not mt:
            continue
        qd = int(mt.group(1))
        for e, row in s["engines"].items():
            if row["iops"]["median"] is not None:
                series.setdefault(e, []).append((qd, row["iops"]["median"], row["iops"]["min"], row["iops"]["max"]))
    for v in series.values():
        v.sort()
    return series


COLORS = {"glibc": "#d62728", "kaio": "#1f77b4", "libaio": "#2ca02c", "io_uring": "#9467bd", "psync": "#7f7f7f"}


def plot_gnuplot(series, title, svg, work):
    script = ["set terminal svg size 820,520 dynamic noenhanced font 'Helvetica,13' background rgb 'white'",
              "set output '%s'" % svg.replace("'", ""),
              "set title '%s'" % title, "set xlabel 'iodepth'", "set ylabel 'IOPS (thousands)'",
              "set logscale x 2", "set xtics (1, 8, 32, 128)", "set xrange [0.8:160]", "set yrange [0:*]",
              "set grid", "set key top left box opaque Left reverse", "set bars small"]
    plots = []
    for e in ENGINE_ORDER:
        if e not in series:
            continue
        script.append("$%s << EOD" % e)
        for qd, m, lo, hi in series[e]:
            script.append("%d %.3f %.3f %.3f" % (qd, m / 1000, lo / 1000, hi / 1000))
        script.append("EOD")
        style = "yerrorlines" if len(series[e]) > 1 else "yerrorbars"
        plots.append("$%s using 1:2:3:4 with %s lw 2 pt %d ps %.1f lc rgb '%s' title '%s'" % (
            e, style, 5 if e == "psync" else 7, 1.1 if e == "psync" else 0.8, COLORS[e], ENGINES[e][0] + (" (iodepth 1 only)" if e == "psync" else "")))
    script.append("plot " + ", \\\n     ".join(plots))
    gp = os.path.join(work, "iops.gp")
    with open(gp, "w") as f:
        f.write("\n".join(script) + "\n")
    p = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if p.returncode != 0:
        log("bench: gnuplot failed: %s" % p.stderr.strip()[-300:])
        return False
    return True


def plot_python(series, title, svg):
    W, H, l, r, t, b = 820, 520, 80, 30, 50, 60
    pw, ph = W - l - r, H - t - b
    import math
    xs = [1, 8, 32, 128]
    x0, x1 = math.log2(0.8), math.log2(160)
    ymax = max([hi for v in series.values() for (_, _, _, hi) in v] + [1]) / 1000 * 1.1
    step = 10 ** math.floor(math.log10(ymax / 5 if ymax > 0 else 1))
    for mult in (1, 2, 5, 10):
        if ymax / (step * mult) <= 8:
            step *= mult
            break
    ymax = math.ceil(ymax / step) * step

    def X(q):
        return l + (math.log2(q) - x0) / (x1 - x0) * pw

    def Y(v):
        return t + ph - v / ymax * ph

    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
         'font-family="Helvetica, Arial, sans-serif" font-size="13">' % (W, H, W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="25" text-anchor="middle" font-size="15">%s</text>' % (W / 2, esc(title))]
    y = 0.0
    while y <= ymax + 1e-9:
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (l, Y(y), l + pw, Y(y)))
        o.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>' % (l - 6, Y(y) + 4, round(y, 6)))
        y += step
    for q in xs:
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (X(q), t, X(q), t + ph))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (X(q), t + ph + 18, q))
    o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>' % (l, t, pw, ph))
    o.append('<text x="%.1f" y="%d" text-anchor="middle">iodepth</text>' % (l + pw / 2, H - 15))
    o.append('<text x="20" y="%.1f" text-anchor="middle" transform="rotate(-90 20 %.1f)">IOPS (thousands)</text>'
             % (t + ph / 2, t + ph / 2))
    ly = t + 20
    for e in ENGINE_ORDER:
        if e not in series:
            continue
        c = COLORS[e]
        pts = [(X(q), Y(m / 1000), Y(lo / 1000), Y(hi / 1000)) for q, m, lo, hi in series[e]]
        if len(pts) > 1:
            o.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (
                c, " ".join("%.1f,%.1f" % (px, py) for px, py, _, _ in pts)))
        for px, py, plo, phi in pts:
            o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>' % (px, plo, px, phi, c))
            if e == "psync":
                o.append('<rect x="%.1f" y="%.1f" width="9" height="9" fill="%s"/>' % (px - 4.5, py - 4.5, c))
            else:
                o.append('<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>' % (px, py, c))
        o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>' % (l + 12, ly - 4, l + 40, ly - 4, c))
        o.append('<text x="%d" y="%d">%s</text>' % (l + 46, ly, esc(ENGINES[e][0] + (" (iodepth 1 only)" if e == "psync" else ""))))
        ly += 18
    o.append("</svg>")
    with open(svg, "w") as f:
        f.write("\n".join(o) + "\n")
    return True


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def make_plot(summ, cfg, svg, work):
    series = plot_series(summ)
    title = "4 KiB random reads, O_DIRECT, 1 GiB file: median of %d rounds × %d s (bars: min–max)" % (
        cfg["rounds"], cfg["runtime"])
    tool = None
    if shutil.which("gnuplot") and plot_gnuplot(series, title, svg, work):
        tool = "gnuplot (" + sh(["gnuplot", "--version"]) + ")"
    else:
        plot_python(series, title, svg)
        tool = "bench/run.py's own SVG writer (gnuplot not installed)"
    ET.parse(svg)  # must be valid XML
    return tool


def check_targets(summ, timings):
    out = []
    for sc, k, num, den, op, bound in TARGETS:
        if sc not in summ:
            continue
        r = summ[sc]["ratios"].get("%s/%s %s" % (num, den, k))
        v = r["median_ratio"] if r else None
        met = "—" if v is None else ("yes" if (v >= bound if op == ">=" else v <= bound) else "**no**")
        what = "IOPS" if k == "iops" else "CPU/IO"
        out.append({"scenario": sc, "label": summ[sc]["label"], "target": "%s %s/%s %s %.2f" % (what, num, den, op.replace(">=", "≥").replace("<=", "≤"), bound),
                    "measured": "—" if v is None else "%.2f" % v, "met": met})
    rs = {r["name"]: r for key in (timings or {}) if timings[key] for r in timings[key]["results"]}
    if "blog_example glibc" in rs and "blog_example kaio" in rs:
        v = rs["blog_example kaio"]["median_ms"] / rs["blog_example glibc"]["median_ms"]
        out.append({"scenario": "blog", "label": "blog example, whole process (median)", "target": "time kaio/glibc ≤ 1.00",
                    "measured": "%.2f" % v, "met": "yes" if v <= 1.0 else "**no**"})
    return out


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 rounds of 1 s jobs, fewer scenarios")
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--lib", help="libkaio.so to preload (absolute)")
    ap.add_argument("--data", help="directory for the two 1 GiB data files (a real disk)")
    ap.add_argument("--out", help="directory for results.md, results.json, iops.svg")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--runtime", type=int, help="seconds per fio job")
    ap.add_argument("--scenarios", help="comma-separated subset of: " + ",".join(s.name for s in SCENARIOS))
    ap.add_argument("--no-micro", action="store_true")
    ap.add_argument("--no-timings", action="store_true")
    args = ap.parse_args()
    args.root = os.path.abspath(args.root)
    args.lib = os.path.abspath(args.lib or os.path.join(args.root, "build", "lib", "libkaio.so"))
    args.data = os.path.abspath(args.data or os.path.join(args.root, "build", "bench-data"))
    args.out = os.path.abspath(args.out or os.path.join(args.root, "build", "bench", "quick") if args.quick
                               else args.out or os.path.join(args.root, "bench"))
    rounds = args.rounds or (2 if args.quick else 3)
    runtime = args.runtime or (1 if args.quick else 4)
    if rounds < 1 or runtime < 1:
        sys.exit("bench: --rounds and --runtime must be >= 1")
    names = args.scenarios.split(",") if args.scenarios else (QUICK_SCENARIOS if args.quick else [s.name for s in SCENARIOS])
    scenarios = [s for s in SCENARIOS if s.name in names]
    if len(scenarios) != len(names):
        sys.exit("bench: unknown scenario in %s" % names)
    if not shutil.which("fio"):
        sys.exit("bench: fio is not installed: apt-get install fio")
    if not os.path.exists(args.lib):
        sys.exit("bench: %s missing: run make lib" % args.lib)
    work = os.path.join(args.root, "build", "bench", "work")
    os.makedirs(work, exist_ok=True)
    args.lib_source = os.path.realpath(args.lib)
    args.lib, args.lib_sha = snapshot_lib(args.lib, work)
    log("bench: measuring %s (sha256 %s…), copied to %s" % (args.lib_source, args.lib_sha, args.lib))
    os.makedirs(args.out, exist_ok=True)

    t_start = time.monotonic()
    files = ensure_files(args.data)
    machine = machine_info(args)
    jobs_per_round = sum(len(s.engines()) for s in scenarios)
    warms = sum(len(s.engines()) for s in scenarios if not s.direct)
    est_fio = rounds * ((jobs_per_round + 1) * (runtime + FIO_OVERHEAD) + warms * WARM_COST) \
        + len(scenarios) * (1 + FIO_OVERHEAD)
    est_rest = (0 if args.no_micro else (8 if args.quick else 30)) + (0 if args.no_timings else (5 if args.quick else 15))
    log("bench: %d scenarios, %d fio jobs per round + 1 idle calibration, %d rounds × %d s jobs%s"
        % (len(scenarios), jobs_per_round, rounds, runtime, " (QUICK)" if args.quick else ""))
    log("bench: expected duration ≈ %.0f s (fio %.0f s, micro-benchmark and hyperfine %.0f s); output in %s"
        % (est_fio + est_rest, est_fio, est_rest, args.out))

    verification = {}
    log("bench: check runs: kaio serves each scenario (fio --thread, KAIO_SHOW_STATS=1, 1 s)")
    for sc in scenarios:
        v = run_job(sc, "kaio", files, 1, work, args.lib, "%s_kaio_check" % sc.name, verify=True)
        verification[sc.name] = {k: v.get(k) for k in ("rc", "error", "kaio_stats", "kaio_counts", "iops", "command",
                                                        "libkaio_mapped", "stderr")}
        log("  check %-14s %s" % (sc.name, verify_text(verification[sc.name]).replace("`", "")))

    records, calibrations = [], []
    total = rounds * jobs_per_round
    n = 0
    for rnd in range(rounds):
        c = run_calibration(runtime, work, "cal_r%d" % rnd)
        calibrations.append(c)
        log("bench: round %d/%d: idle calibration %.3f s CPU in %.2f s" % (rnd + 1, rounds, c["cpu_s"], c["wall_s"]))
        for si, sc in enumerate(scenarios):
            engs = sc.engines()
            k = (rnd + si) % len(engs)
            for e in engs[k:] + engs[:k]:
                n += 1
                rec = run_job(sc, e, files, runtime, work, args.lib, "%s_%s_r%d" % (sc.name, e, rnd))
                rec["round"] = rnd
                records.append(rec)
                cpu_io = (rec["cpu_s"] - c["cpu_s"]) * 1e6 / rec["ios"] if rec.get("ios") else None
                if rec["error"]:
                    log("  [%3d/%d] %-14s %-9s ERROR %s" % (n, total, sc.name, e, rec["error"]))
                else:
                    log("  [%3d/%d] %-14s %-9s %9.0f IOPS  %6.1f µs CPU/IO  p50 %8.1f  p99 %8.1f µs  threads %d  other load %3.0f%%%s"
                        % (n, total, sc.name, e, rec["iops"], cpu_io or 0, rec["clat_p50_us"], rec["clat_p99_us"],
                           rec["max_threads_job"], 100 * (rec["foreign_cpu"] or 0),
                           ("  libkaio %s" % ("mapped" if rec["libkaio_mapped"] else "NOT SEEN"))
                           if e == "kaio" else ""))

    summary, cal = summarize(records, calibrations, scenarios)
    cfg = {"quick": args.quick, "rounds": rounds, "runtime": runtime, "scenarios": [s.name for s in scenarios],
           "verify_runtime": 1}
    res = {"machine": machine, "config": cfg, "calibrations": calibrations, "calibration_cpu_s": cal,
           "summary": summary, "verification": verification, "runs": records}
    res["micro"] = None if args.no_micro else run_micro(args, args.quick)
    res["timings"] = None if args.no_timings else run_timings(args, args.quick, work)
    res["targets"] = check_targets(summary, res["timings"])
    res["plot_tool"] = make_plot(summary, cfg, os.path.join(args.out, "iops.svg"), work)
    res["duration_s"] = time.monotonic() - t_start
    try:
        res["kaio_lib_sha256_at_end"] = sha16(args.lib_source)
    except OSError:
        res["kaio_lib_sha256_at_end"] = None
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    write_markdown(os.path.join(args.out, "results.md"), res)

    log("")
    log("bench: headline (median IOPS; kaio/glibc, kaio/libaio)")
    for name, s in summary.items():
        en = s["engines"]
        log("  %-14s glibc %8s  kaio %8s  libaio %8s  io_uring %8s  psync %8s   %s  %s" % (
            name, fmt_iops(en["glibc"]["iops"]["median"]), fmt_iops(en["kaio"]["iops"]["median"]),
            fmt_iops(en["libaio"]["iops"]["median"]), fmt_iops(en["io_uring"]["iops"]["median"]),
            fmt_iops(en["psync"]["iops"]["median"]) if "psync" in en else "—",
            ratio_cell(s, "kaio", "glibc", "iops"), ratio_cell(s, "kaio", "libaio", "iops")))
    errs = [r for r in records if r["error"]]
    if errs:
        log("bench: %d fio runs failed (see results.json)" % len(errs))
    log("bench: done in %.0f s (estimated %.0f s): %s" % (res["duration_s"], est_fio + est_rest,
                                                          os.path.join(args.out, "results.md")))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    main()
