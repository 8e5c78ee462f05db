#!/usr/bin/env bash
# One GPU session's work, within a stated time, bringing back only small files.
#
#   1. the CUDA tests (pytest -m cuda): graphs against plain steps, no host sync per update;
#   2. the device benchmark (benchmarks/bench_device.py): updates/s, one net and stacks of
#      K = 1, 4, 16, 32, graphs off and on, against the memory roof;
#   3. the Glorot & Bengio (2010) reproduction at the 'gpu-session' budget (width 1000,
#      200,000 updates, 18 Shapeset runs stacked per activation) for as long as the time
#      left allows, then stopped (the runs checkpoint) and reported at the updates reached:
#      Figure 11, Table 1, every evaluation (benchmarks/gpu_session_report.py).
#
# Everything lands under $OUT if set, else gpu-results/ (figures, JSON, CSV, Markdown, the
# logs); the run directories and checkpoints stay in a work folder ($WORK, default a
# temporary one) and are not brought back. The same command again on the same $WORK
# continues the reproduction from its checkpoints.
#
#   benchmarks/gpu_session.sh                       # cuda, 540 s in all
#   benchmarks/gpu_session.sh --seconds 420 --budget gpu-session
#   benchmarks/gpu_session.sh --dry-run --device cpu --seconds 60
#
# --dry-run runs every step at its smallest (the graph tests only, a benchmark of Nielsen's
# net alone and a stack of 1 for 0.05 s each, the 'smoke' budget), to check the script on a
# machine without a GPU in about a minute.
set -u

DEVICE=cuda
SECONDS_IN_ALL=540
BUDGET=gpu-session
DRY=0
REPORT_SECONDS=90   # kept back for the report (figures, Table 1) after the reproduction stops
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --seconds) SECONDS_IN_ALL="$2"; shift 2 ;;
    --budget) BUDGET="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    *) echo "gpu_session.sh: unknown option $1 (--device, --seconds, --budget, --dry-run)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
OUT="${OUT:-gpu-results}"
WORK="${WORK:-$(mktemp -d -t depthlab-gpu-session-XXXX)}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
log() { echo "[$(elapsed) s] $*" | tee -a "$OUT/session.log"; }

if [ "$DRY" = 1 ]; then
  TESTS=(tests/training/test_graphs.py)
  BENCH=(--nets nielsen --ks 1 --seconds 0.05)
  BUDGET=smoke
  REPORT_SECONDS=30
else
  TESTS=(tests)
  BENCH=()
fi

log "device $DEVICE, $SECONDS_IN_ALL s in all, budget $BUDGET, work folder $WORK"
python -c "import torch; print('torch', torch.__version__, '| cuda', torch.cuda.is_available(), '|',
torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')" 2>&1 | tee -a "$OUT/session.log"

command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,clocks.max.memory,power.limit \
  --format=csv 2>&1 | tee -a "$OUT/session.log"

log "1. the CUDA tests"
python -m pytest -q -m cuda -p no:cacheprovider "${TESTS[@]}" > "$OUT/cuda-tests.txt" 2>&1
log "   exit $? ($(tail -n 1 "$OUT/cuda-tests.txt"))"

log "2. the device benchmark"
python benchmarks/bench_device.py --device "$DEVICE" --json "$OUT/bench.json" "${BENCH[@]}" \
  > "$OUT/bench.txt" 2>&1
log "   exit $?"
cat "$OUT/bench.txt"

LEFT=$(( SECONDS_IN_ALL - $(elapsed) - REPORT_SECONDS ))
log "3. reproduce glorot2010 --budget $BUDGET for at most $LEFT s"
python -m depthlab reproduce glorot2010 --budget "$BUDGET" --device "$DEVICE" --datasets shapeset \
  --out "$WORK/glorot2010" --dry-run 2>&1 | tail -n 2 | tee -a "$OUT/session.log"  # runs, updates, expected time
if [ "$LEFT" -gt 10 ]; then
  timeout --signal=INT --kill-after=60 "$LEFT" python -m depthlab reproduce glorot2010 --budget "$BUDGET" \
    --device "$DEVICE" --datasets shapeset --out "$WORK/glorot2010" --quiet > "$OUT/reproduce.txt" 2>&1
  log "   exit $? (124 or 130: stopped when its time was up, every run checkpointed)"
else
  log "   no time left for it"
fi

log "4. the report at the updates reached"
python benchmarks/gpu_session_report.py "$WORK/glorot2010" "$OUT" --budget "$BUDGET" --device "$DEVICE" \
  2>&1 | tee -a "$OUT/session.log"
log "done: $(find "$OUT" -type f | wc -l) files in $OUT, $(du -sh "$OUT" | cut -f1)"
