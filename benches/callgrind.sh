#!/usr/bin/env bash
# Instructions per request for each scenario, bare and observed, counted by
# callgrind (stable under load, unlike timings). Prints one line a scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
binary=$(cargo bench --features follow --bench instructions --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "instructions" and m.get("executable"):
        print(m["executable"])')
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$binary" "$1" "$2" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-20s %12s\n' scenario instructions/request
for scenario in ok_bare ok_floor ok_observed ok_bodies ok_sensitive ok_trace ok_handwritten \
  code_bare code_floor code_observed code_bodies code_sensitive code_trace code_handwritten \
  issuer_bare issuer_floor issuer_observed issuer_bodies issuer_trace issuer_handwritten \
  par_bare par_floor par_observed par_bodies par_trace par_handwritten \
  rejection_bare rejection_floor rejection_observed rejection_recorded rejection_bodies \
  rejection_handwritten parsing_floor; do
  small=$(count "$scenario" 1000)
  large=$(count "$scenario" 11000)
  printf '%-20s %12d\n' "$scenario" $(( (large - small) / 10000 ))
done
