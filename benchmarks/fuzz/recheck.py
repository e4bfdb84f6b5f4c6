"""Read again, after their fix, the inputs of the campaign's batches that crashed.

The campaign's batches 13 and 14 (.abc inputs 400-1199 of seed 20261202) stopped their
prepare with 'notes overlap at step -9223372036854775808' before quantize() dropped notes
of 1e308 quarters. This makes the same 800 inputs again and reads them in one batch the
way run.py does; it prints the accounting and writes it to recheck.json.
Run from the repository root: ``python benchmarks/fuzz/recheck.py``.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, "benchmarks")
sys.path.insert(0, "benchmarks/fuzz")
import tempfile

import inputs
import run as fuzz

folder = Path(tempfile.mkdtemp(prefix="tunesmith-recheck-")) / "in"
folder.mkdir()
fuzz.controls(folder)
made = inputs.make_inputs(
    ".abc", round(10_200 * fuzz.SHARES[".abc"]), 20261202, bomb_size=512 << 20
)
names = []
for k, item in enumerate(made[400:1200], 400):  # the two batches (13, 14) that crashed
    names.append(f"{item.kind}-{k:05d}.abc")
    (folder / names[-1]).write_bytes(item.data)
batch = fuzz.run_batch(folder, 10.0, 1800.0, kill=False)
got = fuzz.account(names, batch, folder)
out = {
    "inputs": len(names),
    "code": batch["code"],
    "traceback": batch["traceback"],
    "hung": batch["hung"],
    "seconds": batch["seconds"],
    "peak_mb": batch["peak_mb"],
    "read": got["read"],
    "items": got["items"],
    "skipped_items": got["skipped_items"],
    "lost": len(got["lost"]),
    "multiline": len(got["multiline"]),
    "reasons": dict(got["reasons"].most_common()),
}
print(json.dumps(out))
(Path(__file__).resolve().parent / "recheck.json").write_text(json.dumps(out, indent=2) + "\n")
