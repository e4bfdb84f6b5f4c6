#!/usr/bin/env bash
# wheel_check.sh WHEEL_DIR EXAMPLES: with the venv in WHEEL_DIR/venv (the wheel installed into
# it alone), run `tunesmith generate essen`, `generate chorales` and every example notebook in a folder outside the
# checkout, so that nothing is read from the source tree.
set -euo pipefail
wheel_dir="$1"
examples="$2"
bin="$wheel_dir/venv/bin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
ls -l "$wheel_dir"/tunesmith-*.whl | awk '{printf "wheel: %s, %.1f MB\n", $NF, $5 / 1e6}'
"$bin/python" - <<'PY'
import tunesmith, pathlib
where = pathlib.Path(tunesmith.__file__).parent
print(f"tunesmith {tunesmith.__version__} from {where}")
assert "site-packages" in str(where), "tunesmith imported from the checkout, not the wheel"
PY
start=$(date +%s.%N)
"$bin/tunesmith" generate essen --out out/ --seed 7
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "tunesmith generate essen: %.1f s\n", e - s }'
ls out/melody-01.mid out/melody-01.png >/dev/null
start=$(date +%s.%N)
"$bin/tunesmith" generate chorales --out out/ --num 2 --bars 8
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "tunesmith generate chorales: %.1f s\n", e - s }'
ls out/chorale-01.mid >/dev/null
for notebook in "$examples"/*.ipynb; do
  cp "$notebook" .
  "$bin/python" - "$(basename "$notebook")" <<'PY'
import sys, time
import nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
start = time.perf_counter()
NotebookClient(nb, timeout=600, kernel_name="python3").execute()
print(f"{path}: {len(nb.cells)} cells ran in {time.perf_counter() - start:.1f} s")
PY
done
echo "wheel check passed"
