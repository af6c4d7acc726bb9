#!/usr/bin/env bash
# Every test Berth has: set-up (as a newcomer's machine would get it), then
# type checks, lint, unit tests and integration tests against real parts.
set -euo pipefail
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
cd "$(dirname "$0")/.."

# Tests must not touch a developer's own data directory.
if [ -n "${BERTH_TEST_DATA_DIR:-}" ]; then
  export BERTH_DATA_DIR="$BERTH_TEST_DATA_DIR"
else
  BERTH_DATA_DIR="$(mktemp -d /tmp/berth-test-data.XXXXXX)"
  export BERTH_DATA_DIR
  trap 'rm -rf "$BERTH_DATA_DIR"' EXIT
fi
# The VM image builders' downloads (kernel, agent): once per machine, shared with the tests' engines.
export BERTH_CACHE_DIR="${BERTH_CACHE_DIR:-/tmp/berth-build-cache}"
./scripts/setup.sh --no-serve

npx --no-install turbo run typecheck lint test:unit --output-logs=errors-only
# No module may import itself through others, in any workspace.
npx --no-install tsx scripts/import-cycles.ts
# bench/ is not a workspace: check it here so it cannot rot.
npx --no-install tsc -p bench/tsconfig.json --noEmit
npx --no-install eslint bench
npx --no-install turbo run test:integration --concurrency=1 --output-logs=full
echo "All tests passed."
