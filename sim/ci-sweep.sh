#!/usr/bin/env bash
# Crash sweeps and seeded simulations of cairn-sim, as run by .ci/run.
# Every cut point of every workload on NOR flash and on a file with a
# volatile cache (two generations of each workload), I/O errors at every
# cut point, and a bounded seeded simulation. Exits non-zero on any
# violation; each violation prints the command that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${CAIRN_SIM_JOBS:-2}
cargo build --quiet --release -p cairn-sim
bin="${CARGO_TARGET_DIR:-target}/release/cairn-sim"
sim() { "$bin" "$@"; }
echo "--- power cuts at every mutation, every workload, both devices"
sim sweep --workload-seeds 2 --jobs "$jobs"
echo "--- more workload generations on NOR flash (its sweeps are cheap)"
sim sweep --device nor --workload-seed 2 --workload-seeds 2 --jobs "$jobs"
echo "--- power cuts at every mutation, every workload, both devices, the store in fixed memory"
sim sweep --fixed-memory --jobs "$jobs"
echo "--- I/O errors at every mutation"
sim sweep --io-errors --jobs "$jobs"
echo "--- seeded simulations"
sim simulate --seeds 0..300 --steps 2000 --jobs "$jobs" --quiet
