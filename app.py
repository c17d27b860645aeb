"""FlowSynth Explorer: `python app.py [--checkpoint PATH] [--host H] [--port P]`.

Loads the model(s) once, warms every stage, then serves the Gradio app (see docs/APP.md). Thin: the UI is
built in `explorer/app/ui.py`; the engine, the state and one module per tab live in `explorer/app/`.
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="FlowSynth Explorer (Gradio app)")
    cli.add_checkpoint(ap, "model.pt to open first (default: checkpoints/flow_dis_16/model.pt)",
                       default=os.environ.get("EXPLORER_CHECKPOINT"))
    ap.add_argument("--checkpoints-dir", default=os.environ.get("EXPLORER_CHECKPOINTS", "checkpoints"),
                    help="the model menu lists DIR/*/model.pt")
    ap.add_argument("--host", default=os.environ.get("EXPLORER_HOST", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(os.environ.get("EXPLORER_PORT", "7860")))
    cli.add_device(ap, default=os.environ.get("EXPLORER_DEVICE"))
    ap.add_argument("--synth-workers", type=int, default=int(os.environ.get("EXPLORER_SYNTH_WORKERS", "2")))
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cli.setup_logging()
    log = logging.getLogger("flowsynth.app")
    t0 = time.perf_counter()
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
        engine = Engine(checkpoints, default, synth_workers=args.synth_workers, device=args.device)
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
    log.info("ready in %.1f s: http://%s:%d", time.perf_counter() - t0, args.host, args.port)
    demo.queue().launch(
        server_name=args.host, server_port=args.port, max_file_size="25mb", show_error=True, **kw)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
