#!/usr/bin/env bash
# Contract tests: the official Python azure-batch SDKs (14.2.0 and 15.1.0), the JavaScript
# @azure/batch 10.2.0 and the Azure CLI 2.91.0 against `repool sim`; 15.1.0 and the JavaScript SDK
# also with Entra ID bearer tokens against `repool sim --tls`; 15.1.0 also sees a pool before and after
# repool's own refresh and roll (REPOOL: the binary under test). Installs them under target/contract
# (venvs from PyPI, the npm package from the npm registry), starts the simulators, runs each suite.
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
# The Azure CLI (733 MB, about 2 minutes the first time).
if [ ! -x "$venvs/azure-cli/bin/az" ]; then
  python3 -m venv "$venvs/azure-cli"
  "$venvs/azure-cli/bin/pip" install --quiet azure-cli==2.91.0
fi
sdk_js="$venvs/sdk-js"
if [ ! -d "$sdk_js/node_modules/@azure/batch" ]; then
  mkdir -p "$sdk_js"
  npm install --silent --no-audit --no-fund --prefix "$sdk_js" @azure/batch@10.2.0
fi
log=$(mktemp)
REPOOL_DATA_DIR=$(mktemp -d) "$repool" sim --seed demo --speed 60 --account contract >"$log" &
sim=$!
tls_log=$(mktemp)
REPOOL_DATA_DIR=$(mktemp -d) "$repool" sim --seed demo --speed 60 --tls >"$tls_log" &
tls_sim=$!
trap 'kill $sim $tls_sim 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^listening on' "$log" && grep -q '^trust ca=' "$tls_log" && break; sleep 0.1; done
read -r _ _ SIM_URL account key < <(head -n1 "$log")
read -r _ _ SIM_TLS_URL _ < <(head -n1 "$tls_log")
read -r _ ca _ < <(sed -n 2p "$tls_log")
export SIM_URL SIM_ACCOUNT=${account#account=} SIM_KEY=${key#key=}
"$venvs/azure-batch-14.2.0/bin/pytest" -q -p no:cacheprovider tests/contract/test_sdk14.py
REPOOL="$(realpath "$repool")" "$venvs/azure-batch-15.1.0/bin/pytest" -q -p no:cacheprovider tests/contract/test_sdk15.py
AZ="$venvs/azure-cli/bin/az" AZURE_CONFIG_DIR="$(mktemp -d)" AZURE_CORE_COLLECT_TELEMETRY=0 AZURE_CORE_SURVEY_MESSAGE=false \
  "$venvs/azure-batch-15.1.0/bin/pytest" -q -p no:cacheprovider tests/contract/test_az.py
SIM_TLS_URL="$SIM_TLS_URL" REQUESTS_CA_BUNDLE="${ca#ca=}" \
  "$venvs/azure-batch-15.1.0/bin/pytest" -q -p no:cacheprovider tests/contract/test_sdk15_tls.py
SDK_JS_DIR="$(cd "$sdk_js" && pwd)" node --test --test-reporter=dot tests/contract/test_sdk_js.mjs
SDK_JS_DIR="$(cd "$sdk_js" && pwd)" SIM_TLS_URL="$SIM_TLS_URL" NODE_EXTRA_CA_CERTS="${ca#ca=}" \
  node --test --test-reporter=dot tests/contract/test_sdk_js_tls.mjs
