#!/usr/bin/env bash
# Grow the embedded dataset in the background, committing it after every chunk:
#   nohup nice -n 5 bash scripts/campaign.sh 120 > campaign.log 2>&1 &
# $1: total budget in minutes (default 60); $2: minutes per chunk between commits (default 40);
# $3: sites selection (stratified|random, or a JSON site file; default stratified).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
budget=${1:-60}
chunk=${2:-40}
select=${3:-stratified}
dataset=$(.venv/bin/amorphxas dataset path)
end=$(( $(date +%s) + budget * 60 ))
while [ "$(date +%s)" -lt "$end" ]; do
    left=$(( (end - $(date +%s)) / 60 ))
    [ "$left" -lt "$chunk" ] && chunk=$left
    [ "$chunk" -le 0 ] && break
    if [ -f "$select" ]; then
        .venv/bin/amorphxas compute "$dataset" --sites "$select" --budget "$chunk"
    else
        .venv/bin/amorphxas compute "$dataset" --select "$select" --n 500 --budget "$chunk"
    fi
    n=$(.venv/bin/amorphxas dataset info --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["n_sites"])')
    for attempt in 1 2 3 4 5; do
        git add "$dataset" && git commit -q -m "dataset: campaign checkpoint, $n site spectra" -- "$dataset" && break
        sleep 5
    done
done
