#!/usr/bin/env bash
# Create examples/python-consumer/.venv (git-ignored) with the pinned redis-py. Safe to run again:
# an existing venv that already has the pinned version is kept. Needs python3 (3.8+) with venv
# (Debian: apt-get install python3-venv) and pip's index (PyPI or a mirror pip is set up for).
set -euo pipefail
cd "$(dirname "$0")"
want=$(sed -n 's/^redis==//p' requirements.txt)
if [ -x .venv/bin/python ] && [ "$(.venv/bin/python -c 'import redis; print(redis.__version__)' 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --retries 1 -r requirements.txt
.venv/bin/python -c 'import redis; print("python-consumer: redis-py", redis.__version__, "in", __import__("sys").prefix)'
