"""App under load: many gradio_client users at once against `python app.py` (started here on a free port).

    .venv/bin/python benchmarks/app_load.py mixed  --users 8 --actions 15          # throughput, p50/p95
    .venv/bin/python benchmarks/app_load.py open   --rounds 10 --users 10 --actions 10  # failed downloads
    .venv/bin/python benchmarks/app_load.py memory --sessions 30                    # RSS per further session
    .venv/bin/python benchmarks/app_load.py cost   --actions 12                     # server CPU per endpoint

`mixed`: N users, each its own session, do a random mix of map clicks (dots and empty spots), slider moves
(a latent dim, or one semantic slider from where the last view left it),
neighbourhoods (and playing one), exports and summaries; every audio file is downloaded as the browser does.
Prints errors, per-endpoint p50/p95, actions per second, the server's memory (RSS) before and after, and
the CPU per action of the server (app process, synth workers) and of the users (this process: they share
the machine's cores with the server).
`open`: M rounds of N users who open the app at the same moment (a barrier), then do their actions; counts
downloads that failed or came back truncated (every WAV is read back and checked). `memory`: after one warm-up
session, K further sessions one after another (a few actions each, then closed like a browser tab); RSS
before, after, and after the app's idle expiry (`--idle-wait`). `cost`: one user, one action at a time,
`--actions` of each kind in turn: the server's CPU per action (app process, synth workers) and the round
trip, per endpoint (a semantic move is measured after a map click, which is subtracted). Bounded: `--time-limit` seconds per phase.
The server's RSS is the app process (`/proc/PID/status`), its synth workers reported apart. The load average
of the machine is printed at the start and the end (the CPU may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
WAV_SAMPLES = 88200
# gradio_client opens a new httpx client for each request (the job, its event stream, each file download),
# and httpx then builds a TLS context from the CA bundle, even for plain http: about 20 ms of CPU each, 60 of
# the 75 ms a client spent per action (py-spy). A browser keeps one; so do our users: one context, made once.
TLS = ssl.create_default_context()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def children_rss_mb(pid: int) -> float:
    total = 0.0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            total += sum(rss_mb(int(c)) for c in f.read().split())
    return total


def cpu_s(pid: int) -> float:
    """CPU seconds of a process, with its waited-for children (a synth worker's render children)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def cpu_split(pid: int) -> tuple[float, float]:
    """(app process CPU s, its children's CPU s: the synth workers and their renders)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    kids = 0.0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            kids += sum(cpu_s(int(c)) for c in f.read().split())
    return own, kids


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def start_app(args, log_path: str):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, args.app_script, "--port", str(port), *shlex.split(args.app_args)]
    if args.checkpoint:
        cmd += ["--checkpoint", args.checkpoint]
    log = open(log_path, "w")  # noqa: SIM115 - the app's log, closed with the app
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    url = f"http://127.0.0.1:{port}/"
    t0 = time.time()
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"app exited ({proc.returncode}); log: {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return proc, url, log
        except OSError:
            if time.time() - t0 > 180:
                proc.kill()
                raise SystemExit(f"app not up after 180 s; log: {log_path}") from None
            time.sleep(0.3)


def wav_ok(path: str) -> bool:
    import soundfile as sf

    try:
        data, sr = sf.read(path)
    except Exception:  # noqa: BLE001 - a truncated or unreadable file is a failed download
        return False
    return sr == 22050 and data.shape == (WAV_SAMPLES,)


class User:
    """One session: a gradio_client Client and its own random mix of actions."""

    def __init__(self, url: str, seed: int, download_dir: str):
        from gradio_client import Client

        self.client = Client(url, verbose=False, download_files=download_dir, ssl_verify=TLS)
        self.rng = random.Random(seed)
        self.n_points = 0
        self.has_neighbours = False
        self.semantic: list[float] = []  # the semantic sliders as the last view showed them
        self.n_semantic = 0  # how many the app shows (the others are hidden, their values ignored)

    def call(self, api: str, *args):
        return self.client.predict(*args, api_name=api)

    def check_main(self, out) -> None:
        status = out[5]
        if str(status).startswith("Error"):
            raise RuntimeError(status)
        if not wav_ok(out[0]):
            raise OSError(f"downloaded WAV {out[0]} is not whole")
        # after 6 panel outputs and 32 latent sliders; a slider comes back as a value or as an update dict
        self.semantic = [float((x.get("value") or 0.0) if isinstance(x, dict) else x) for x in out[6 + 32: 6 + 32 + 8]]

    def action(self, first: bool) -> str:
        r = self.rng.random()
        if first:
            out = self.call("/init")
            fig = json.loads(out[-1]["plot"])
            self.n_points = sum(len(t["x"]) for t in fig["data"] if str(t.get("uid", "")).startswith("ds:"))
            xs = np.concatenate([t["x"] for t in fig["data"] if str(t.get("uid", "")).startswith("ds:")])
            ys = np.concatenate([t["y"] for t in fig["data"] if str(t.get("uid", "")).startswith("ds:")])
            self.bounds = (float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max()))
            self.check_main(out[:-1])
            self.n_semantic = len(self.call("/current")["semantic"])
            return "/init"
        if r < 0.25:
            api, out = "/select_point", self.call("/select_point", self.rng.randrange(self.n_points))
        elif r < 0.40:
            x0, x1, y0, y1 = self.bounds
            api, out = "/decode_xy", self.call("/decode_xy", self.rng.uniform(x0, x1), self.rng.uniform(y0, y1))
        elif r < 0.60:
            api, out = "/set_dim", self.call("/set_dim", self.rng.randrange(16), self.rng.uniform(-2, 2))
        elif r < 0.70:
            values = list(self.semantic)  # one slider moved, as a person does (the page sends all of them)
            values[self.rng.randrange(max(self.n_semantic, 1))] = self.rng.uniform(-2, 2)
            api, out = "/set_semantic", self.call("/set_semantic", *values)
        elif r < 0.80:
            out = self.call("/neighbourhood", 0.3, 8, self.rng.randrange(1000))
            if str(out[-1]).startswith("Error"):
                raise RuntimeError(out[-1])
            self.has_neighbours = True
            return "/neighbourhood"
        elif r < 0.88 and self.has_neighbours:
            out = self.call("/play_neighbour", f"n{self.rng.randrange(8)}")
            if not wav_ok(out[0]):
                raise OSError(f"downloaded WAV {out[0]} is not whole")
            return "/play_neighbour"
        elif r < 0.94:
            files, status = self.call("/export_preset", f"load test {self.rng.randrange(100)}")
            if status.startswith("Error") or not all(os.path.getsize(f) > 0 for f in files):
                raise RuntimeError(status)
            return "/export_preset"
        else:
            out = self.call("/current")
            if "z" not in out:
                raise RuntimeError(str(out)[:200])
            return "/current"
        self.check_main(out)
        return api


def run_users(url: str, n_users: int, n_actions: int, deadline: float, seed: int, at_once: bool = False):
    """N users in threads -> (timings {api: [s]}, errors [str], wall seconds, actions done)."""
    timings: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n_users)
    done = [0]
    download_dir = tempfile.mkdtemp(prefix="app-load-")

    def work(u: int):
        try:
            user = User(url, seed * 1000 + u, os.path.join(download_dir, str(u)))
        except Exception as exc:  # noqa: BLE001 - a user that cannot connect is an error
            with lock:
                errors.append(f"connect: {type(exc).__name__}: {exc}")
            return
        if at_once:
            barrier.wait()
        for i in range(n_actions):
            if time.time() > deadline:
                break
            t = time.perf_counter()
            try:
                api = user.action(first=user.n_points == 0)
                with lock:
                    timings[api].append(time.perf_counter() - t)
                    done[0] += 1
            except Exception as exc:  # noqa: BLE001 - count and go on, as a user would
                with lock:
                    errors.append(f"user {u} action {i}: {type(exc).__name__}: {str(exc)[:300]}")
        user.client.close()

    threads = [threading.Thread(target=work, args=(u,)) for u in range(n_users)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    subprocess.run(["rm", "-rf", download_dir], check=False)
    return timings, errors, wall, done[0]


def cost(url: str, pid: int, n: int, seed: int) -> None:
    """Server CPU (app process / synth workers) and round trip per action, one kind at a time, one user."""
    user = User(url, seed, tempfile.mkdtemp(prefix="app-cost-"))
    user.action(first=True)
    rng = random.Random(seed)
    x0, x1, y0, y1 = user.bounds

    def click():
        user.check_main(user.call("/select_point", rng.randrange(user.n_points)))

    def semantic():  # from a sound just clicked: its path is new, as a first move is
        click()
        values = list(user.semantic)
        values[rng.randrange(max(user.n_semantic, 1))] = rng.uniform(-2, 2)
        user.check_main(user.call("/set_semantic", *values))

    kinds = {"/init": lambda: user.call("/init"), "/select_point": click,
             "/decode_xy": lambda: user.check_main(user.call("/decode_xy", rng.uniform(x0, x1), rng.uniform(y0, y1))),
             "/set_dim": lambda: user.check_main(user.call("/set_dim", rng.randrange(16), rng.uniform(-2, 2))),
             "/set_semantic": semantic,
             "/neighbourhood": lambda: user.call("/neighbourhood", 0.3, 8, rng.randrange(1000)),
             "/play_neighbour": lambda: user.call("/play_neighbour", f"n{rng.randrange(8)}"),
             "/export_preset": lambda: user.call("/export_preset", "cost"),
             "/current": lambda: user.call("/current")}
    print(f"{'endpoint':<16} {'app ms':>7} {'synth ms':>9} {'round trip ms':>14}   (means over {n} actions)")
    got = {}
    for name, fn in kinds.items():
        c0, t0 = cpu_split(pid), time.perf_counter()
        for _ in range(n):
            fn()
        c1, t1 = cpu_split(pid), time.perf_counter()
        app, synth, wall = ((c1[0] - c0[0]) / n, (c1[1] - c0[1]) / n, (t1 - t0) / n)
        if name == "/set_semantic":  # minus the click before each
            app, synth, wall = app - got["/select_point"][0], synth - got["/select_point"][1], wall - got["/select_point"][2]
        got[name] = (app, synth, wall)
        print(f"{name:<16} {1000 * app:>7.0f} {1000 * synth:>9.0f} {1000 * wall:>14.0f}")
    user.client.close()


def report(timings, errors, wall, done) -> None:
    print(f"{'endpoint':<16} {'n':>4} {'p50 ms':>8} {'p95 ms':>8}")
    for api in sorted(timings):
        t = np.array(timings[api]) * 1000
        print(f"{api:<16} {len(t):>4} {np.percentile(t, 50):>8.0f} {np.percentile(t, 95):>8.0f}")
    allt = np.concatenate([np.array(v) for v in timings.values()]) * 1000 if timings else np.zeros(1)
    print(f"{'all':<16} {len(allt):>4} {np.percentile(allt, 50):>8.0f} {np.percentile(allt, 95):>8.0f}")
    print(f"actions: {done} in {wall:.1f} s = {done / wall:.1f} actions/s; errors: {len(errors)}")
    for e in errors[:10]:
        print("  ", e)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["mixed", "open", "memory", "cost"])
    ap.add_argument("--checkpoint", default="checkpoints/flow_dis_16/model.pt")
    ap.add_argument("--app-args", default="", help="more arguments for app.py, e.g. '--session-ttl 60'")
    ap.add_argument("--app-script", default="app.py", help="the app to start (e.g. a profiling wrapper)")
    ap.add_argument("--url", help="use a running app instead of starting one (no RSS figures)")
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--actions", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--warm-sessions", type=int, default=30,
                    help="memory mode: sessions run before the measured ones (the allocator's high-water mark)")
    ap.add_argument("--settle", type=float, default=20.0,
                    help="memory mode: seconds to wait after the sessions (the app drops closed sessions after "
                         "min(60, session-ttl / 2) s: pass --app-args '--session-ttl 20')")
    ap.add_argument("--idle-wait", type=float, default=0.0,
                    help="memory mode: also measure after waiting this long (the app's idle expiry)")
    ap.add_argument("--time-limit", type=float, default=300.0, help="seconds per phase at most")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    print(f"load average at start: {load_avg()} ({os.cpu_count()} CPUs)")
    proc = log = None
    if args.url:
        url = args.url
    else:
        log_path = os.path.join(tempfile.gettempdir(), f"app_load_{os.getpid()}.log")
        proc, url, log = start_app(args, log_path)
        print(f"app up at {url} (log {log_path})")
    mem = (lambda: (rss_mb(proc.pid), children_rss_mb(proc.pid))) if proc else (lambda: (float("nan"),) * 2)
    try:
        # one warm-up session: the first of everything (figures, caches) is not what we measure
        run_users(url, 1, 8, time.time() + args.time_limit, seed=999)
        if os.environ.get("APP_LOAD_SIGNAL") and proc:  # profiling wrappers: mark this moment
            os.kill(proc.pid, int(os.environ["APP_LOAD_SIGNAL"]))
            time.sleep(5)
        before = mem()
        print(f"server RSS before: {before[0]:.1f} MB (synth workers {before[1]:.1f} MB)")
        if args.mode == "mixed":
            cpu0 = cpu_split(proc.pid) if proc else (0.0, 0.0)
            own0 = time.process_time()
            result = run_users(url, args.users, args.actions, time.time() + args.time_limit, args.seed)
            report(*result)
            n = max(1, result[3])
            if proc:
                cpu1 = cpu_split(proc.pid)
                print(f"server CPU per action: app process {1000 * (cpu1[0] - cpu0[0]) / n:.0f} ms, "
                      f"synth workers and renders {1000 * (cpu1[1] - cpu0[1]) / n:.0f} ms")
            print(f"client CPU per action (these {args.users} users, same machine): "
                  f"{1000 * (time.process_time() - own0) / n:.0f} ms")
        elif args.mode == "cost":
            if not proc:
                raise SystemExit("cost needs the app started here (no --url)")
            cost(url, proc.pid, args.actions, args.seed)
        elif args.mode == "open":
            failed_rounds, failed = 0, 0
            for r in range(args.rounds):
                _timings, errors, wall, done = run_users(url, args.users, args.actions,
                                                        time.time() + args.time_limit, args.seed + r, at_once=True)
                bad = [e for e in errors if "WAV" in e or "Content-Length" in e or "download" in e.lower()]
                failed += len(bad)
                failed_rounds += bool(errors)
                print(f"round {r}: {done} actions in {wall:.1f} s, {len(errors)} errors, {len(bad)} failed downloads")
                for e in errors[:5]:
                    print("  ", e)
            print(f"rounds with errors: {failed_rounds} / {args.rounds}; failed downloads: {failed}")
        else:
            for s in range(args.warm_sessions):
                run_users(url, 1, 6, time.time() + args.time_limit, seed=10_000 + s)
            time.sleep(args.settle)
            start, before = before, mem()
            print(f"server RSS after {args.warm_sessions} warm-up sessions: {before[0]:.1f} MB")
            for s in range(args.sessions):
                _, errors, _, _ = run_users(url, 1, 6, time.time() + args.time_limit, seed=s)
                for e in errors:
                    print("  ", e)
                if (s + 1) % 10 == 0:
                    print(f"  after {s + 1} sessions: RSS {mem()[0]:.1f} MB")
            time.sleep(args.settle)  # closed sessions are dropped after the app's grace, then its heap trimmed
            if os.environ.get("APP_LOAD_SIGNAL") and proc:
                os.kill(proc.pid, int(os.environ["APP_LOAD_SIGNAL"]))
                time.sleep(10)
            after = mem()
            print(f"server RSS after {args.sessions} further sessions: {after[0]:.1f} MB "
                  f"({(after[0] - before[0]) / args.sessions:+.2f} MB per session; since the start "
                  f"{(after[0] - start[0]) / (args.sessions + args.warm_sessions):+.2f} MB per session; "
                  f"synth workers {after[1]:.1f} MB)")
            if args.idle_wait:
                time.sleep(args.idle_wait)
                late = mem()
                print(f"server RSS after {args.idle_wait:.0f} s idle: {late[0]:.1f} MB "
                      f"({(late[0] - before[0]) / args.sessions:+.2f} MB per session)")
        after = mem()
        print(f"server RSS after: {after[0]:.1f} MB (synth workers {after[1]:.1f} MB)")
    finally:
        print(f"load average at end: {load_avg()}")
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
