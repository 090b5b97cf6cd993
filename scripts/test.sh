#!/usr/bin/env bash
# `npm test`: install what the integration tests need (Debian packages, as root, only when missing),
# type-check, then run every test file and end with one line `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh || echo "warning: could not install every test dependency; tests that need them will fail and say why"
if ! npx tsc --noEmit; then
  echo "typecheck failed"
  echo "0 passed, 1 failed"
  exit 1
fi
exec node --import tsx scripts/run-tests.ts "$@"
