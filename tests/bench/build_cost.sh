#!/usr/bin/env bash
# Clean release build of the haven binary at each given commit, one after another on this machine: wall
# time, CPU time and binary size, plus lines of Rust per component (tests excluded). BENCHMARKS.md quotes
# the output for issue 12's before/after.
#
#   tests/bench/build_cost.sh <commit> [<commit> ...]
#
# Each commit is checked out into a temporary worktree and built with an empty target dir, so nothing is
# shared between builds but the crate registry. The package is `haven-cli` (older commits: `haven`).
# With KEEP_BINARIES=dir, each binary is kept as dir/haven-<commit> (for tests/bench/gateway_overhead.sh's
# BASELINE_HAVEN).
set -euo pipefail
cd "$(dirname "$0")/../.."
for commit in "$@"; do
  tree="$(mktemp -d)"
  target="$(mktemp -d)"
  git worktree add -q --detach "$tree" "$commit"
  package="$(awk -F'"' '/^\[package\]/ {p = 1} p && /^name/ {print $2; exit}' "$tree/crates/cli/Cargo.toml")"
  echo "## $(git rev-parse --short "$commit"): cargo build --release -p $package"
  start=$(date +%s.%N)
  /usr/bin/time -f "cpu %U user + %S sys seconds, peak %M KiB" \
    env CARGO_TARGET_DIR="$target" CARGO_INCREMENTAL=0 cargo build --release -q --locked -p "$package" \
    --manifest-path "$tree/Cargo.toml" 2>&1 | tail -1
  end=$(date +%s.%N)
  printf 'wall %.0f s\n' "$(echo "$end - $start" | bc)"
  printf 'binary %s bytes\n' "$(stat -c %s "$target/release/haven")"
  if [ -n "${KEEP_BINARIES:-}" ]; then
    mkdir -p "$KEEP_BINARIES"
    cp "$target/release/haven" "$KEEP_BINARIES/haven-$(git rev-parse --short "$commit")"
  fi
  for dir in services/gateway services/identity services/family-tracing services/learning \
    crates/platform crates/authz crates/keyfile crates/passport crates/cli; do
    lines=0
    if [ -d "$tree/$dir/src" ]; then
      lines=$(find "$tree/$dir/src" -name '*.rs' -print0 | xargs -0 cat | wc -l)
    fi
    printf 'lines %-24s %s\n' "$dir" "$lines"
  done
  git worktree remove --force "$tree"
  rm -rf "$target"
done
