#!/usr/bin/env bash
# Every model family at one equal wall-clock budget, all at once on one GPU (how the lent H100 was used).
#   scripts/gpu_zoo.sh PACKED_DATASET MINUTES RUNS_DIR
# PACKED_DATASET comes from `python scripts/pack_u8.py pack data/ds16 gpu/ds16` (small enough to travel).
# Each run: explorer.models.train with early stopping on validation, --max-minutes as the cap, one CPU thread.
set -u
packed=$1; minutes=$2; runs=$3
data=$runs/data
python3 scripts/pack_u8.py unpack "$packed" "$data" || exit 1
python3 -c "import torch; assert torch.cuda.is_available(); print(torch.cuda.get_device_name(0))" || exit 1
mkdir -p "$runs"
start() {  # name model [--set ...]
  local name=$1 model=$2; shift 2
  python3 -m explorer.models.train --model "$model" --data "$data" --out "$runs/$name" --device cuda --threads 1 \
    --epochs 1000 --max-minutes "$minutes" "$@" > "$runs/$name.out" 2>&1 &
}
for m in mlp cnn resnet ae vae wae vae_flow flow_reg flow_dis; do start "$m" "$m"; done
start flow_dis_desc flow_dis --set dis_target=descriptor
start flow_dis_desc_s025 flow_dis --set dis_target=descriptor --set dis_sigma=0.25
sleep 60
for f in "$runs"/*.out; do echo "== $f"; tr '\r' '\n' < "$f" | grep -v "^\s*$" | tail -n 2; done
wait
for f in "$runs"/*/train.log; do echo "== $f"; tail -n 1 "$f"; done
