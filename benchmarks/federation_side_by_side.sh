#!/bin/bash
# Side by side, one sitting, trees alternated: `mpcrec bench federation --instances N
# --rounds 5 --windows 3` on BEFORE then AFTER, RUNS times each (default 2), one at a time.
# Each run's JSON goes to OUT_DIR/federation-N-TAG-{before,after}-{i}.json and one line per
# run is printed: median and p95 round, launcher CPU s / round (median), launcher RSS max,
# errors, aborted rounds, and the 1-minute load before and after the run.
#
#   benchmarks/federation_side_by_side.sh BEFORE_TREE AFTER_TREE TAG N [RUNS] [OUT_DIR]
#
# Each tree needs its generated stubs (`PYTHONPATH=TREE python -m mpcrec.proto.build`).
# Example (the digest of issue 15, the coordinator's quiet N = 1,000 run):
#   git -C /work/main worktree add --detach /tmp/sbs-main 65cc654
#   (cd /tmp/sbs-main && PYTHONPATH=$PWD /work/main/.venv/bin/python -m mpcrec.proto.build)
#   benchmarks/federation_side_by_side.sh /tmp/sbs-main /work/wt-digest digest 1000 2 docs/benchmarks
set -u
BEFORE=$1 AFTER=$2 TAG=$3 N=$4 RUNS=${5:-2} OUT=${6:-/tmp}
PY=${PY:-/work/main/.venv/bin/python}
load() { cut -d' ' -f1 /proc/loadavg; }
for i in $(seq 1 "$RUNS"); do
  for SIDE in before after; do
    if [ "$SIDE" = before ]; then TREE=$BEFORE; else TREE=$AFTER; fi
    JSON="$OUT/federation-$N-$TAG-$SIDE-$i.json"
    START=$(date -u +%H:%M:%S) L0=$(load)
    (cd "$TREE" && PYTHONPATH=$TREE timeout 1200 "$PY" -m mpcrec.cli.app bench federation \
      --instances "$N" --rounds 5 --windows 3 --out "$JSON" >/dev/null 2>&1)
    L1=$(load)
    "$PY" - "$JSON" "$SIDE" "$i" "$START" "$L0" "$L1" "$(git -C "$TREE" rev-parse --short HEAD)" <<'EOF'
import json, sys
path, side, i, start, l0, l1, commit = sys.argv[1:]
try:
    r = json.load(open(path))["results"][0]
except (OSError, ValueError, KeyError, IndexError) as err:
    print(f"{side} {i} ({commit}) {start}: no result ({err})")
    raise SystemExit(0)
print(
    f"| {side} ({commit}), run {i}, {start} | {r['round_s_median']:.2f} s | {r['round_s_p95']:.2f} "
    f"| {r['launcher_cpu_s_per_round_median']:.2f} | {r['launcher_rss_max_bytes'] / 1e6:.0f} MB "
    f"| {r['errors']} | {len(r['rounds_aborted'])} | {l0} / {l1} |"
)
EOF
  done
done
