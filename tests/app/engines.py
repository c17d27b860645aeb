"""What the app's action tests share: an engine on two debug checkpoints and the real synth."""

from explorer.app import actions as A
from explorer.app.map_export import build_debug_map


def make_engine(root, synth, maps: dict[int, tuple[int, int]]) -> A.Engine:
    """Debug checkpoints `dbg16` and `dbg30` under `root`; `maps` {n_params: (dots, seed)} says which get a
    latent map of real renders, of how many dots (a model without one must be coped with)."""
    from explorer.models.checkpoint import make_debug_checkpoint

    paths = {}
    for name, n in (("dbg16", 16), ("dbg30", 30)):
        (root / name).mkdir()
        paths[name] = str(root / name / "model.pt")
        make_debug_checkpoint(paths[name], n_params=n, seed=n)
        if n in maps:
            build_debug_map(paths[name], synth, n=maps[n][0], seed=maps[n][1])
    assert A.find_checkpoints(str(root)) == paths
    return A.Engine(paths, "dbg16", synth=synth)
