#!/usr/bin/env bash
# Runs every test project of the solution once (Release), then prints one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

deploy/setup.sh --tests || exit 1

results="$(pwd)/TestResults/run-$(date +%s)"
mkdir -p "$results"
dotnet test MnasNet.Actors.sln -c Release --no-build \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" \
  --blame-hang --blame-hang-timeout 10m
rc=$?

passed=0; failed=0; total=0
for trx in "$results"/*.trx; do
  [[ -f "$trx" ]] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); total=$((total + ${t:-0}))
done
# The names of failed tests and the first line of each message, last, so the end of the log says what broke.
for trx in "$results"/*.trx; do
  [[ -f "$trx" ]] || continue
  awk '
    /<UnitTestResult / && /outcome="Failed"/ { match($0, /testName="[^"]*"/); name = substr($0, RSTART + 10, RLENGTH - 11); want = 1; next }
    want && /<Message>/ { line = $0; sub(/.*<Message>/, "", line); sub(/<\/Message>.*/, "", line); print "FAILED " name ": " line; want = 0 }
  ' "$trx"
done
projects=$(ls tests/*/*.Tests.csproj | wc -l)
runs=$(ls "$results"/*.trx 2>/dev/null | wc -l)
if (( runs < projects )); then
  echo "error: only $runs of $projects test projects produced results" >&2
  failed=$((failed + projects - runs))
fi
echo "$passed passed, $failed failed"
(( rc == 0 && failed == 0 && passed > 0 )) || exit 1
