#!/bin/bash
# Side by side, one sitting, trees alternated: `mpcrec bench federation --instances N
# --rounds 5 --windows 3` on BEFORE then AFTER, RUNS times each (default 2), one at a time.
# Each run's JSON goes to OUT_DIR/federation-N-TAG-{before,after}-{i}.json and one line per
# run is printed: median and p95 round, the median from the draw to publishing (collecting +
# computing: the part after the beacon wait, whose end falls anywhere in a 1-s beacon period;
# read from the run's launcher events, kept for this and then removed), launcher CPU s /
# round (median), launcher RSS max, errors, aborted rounds, and the 1-minute load before and
# after the run. Certificates are made once, in PKI (default the benchmark's own cache).
#
#   benchmarks/federation_side_by_side.sh BEFORE_TREE AFTER_TREE TAG N [RUNS] [OUT_DIR]
#
# Each tree needs its generated stubs (`PYTHONPATH=TREE python -m mpcrec.proto.build`).
# Example (the digest of issue 15, the coordinator's quiet N = 1,000 run):
#   git -C /work/main worktree add --detach /tmp/sbs-main 65cc654
#   (cd /tmp/sbs-main && PYTHONPATH=$PWD /work/main/.venv/bin/python -m mpcrec.proto.build)
#   benchmarks/federation_side_by_side.sh /tmp/sbs-main /work/wt-digest digest 1000 2 docs/benchmarks
set -u
BEFORE=$1 AFTER=$2 TAG=$3 N=$4 RUNS=${5:-2} OUT=$(realpath "${6:-/tmp}")
PY=${PY:-/work/main/.venv/bin/python}
PKI=${PKI:-/tmp/mpcrec-bench-federation-pki}
load() { cut -d' ' -f1 /proc/loadavg; }
for i in $(seq 1 "$RUNS"); do
  for SIDE in before after; do
    if [ "$SIDE" = before ]; then TREE=$BEFORE; else TREE=$AFTER; fi
    JSON="$OUT/federation-$N-$TAG-$SIDE-$i.json"
    START=$(date -u +%H:%M:%S) L0=$(load) KEPT=$(mktemp -d)
    (cd "$TREE" && TMPDIR=$KEPT PYTHONPATH=$TREE timeout 1200 "$PY" -m mpcrec.cli.app bench \
      federation --instances "$N" --rounds 5 --windows 3 --pki "$PKI" --keep --out "$JSON" \
      >/dev/null 2>&1)
    L1=$(load)
    "$PY" - "$JSON" "$SIDE" "$i" "$START" "$L0" "$L1" "$(git -C "$TREE" rev-parse --short HEAD)" \
      "$KEPT" <<'EOF'
import glob, json, statistics, sys
path, side, i, start, l0, l1, commit, kept = sys.argv[1:]
try:
    r = json.load(open(path))["results"][0]
except (OSError, ValueError, KeyError, IndexError) as err:
    print(f"{side} {i} ({commit}) {start}: no result ({err})")
    raise SystemExit(0)
drawn, after = {}, []
for events in glob.glob(f"{kept}/mpcrec-federation-*/events.jsonl"):
    for line in open(events):
        e = json.loads(line)
        if e.get("event") != "round":
            continue
        if e["state"] == "collecting":
            drawn[e["round_id"]] = e["time"]
        elif e["state"] == "published" and e["round_id"] in drawn:
            after.append(e["time"] - drawn[e["round_id"]])
after_s = f"{statistics.median(after):.2f} s" if after else "-"
print(
    f"| {side} ({commit}), run {i}, {start} | {r['round_s_median']:.2f} s | {r['round_s_p95']:.2f} "
    f"| {after_s} | {r['launcher_cpu_s_per_round_median']:.2f} "
    f"| {r['launcher_rss_max_bytes'] / 1e6:.0f} MB | {r['errors']} | {len(r['rounds_aborted'])} "
    f"| {l0} / {l1} |"
)
EOF
    rm -rf "$KEPT"
  done
done
