"""FlowSynth Explorer: `python app.py [--checkpoint PATH] [--host H] [--port P]`.

Loads the model(s) once, warms every stage, then serves the Gradio app (see docs/APP.md). Thin: the UI is
built in `explorer/app/ui.py`; engine, state, tabs and serving (temp folder, sessions) in `explorer/app/`.
Host and port: the flag, else EXPLORER_HOST / EXPLORER_PORT, else GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
(Gradio's own variables), else 127.0.0.1:7860.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time

from explorer import cli

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def env(*names: str, default: str) -> str:
    return next((os.environ[n] for n in names if os.environ.get(n)), default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="FlowSynth Explorer (Gradio app)")
    cli.add_checkpoint(ap, "model.pt to open first (default: checkpoints/flow_dis_16/model.pt)",
                       default=os.environ.get("EXPLORER_CHECKPOINT"))
    ap.add_argument("--checkpoints-dir", default=os.environ.get("EXPLORER_CHECKPOINTS", "checkpoints"),
                    help="the model menu lists DIR/*/model.pt")
    ap.add_argument("--host", default=env("EXPLORER_HOST", "GRADIO_SERVER_NAME", default="127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(env("EXPLORER_PORT", "GRADIO_SERVER_PORT", default="7860")))
    cli.add_device(ap, default=os.environ.get("EXPLORER_DEVICE"))
    ap.add_argument("--synth-workers", type=int, default=int(env("EXPLORER_SYNTH_WORKERS", default="2")))
    for flag, var, default, what in [("session-ttl", "SESSION_TTL", "1800", "idle seconds before a session ends"),
                                     ("cache-age", "CACHE_AGE", "600", "seconds an output file stays cached"),
                                     ("concurrency", "CONCURRENCY", "4", "runs of one event at once")]:
        ap.add_argument(f"--{flag}", type=float, default=float(env(f"EXPLORER_{var}", default=default)), help=what)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cli.setup_logging()
    log = logging.getLogger("flowsynth.app")
    t0 = time.perf_counter()
    from explorer.app import serving

    tmp_root = serving.make_temp_root()  # before any Gradio component exists
    serving.setup_process()  # SIGTERM stops the app like Ctrl-C (the temp folder goes); malloc arenas
    # import the UI stack (gradio: seconds) while the synth workers and the model start
    ui_import = threading.Thread(target=lambda: __import__("explorer.app.ui"), daemon=True)
    ui_import.start()
    import torch

    torch.set_num_threads(1)  # small models: one thread per request beats oversubscribing shared cores
    from explorer.app.engine import DEFAULT_CHECKPOINT, Engine, find_checkpoints

    checkpoints = find_checkpoints(args.checkpoints_dir)
    default = None
    path = args.checkpoint or (DEFAULT_CHECKPOINT if os.path.isfile(DEFAULT_CHECKPOINT) else None)
    if path:
        if not os.path.isfile(path):
            print(f"error: checkpoint not found: {path}", file=sys.stderr)
            return 2
        default = os.path.basename(os.path.dirname(os.path.abspath(path)))
        checkpoints = {default: path, **{k: v for k, v in checkpoints.items() if k != default}}
    if not checkpoints:
        print(f"error: no model found. Expected {DEFAULT_CHECKPOINT} (or any {args.checkpoints_dir}/*/model.pt); "
              "train one (see README) or pass --checkpoint PATH.", file=sys.stderr)
        return 2
    try:
        engine = Engine(checkpoints, default, synth_workers=args.synth_workers, device=args.device,
                        tmpdir=os.environ["GRADIO_TEMP_DIR"])
        warm = engine.warm()
    except Exception as exc:  # noqa: BLE001 - say which file failed and why, then stop
        print(f"error: could not start with {checkpoints[default or next(iter(checkpoints))]}: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    e = engine.entry()
    log.info("model %s loaded on %s; map: %s; warm-up %.2f s", e.name, e.model.device,
             f"{len(e.lmap)} sounds" if e.lmap is not None else e.map_error, warm["seconds"])
    ui_import.join()
    from explorer.app.ui import build

    demo, kw = build(engine)
    log.info("ready in %.1f s: http://%s:%d (temp files: %s)", time.perf_counter() - t0, args.host, args.port,
             tmp_root)
    try:
        serving.launch(demo, kw, args.host, args.port, args.session_ttl, args.cache_age, int(args.concurrency))
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
