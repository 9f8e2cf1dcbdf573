#!/usr/bin/env bash
# Contract tests: the official Python azure-batch SDKs (14.2.0 and 15.1.0) against `repool sim`.
# Creates venvs under target/contract, starts the simulator, runs pytest for each SDK version.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet
venvs=target/contract
for version in 14.2.0 15.1.0; do
  venv="$venvs/azure-batch-$version"
  if [ ! -x "$venv/bin/pytest" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "azure-batch==$version" pytest
  fi
done
log=$(mktemp)
REPOOL_DATA_DIR=$(mktemp -d) target/debug/repool sim --seed demo --speed 60 --account contract >"$log" &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^listening on' "$log" && break; sleep 0.1; done
read -r _ _ SIM_URL account key < <(head -n1 "$log")
export SIM_URL SIM_ACCOUNT=${account#account=} SIM_KEY=${key#key=}
"$venvs/azure-batch-14.2.0/bin/pytest" -q -p no:cacheprovider tests/contract/test_sdk14.py
"$venvs/azure-batch-15.1.0/bin/pytest" -q -p no:cacheprovider tests/contract/test_sdk15.py
