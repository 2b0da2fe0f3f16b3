#!/bin/bash
# loader_failures.sh NAME: setup (output dropped), then load (everything shown kept) in /tmp/qa3l/w/NAME
PY=${PY:-/work/venvs/qa3-loaders/bin/python}  # torch==2.13.0 first, then the libraries
n=$1
S=$(cd "$(dirname "$0")" && pwd)
rm -rf /tmp/qa3l/w/$n; mkdir -p /tmp/qa3l/w/$n /tmp/qa3l/out; cd /tmp/qa3l/w/$n
$PY "$S"/loader_failures.py setup $n > /tmp/qa3l/w/$n.setup.log 2>&1 || echo "SETUP FAILED $n"
env -u HF_HUB_OFFLINE $PY "$S"/loader_failures.py load $n > /tmp/qa3l/out/$n.txt 2>&1
echo "$n rc=$?"
