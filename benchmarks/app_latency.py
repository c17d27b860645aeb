"""App latency: per-stage server-side times of a map click and a slider move, and the gradio_client round trip.

    .venv/bin/python benchmarks/app_latency.py [--checkpoint checkpoints/flow_dis_16/model.pt] [--n 30]

Without a checkpoint (and none at checkpoints/flow_dis_16/model.pt) it makes a debug model and a tiny map
of real synth renders in a temporary folder. Stages (medians over --n actions, milliseconds):
decode (latent -> params; for a click also the 2-D -> latent map), render (real synth, the parameter texts
fetched from a second worker meanwhile), features (log-mel + waiting for the texts), figures (mel, parameter
plot, overlay, and their JSON encoding), server total; a drag preview and a note change (issue 14); a
semantic slider move with the steering macros, first from a sound (calibrates a path) and again (issue 12);
then the whole round trip of `/select_point`,
`/decode_xy` and `/set_dim` through gradio_client against `python app.py` on a free port.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def debug_model(folder: str, synth) -> str:
    from explorer.app.map_export import build_debug_map
    from explorer.models.checkpoint import make_debug_checkpoint

    path = os.path.join(folder, "debug_16", "model.pt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    make_debug_checkpoint(path, n_params=16)
    build_debug_map(path, synth, n=64)
    return path


def server_side(engine, n: int, seed: int = 0) -> dict[str, dict[str, float]]:
    from explorer.app import actions as A
    from explorer.app import plots

    rng = np.random.default_rng(seed)
    st = A.new_state(engine)
    lmap = engine.entry().lmap
    out: dict[str, dict[str, list[float]]] = {"map click": {}, "slider move": {}}
    for i in range(2 * n):
        kind = "map click" if i % 2 == 0 else "slider move"
        t0 = time.perf_counter()
        if kind == "map click":
            if lmap is not None and i % 4 == 0:
                st = A.select_point(engine, st, int(rng.integers(len(lmap))))
            elif lmap is not None:
                x0, x1, y0, y1 = lmap.bounds
                st = A.decode_xy(engine, st, float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1)))
            else:
                st = A.set_current_z(engine, st, rng.standard_normal(len(st["z"])), "random")
        else:
            st = A.set_dim(engine, st, int(rng.integers(len(st["z"]))), float(rng.uniform(-2, 2)))
        t_action = time.perf_counter() - t0
        view = A.render_view(engine, st)
        t = time.perf_counter()
        for k in ("mel", "params"):
            plots.to_plot(view[k])
        t_json = time.perf_counter() - t
        stages = dict(view["timings"])
        stages["decode"] = t_action  # includes the 2-D -> latent map of a click
        stages["figures"] += t_json
        stages["server total"] = time.perf_counter() - t0
        for k, v in stages.items():
            out[kind].setdefault(k, []).append(1e3 * v)
    return {kind: {k: float(np.median(v)) for k, v in d.items()} for kind, d in out.items()}


def live_side(engine, n: int, seed: int = 0) -> dict[str, float]:
    """Server time (median ms) of a drag preview (a semantic / latent slider move while the mouse is held:
    decode + the model's log-mel + the JSON the page applies) and of a note change (one render at a note)."""
    from explorer.app import actions as A

    rng = np.random.default_rng(seed)
    st = A.new_state(engine)
    n_sem = len(engine.entry().model.semantic)
    times: dict[str, list[float]] = {"drag preview": [], "drag preview (render while dragging)": [],
                                     "note change": []}
    for i in range(n):
        t = time.perf_counter()
        if n_sem:
            A.preview(engine, st, "semantic", [float(rng.uniform(-2, 2))] + [0.0] * (A.MAX_SEMANTIC - 1))
        else:
            A.preview(engine, st, "latent", [float(rng.uniform(-2, 2))] + [0.0] * (A.MAX_DIMS - 1))
        times["drag preview"].append(time.perf_counter() - t)
        t = time.perf_counter()
        A.preview(engine, st, "latent", [float(rng.uniform(-2, 2))] + [0.0] * (A.MAX_DIMS - 1), render=True)
        times["drag preview (render while dragging)"].append(time.perf_counter() - t)
        t = time.perf_counter()
        st, _ = A.audition(engine, st, int(rng.integers(36, 84)), 100)
        times["note change"].append(time.perf_counter() - t)
    return {k: 1e3 * float(np.median(v)) for k, v in times.items()}


def semantic_side(engine, n: int, seed: int = 0) -> dict[str, float]:
    """Server time (median ms) of a semantic slider move with steering macros (a steer.pt): the first move
    of a pair from a sound (calibrates its path: renders) and a second move of that slider (cached path);
    the view's own render is not included. Empty without a steer.pt."""
    from explorer.app import actions as A

    if engine.entry().model.steer is None:
        return {}
    rng = np.random.default_rng(seed)
    times: dict[str, list[float]] = {"semantic move, first from a sound": [], "semantic move, same slider again": []}
    n_map = len(engine.entry().lmap) if engine.entry().lmap is not None else 0
    for i in range(n):
        st = A.new_state(engine)
        st = A.select_point(engine, st, int(rng.integers(n_map))) if n_map else st
        values = A.semantic_values(engine, st)
        for samples in times.values():
            values[i % len(values)] = float(rng.uniform(-2, 2))
            t = time.perf_counter()
            A.set_semantic(engine, st, values)
            samples.append(time.perf_counter() - t)
    return {k: 1e3 * float(np.median(v)) for k, v in times.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def round_trip(checkpoint: str, n: int, seed: int = 0) -> dict[str, float]:
    from gradio_client import Client

    port = free_port()
    ckdir = os.path.dirname(os.path.dirname(os.path.abspath(checkpoint)))
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115 - kept for the error
    t_start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--checkpoint", checkpoint, "--checkpoints-dir", ckdir,
                             "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"app exited: {log.read()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        startup = time.perf_counter() - t_start
        out = {}
        for download in (False, True):  # the API call alone; then also fetching the WAV, as a browser does
            client = Client(url, verbose=False, download_files=download)
            rng = np.random.default_rng(seed)
            client.predict(api_name="/init")
            cur = client.predict(api_name="/current")
            dims, has_map = len(cur["z"]), cur["xy"] is not None
            times: dict[str, list[float]] = {"/select_point": [], "/decode_xy": [], "/set_dim": []}
            for _ in range(n):
                for name, samples in times.items():
                    t = time.perf_counter()
                    if name == "/select_point" and has_map:
                        client.predict(int(rng.integers(16)), api_name=name)
                    elif name == "/decode_xy" and has_map:
                        xy = cur["xy"]
                        client.predict(xy[0] * float(rng.uniform(0.5, 1.5)),
                                       xy[1] * float(rng.uniform(0.5, 1.5)), api_name=name)
                    elif name == "/set_dim":
                        client.predict(int(rng.integers(dims)), float(rng.uniform(-2, 2)), api_name=name)
                    samples.append(1e3 * (time.perf_counter() - t))
            suffix = " + WAV download" if download else ""
            out.update({k + suffix: float(np.median(v)) for k, v in times.items() if v})
        out["startup to first page (s)"] = startup
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--no-round-trip", action="store_true")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)  # as app.py
    from explorer.app.actions import DEFAULT_CHECKPOINT, Engine
    from explorer.synth.host import Synth

    synth = Synth(workers=2)
    tmp = tempfile.mkdtemp(prefix="app-latency-")
    ckpt = args.checkpoint or (DEFAULT_CHECKPOINT if os.path.isfile(DEFAULT_CHECKPOINT) else None)
    if ckpt is None:
        ckpt = debug_model(tmp, synth)
    name = os.path.basename(os.path.dirname(os.path.abspath(ckpt)))
    engine = Engine({name: ckpt}, name, synth=synth)
    engine.warm()
    e = engine.entry()
    res = {"checkpoint": ckpt, "model": e.model.name, "map points": len(e.lmap) if e.lmap is not None else 0,
           "device": str(e.model.device), "cpus": os.cpu_count(), "load average before": os.getloadavg()[0]}
    res["server"] = server_side(engine, args.n)
    res["live (ms)"] = live_side(engine, args.n)
    res["live (ms)"].update(semantic_side(engine, max(args.n // 2, 1)))
    synth.close()
    if not args.no_round_trip:
        res["round trip (ms)"] = round_trip(ckpt, args.n)
    res["load average after"] = os.getloadavg()[0]

    print(f"checkpoint {ckpt} ({res['model']}, {res['map points']} map points, {res['device']}, "
          f"{res['cpus']} cpus, load {res['load average before']:.1f})")
    print(f"{'stage (median ms)':<18}" + "".join(f"{k:>14}" for k in res["server"]))
    stages = list(next(iter(res["server"].values())))
    for s in stages:
        print(f"{s:<18}" + "".join(f"{res['server'][k][s]:>14.1f}" for k in res["server"]))
    for k, v in res["live (ms)"].items():
        print(f"{k:<40}{v:>8.1f}")
    if "round trip (ms)" in res:
        print("gradio_client round trip (median ms):")
        for k, v in res["round trip (ms)"].items():
            print(f"  {k:<28}{v:>10.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
