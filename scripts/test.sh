#!/usr/bin/env bash
# `npm test`: every check, in order, stopping at the first failure. Each step prints its name.
# A tool that is missing fails the run in CI (CI=true); elsewhere the step prints SKIPPED with the
# command that installs the tool.
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE=1
STAGE=dev
started=$(date +%s)

step() { printf '\n=== %s\n' "$1"; }
missing() { # $1 tool, $2 install command
  if [ "${CI:-}" = "true" ]; then
    echo "FAILED: $1 is not installed (CI=true). Install it with: $2" >&2
    exit 1
  fi
  echo "SKIPPED: $1 is not installed; install it with: $2"
}

# The typecheck runs in the background while lint, unit tests and packaging run (they use the other
# core); its result is printed, and a failure stops the run, right after packaging.
step "typecheck (tsc --noEmit), in the background"
tsc_log=$(mktemp)
npx --no-install tsc -p . --noEmit >"$tsc_log" 2>&1 &
tsc_pid=$!

step "lint and format (biome check)"
npx --no-install biome check .

step "unit tests (jest test/unit)"
npx --no-install jest --ci --bail test/unit

step "package both services for stage ${STAGE} (sls package, offline, both at once; validates every state machine definition)"
npx --no-install tsx scripts/package.ts "${STAGE}"

step "typecheck result (tsc --noEmit)"
if wait "$tsc_pid"; then
  cat "$tsc_log"
  echo "tsc: no errors"
else
  cat "$tsc_log"
  echo "FAILED: tsc --noEmit" >&2
  exit 1
fi

step "cfn-lint on every generated template"
if command -v cfn-lint >/dev/null 2>&1; then
  echo "--- dist/source-${STAGE}/ and dist/destination-${STAGE}/cloudformation-template-update-stack.json (one cfn-lint run)"
  cfn-lint --regions eu-west-1 -- "dist/source-${STAGE}/cloudformation-template-update-stack.json" \
    "dist/destination-${STAGE}/cloudformation-template-update-stack.json"
  echo "cfn-lint: no findings"
else
  missing cfn-lint "pip install 'cfn-lint==1.51.0'"
fi

# Template and twin tests run in one Jest run on two workers. Each worker's twin tests share one
# moto_server, reset between test files; each packaged variant is made once (a per-variant lock
# between workers) and reuses the base package's Lambda zips (twin/src/package.ts).
if npx --no-install tsx twin/src/moto.ts --check; then
  step "template tests and offline twin end-to-end tests (jest test/template test/twin)"
  npx --no-install jest --ci --bail --maxWorkers=2 test/template test/twin
else
  missing "moto 5.2 (moto_server)" "pip install 'moto[server]==5.2.1'"
  step "template tests (jest test/template)"
  npx --no-install jest --ci --bail test/template
fi

printf '\nAll checks passed in %ss.\n' "$(( $(date +%s) - started ))"
