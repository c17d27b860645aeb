"""Render workers on a Ray cluster: `Synth(..., backend=RayBackend("auto" | "local" | "HOST:PORT"))`.

Each Ray actor hosts one ordinary worker process (`explorer.synth.worker`, started with `subprocess` by the
actor): the plugin is loaded once per actor and every render runs in a child forked from that pristine
state, exactly as in the local pool, so the audio is bit-identical whichever backend rendered it. The
host's render loop hands chunks to whichever actor is free and writes each result to its own rows.

Ray is imported only here, and only when a `RayBackend` starts: the app and the local pool never load it.
Each node needs the plugin at the same path and the project's Python environment (started with
`.venv/bin/ray start ...`); the `explorer` package itself is shipped to the nodes by Ray (`py_modules`).
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import asdict

from explorer.synth.host import INSTALL_HINT, RenderSettings, SynthError, _Worker

RAY_HINT = "Install it with `.venv/bin/pip install ray==2.60.0` (the version pinned in requirements.txt)."
CONNECT_TIMEOUT = 5.0  # seconds for the TCP check of a cluster address
START_TIMEOUT = float(os.environ.get("EXPLORER_RAY_START_TIMEOUT", "180"))  # seconds for every actor to be up


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise SynthError(f"--ray needs the Ray package, which is not installed ({exc}). {RAY_HINT}") from None
    return ray


def _check_reachable(address: str) -> None:
    """Fail fast and clearly when nothing listens at HOST:PORT (ray.init itself retries for minutes)."""
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise SynthError(f"bad Ray address {address!r}: expected auto, local or HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise SynthError(f"cannot connect to the Ray cluster at {address} ({exc}). Start its head node with "
                         "`.venv/bin/ray start --head --port 6379` and pass --ray HEAD_HOST:6379.") from None


class _RenderActor:
    """Body of one Ray actor: one plugin-hosting worker process on the actor's node."""

    def __init__(self, plugin_path: str, settings: dict):
        self.node = f"{socket.gethostname()} ({_ray().util.get_node_ip_address()})"
        if not os.path.isfile(plugin_path):
            raise SynthError(f"Synth plugin not found on Ray node {self.node}: {plugin_path}. Every node needs "
                             f"the plugin at the same path. {INSTALL_HINT}")
        try:
            self.worker = _Worker(plugin_path, RenderSettings(**settings))
        except SynthError as exc:
            raise SynthError(f"Could not load synth plugin {plugin_path} on Ray node {self.node}: {exc}") from None

    def info(self) -> tuple[int, str]:
        return self.worker.n_params, self.node

    def call(self, cmd: str, payload=None):
        return self.worker.call(cmd, payload)

    def close(self) -> None:
        self.worker.close()


class _ActorWorker:
    """The driver's handle on one actor, with the local `_Worker`'s interface (`call`, `close`)."""

    def __init__(self, ray, actor, n_params: int, node: str):
        self.ray, self.actor, self.n_params, self.node = ray, actor, n_params, node

    def call(self, cmd: str, payload=None):
        try:
            return self.ray.get(self.actor.call.remote(cmd, payload))
        except SynthError:
            raise
        except self.ray.exceptions.RayError as exc:
            raise SynthError(f"Ray render actor on {self.node} failed: {exc}") from None

    def close(self) -> None:
        if self.actor is None or not self.ray.is_initialized():
            return
        with contextlib.suppress(self.ray.exceptions.RayError):  # the actor may be gone already
            self.ray.get(self.actor.close.remote(), timeout=10)
        self.ray.kill(self.actor)
        self.actor = None


class RayBackend:
    """Where a `Synth` starts its render workers: Ray actors instead of local processes.

    `address`: "auto" (the cluster this machine belongs to: RAY_ADDRESS or a `ray start` here; if none,
    a new local instance), "local" (always a new local instance), or "HOST:PORT" (the GCS port) of a
    running cluster. A Ray that is already initialised in this process is used as it is. Ray is shut down
    on `close()` only if this backend started it.
    """

    def __init__(self, address: str = "auto", init_kwargs: dict | None = None):
        self.address = address
        self.init_kwargs = dict(init_kwargs or {})
        self._owns_ray = False
        self.ray = None

    def connect(self):
        """Initialise Ray for `address` unless it is already initialised in this process; returns the module."""
        if self.address == "local":  # a one-machine instance listens on loopback only (read at ray's import)
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        self.ray = ray = _ray()
        if ray.is_initialized():
            return ray
        if self.address not in ("auto", "local"):
            _check_reachable(self.address)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # explorer/
        kwargs = {"include_dashboard": False, "log_to_driver": False,
                  "runtime_env": {"py_modules": [package]}, **self.init_kwargs}
        try:
            ray.init(address=None if self.address == "auto" else self.address, **kwargs)
        except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError...
            hint = "" if self.address in ("auto", "local") else (
                " If the cluster uses token authentication, set RAY_AUTH_MODE=token here and give this machine "
                "the cluster's token (~/.ray/auth_token or RAY_AUTH_TOKEN).")
            raise SynthError(f"cannot start or connect to Ray (--ray {self.address}): {exc}.{hint}") from None
        self._owns_ray = True
        return ray

    def start(self, plugin_path: str, settings: RenderSettings, workers: int | None) -> list[_ActorWorker]:
        """One actor (1 CPU each) per worker, spread over the nodes; default: one per free CPU of the cluster."""
        ray = self.connect()
        free = int(ray.available_resources().get("CPU", 0))
        n = workers or free
        if n < 1:
            self.close()
            raise SynthError(f"the Ray cluster (--ray {self.address}) has no free CPU for a render actor")
        cls = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(_RenderActor)
        actors = [cls.remote(plugin_path, asdict(settings)) for _ in range(n)]
        try:
            infos = ray.get([a.info.remote() for a in actors], timeout=START_TIMEOUT)
        except (ray.exceptions.RayError, TimeoutError) as exc:
            for a in actors:
                ray.kill(a)
            self.close()
            if isinstance(exc, TimeoutError):
                raise SynthError(f"{n} Ray render actors did not start within {START_TIMEOUT:.0f} s; the cluster "
                                 f"had {free} free CPUs (each actor takes one). Ask for fewer with --workers, or "
                                 "set EXPLORER_RAY_START_TIMEOUT.") from None
            text = str(exc)  # Ray's text holds the actor's traceback; keep our own message when it is there
            cause = text.rpartition("SynthError: ")[2] if "SynthError: " in text else text
            raise SynthError(f"Ray render actors could not start: {cause.strip()}") from None
        return [_ActorWorker(ray, a, n_params, node) for a, (n_params, node) in zip(actors, infos)]

    def close(self) -> None:
        if self._owns_ray and self.ray is not None and self.ray.is_initialized():
            self.ray.shutdown()
        self._owns_ray = False
