#!/usr/bin/env bash
# Train and evaluate the model zoo for one parameter set with one budget for every model.
#
#   scripts/train_zoo.sh 16 "mlp cnn resnet ae vae wae vae_flow flow_reg flow_dis"
#   scripts/train_zoo.sh 30 "mlp cnn vae vae_flow flow_reg flow_dis"
#
# Budget (the same for every model of a table): EPOCHS epochs over the training split (default 6),
# batch 64, KL/MMD weight warmed up over 2 epochs, regression loss on from epoch 1; one torch thread.
# Each model: runs/zoo<P>/<model>/model.pt, then results/zoo_<model>_<P>_test.json.
set -euo pipefail
cd "$(dirname "$0")/.."
P=$1
MODELS=$2
EPOCHS=${EPOCHS:-6}
PY=.venv/bin/python
export OMP_NUM_THREADS=1 PYTHONPATH=.
for m in $MODELS; do
  out=runs/zoo$P/$m
  if [ ! -f "$out/model.pt" ]; then
    $PY -m explorer.models.train --model "$m" --data "data/ds$P" --out "$out" --epochs "$EPOCHS" \
      --set beta_warmup=2 --set reg_start=1
  fi
  $PY -m explorer.evaluate --checkpoint "$out/model.pt" --data "data/ds$P" --split test --quiet \
    --out "results/zoo_${m}_${P}_test.json"
done
