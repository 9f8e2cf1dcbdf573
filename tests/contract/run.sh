#!/usr/bin/env bash
# Contract tests: the official Python azure-batch SDKs (14.2.0 and 15.1.0) and the JavaScript
# @azure/batch 10.2.0 against `repool sim`. Installs them under target/contract (venvs from PyPI,
# the npm package from the npm registry), starts the simulator, runs each suite.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet
# The binary cargo just built (CARGO_TARGET_DIR honoured) and where the clients are installed.
repool="${CARGO_TARGET_DIR:-target}/debug/repool"
venvs="${CONTRACT_DIR:-target/contract}"
for version in 14.2.0 15.1.0; do
  venv="$venvs/azure-batch-$version"
  if [ ! -x "$venv/bin/pytest" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "azure-batch==$version" pytest
  fi
done
sdk_js="$venvs/sdk-js"
if [ ! -d "$sdk_js/node_modules/@azure/batch" ]; then
  mkdir -p "$sdk_js"
  npm install --silent --no-audit --no-fund --prefix "$sdk_js" @azure/batch@10.2.0
fi
log=$(mktemp)
REPOOL_DATA_DIR=$(mktemp -d) "$repool" sim --seed demo --speed 60 --account contract >"$log" &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^listening on' "$log" && break; sleep 0.1; done
read -r _ _ SIM_URL account key < <(head -n1 "$log")
export SIM_URL SIM_ACCOUNT=${account#account=} SIM_KEY=${key#key=}
"$venvs/azure-batch-14.2.0/bin/pytest" -q -p no:cacheprovider tests/contract/test_sdk14.py
"$venvs/azure-batch-15.1.0/bin/pytest" -q -p no:cacheprovider tests/contract/test_sdk15.py
SDK_JS_DIR="$(cd "$sdk_js" && pwd)" node --test --test-reporter=dot tests/contract/test_sdk_js.mjs
