"""Pack a dataset directory small enough to travel to a remote GPU machine, and unpack it there.

    python scripts/pack_u8.py pack data/ds16 gpu/ds16      # log-mels as uint8 (4x smaller)
    python scripts/pack_u8.py unpack gpu/ds16 data/ds16    # back to the explorer.data layout

The log-mels are quantised linearly between their global min and max onto 256 levels (step about 0.06
in log units, 0.02 of the global std): training on the unpacked set sees that rounding as tiny noise.
Evaluation always uses the real, unquantised dataset.
"""

import json
import os
import shutil
import sys

import numpy as np

OTHER = ("params.npy", "full_params.npy", "split.npy", "tags.npy", "descriptors.npy", "category.npy",
         "meta.json", "index.json")


def pack(src: str, dst: str) -> None:
    os.makedirs(dst, exist_ok=True)
    mels = np.load(os.path.join(src, "mels.npy"), mmap_mode="r")
    lo, hi = float(mels.min()), float(mels.max())
    q = np.round((np.asarray(mels, np.float32) - lo) / (hi - lo) * 255).astype(np.uint8)
    np.save(os.path.join(dst, "mels_u8.npy"), q)
    with open(os.path.join(dst, "mels_range.json"), "w") as f:
        json.dump({"lo": lo, "hi": hi}, f)
    for name in OTHER:
        shutil.copy(os.path.join(src, name), os.path.join(dst, name))


def unpack(src: str, dst: str) -> None:
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(src, "mels_range.json")) as f:
        r = json.load(f)
    q = np.load(os.path.join(src, "mels_u8.npy"))
    np.save(os.path.join(dst, "mels.npy"), (r["lo"] + q.astype(np.float32) / 255 * (r["hi"] - r["lo"])))
    for name in OTHER:
        shutil.copy(os.path.join(src, name), os.path.join(dst, name))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("pack", "unpack"):
        sys.exit(__doc__)
    (pack if sys.argv[1] == "pack" else unpack)(sys.argv[2], sys.argv[3])
