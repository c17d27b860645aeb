#!/usr/bin/env bash
# Ship a trained run as an app checkpoint: copy, export the latent map, evaluate, write the model card.
#
#   scripts/ship.sh runs/16/flow_dis flow_dis_16 16 [ADAPT]
#
# With ADAPT (an adaptation set's adapt.npz, `python -m explorer.evaluate.ood_adapt`), the switch head is
# labelled on it and on data/ds<P> (`explorer.evaluate.switch_train`; labels in runs/switch/) and fitted, as
# checkpoints/<NAME>/switches.pt, before the evaluations.
#
# Writes checkpoints/<NAME>/{model.pt, latent_map.npz, latent_map.json, umap.pkl, match_index.npz (the
# matching pipeline's candidate index: train + valid sounds only), steer.pt, curves.png (when RUN has a
# history.json), MODEL_CARD.md} and
# results/ship_<NAME>_{test,ood}.json, results/semantic_<NAME>.json (steering macros; which pairs the app
# shows is recorded in steer.pt).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=$1 NAME=$2 P=$3 ADAPT=${4:-}
PY=.venv/bin/python
export PYTHONPATH=. OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "checkpoints/$NAME" results
cp "$RUN/model.pt" "checkpoints/$NAME/model.pt"
rm -f "checkpoints/$NAME/switches.pt"  # a head of the previous model would be refused
if [ -n "$ADAPT" ]; then
  mkdir -p runs/switch
  $PY -m explorer.evaluate.switch_train label --checkpoint "checkpoints/$NAME/model.pt" --adapt "$ADAPT" \
    --out "runs/switch/$NAME.npz"
  $PY -m explorer.evaluate.switch_train label --checkpoint "checkpoints/$NAME/model.pt" --data "data/ds$P" \
    --out "runs/switch/${NAME}_ds.npz"
  $PY -m explorer.evaluate.switch_train fit --checkpoint "checkpoints/$NAME/model.pt" \
    --labels "runs/switch/$NAME.npz" "runs/switch/${NAME}_ds.npz" --out "checkpoints/$NAME/switches.pt"
fi
$PY -m explorer.app.map_export export --checkpoint "checkpoints/$NAME/model.pt" --data "data/ds$P"
$PY -m explorer.evaluate --checkpoint "checkpoints/$NAME/model.pt" --data "data/ds$P" --split test \
  --quiet --out "results/ship_${NAME}_test.json"
$PY -m explorer.evaluate --checkpoint "checkpoints/$NAME/model.pt" --audio data/ood --data "data/ds$P" \
  --quiet --out "results/ship_${NAME}_ood.json"
$PY -m explorer.models.steer fit --data "data/ds$P" --out "checkpoints/$NAME/steer.pt"
$PY -m explorer.evaluate.semantic --checkpoint "checkpoints/$NAME/model.pt" --data "data/ds$P" --update-steer \
  --out "results/semantic_${NAME}.json"
if [ -f "$RUN/history.json" ]; then
  $PY -m explorer.models.curves "$RUN" --label "$NAME" --out "checkpoints/$NAME/curves.png"
fi
$PY scripts/model_card.py "checkpoints/$NAME/model.pt" "results/ship_${NAME}_test.json"
