#!/usr/bin/env bash
# Train and evaluate the model zoo for one parameter set with one budget for every model.
#
#   scripts/train_zoo.sh 16 "mlp cnn resnet ae vae wae vae_flow flow_reg flow_dis"
#   scripts/train_zoo.sh 30 "mlp cnn vae vae_flow flow_reg flow_dis"
#   DATA=data/ds16_30k TAG=zoo30k THREADS=2 scripts/train_zoo.sh 16 "flow_reg resnet ..."
#   (a copy of runs/zoo30k16 as runs/zoo30k12ep16, then EPOCHS=12 TAG=zoo30k12ep ...: the same runs continued)
#
# Budget (the same for every model of a table): EPOCHS epochs over the training split of DATA (default
# 6 epochs of data/ds<P>), batch 64, KL/MMD weight warmed up over 2 epochs, regression loss on from epoch 1;
# THREADS torch threads (default 1), one model after the other.
# Each model: runs/<TAG><P>/<model>/model.pt (a run finished at EPOCHS is kept, any other resumed), then
# results/<TAG>_<model>_<P>_test.json, scored on the test split of data/ds<P> (the larger data sets share it).
set -euo pipefail
cd "$(dirname "$0")/.."
P=$1
MODELS=$2
EPOCHS=${EPOCHS:-6}
DATA=${DATA:-data/ds$P}
TAG=${TAG:-zoo}
THREADS=${THREADS:-1}
PY=.venv/bin/python
export OMP_NUM_THREADS=$THREADS PYTHONPATH=.
for m in $MODELS; do
  out=runs/$TAG$P/$m
  # not finished at this budget: start, resume an interrupted run, or continue a shorter one to EPOCHS
  if ! grep -qs -e "done (early stop)" -e "done (.*) after $EPOCHS epochs" "$out/train.log"; then
    resume=()
    [ -f "$out/last.pt" ] && resume=(--resume)
    $PY -m explorer.models.train --model "$m" --data "$DATA" --out "$out" --epochs "$EPOCHS" --threads "$THREADS" \
      --set beta_warmup=2 --set reg_start=1 "${resume[@]}"
  fi
  $PY -m explorer.evaluate --checkpoint "$out/model.pt" --data "data/ds$P" --split test --quiet \
    --out "results/${TAG}_${m}_${P}_test.json"
done
