#!/usr/bin/env bash
# Retrain both of the detector's shipped models from the development data and check that the
# files come out byte for byte as shipped (exit 0), or say which one differs (exit 1).
#
#   scripts/reproduce_models.sh ../data/KFall ../data/SisFall_dataset [CACHE]
#
# 1. The general fall-score network (controller/detect/fall_model_weights.py) was written by the
#    trainer and tracker of commit 7acda7f, on the KFall development subjects. Today's trainer
#    streams today's detector (a tracker that arms only when still, tilt from the gait posture)
#    and writes a different network, which fully nested cross-validation found worse (see
#    docs/detection.md, "The learned pre-impact score"), so the shipped file is reproduced by
#    running that commit's trainer in a temporary git worktree (the full history is needed).
# 2. The gait-fall specialist (controller/detect/gait_fall_weights.py): today's
#    scripts/train_gait_model.py --write, to a temporary file.
# Needs .venv (make test creates it). About 4 minutes on an empty CACHE.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 KFALL_DIR SISFALL_DIR [CACHE]" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
kfall=$(realpath "$1")
sisfall=$(realpath "$2")
cache=$(realpath -m "${3:-/tmp/treadguard-reproduce}")
py="$root/.venv/bin/python"
commit=7acda7f
for d in "$kfall/sensor_data" "$sisfall"; do
    [ -d "$d" ] || { echo "reproduce_models: no such folder: $d" >&2; exit 2; }
done
git -C "$root" cat-file -e "$commit^{commit}" 2>/dev/null || {
    echo "reproduce_models: commit $commit is not in this clone (a shallow clone?): git fetch --unshallow" >&2
    exit 2
}
work=$(mktemp -d)
cleanup() {
    git -C "$root" worktree remove --force "$work/at-$commit" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
status=0
git -C "$root" worktree add --detach -q "$work/at-$commit" "$commit"
(cd "$work/at-$commit" && "$py" -m controller.evaluate.train_fall_model "$kfall" \
    --out "$work/fall_model_weights.py" 2>/dev/null)
if cmp -s "$work/fall_model_weights.py" "$root/controller/detect/fall_model_weights.py"; then
    echo "controller/detect/fall_model_weights.py: reproduced byte for byte (trainer of $commit)"
else
    echo "controller/detect/fall_model_weights.py: DIFFERS from what the trainer of $commit writes" >&2
    status=1
fi
"$py" "$root/scripts/train_gait_model.py" --kfall "$kfall" --sisfall "$sisfall" \
    --cache "$cache" --no-cv --write --out "$work/gait_fall_weights.py" >/dev/null
if cmp -s "$work/gait_fall_weights.py" "$root/controller/detect/gait_fall_weights.py"; then
    echo "controller/detect/gait_fall_weights.py: reproduced byte for byte"
else
    echo "controller/detect/gait_fall_weights.py: DIFFERS from what scripts/train_gait_model.py writes" >&2
    status=1
fi
exit $status
