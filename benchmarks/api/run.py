"""The web API fuzzed against its own OpenAPI schema, on a real loopback server.

`tunesmith serve` runs in a subprocess on a free 127.0.0.1 port, its working folder a
sandbox holding the runs folder, the output folder and a canary file. The cases are drawn
with hypothesis: bodies valid under the schema's GenerateRequest (drawn by
:func:`from_schema` from the published schema itself; the run name mostly one that exists,
so most reach generation), bodies made invalid one
field at a time (wrong types, out of range, missing, extra fields), arbitrary JSON and
bytes that are not JSON, file paths for /api/files (traversal, encoded dots, absolute,
NUL, long), and every GET route. Checked for every answer: no 5xx; an error is JSON with a
one-line string ``detail``; a 200 from /api/generate matches the schema's
GenerateResponse and its links are served; after the campaign no file was written, changed
or removed outside the output folder.

All traffic goes to 127.0.0.1; the campaign is bounded in cases and in time.

Run: ``python benchmarks/api/run.py --run RUN`` (2,000 cases) or ``--quick`` (150).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))

import common
import jsonschema
from grammar import draw
from hypothesis import strategies as st

web = common.load_script("web")  # benchmarks/web/run.py: the server and a run to serve

TIMEOUT = 120.0


def resolve(schema: Any, spec: dict[str, Any]) -> Any:
    """``schema`` with every ``$ref`` into the spec's components replaced by its target."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return resolve(spec["components"]["schemas"][name], spec)
        return {k: resolve(v, spec) for k, v in schema.items()}
    if isinstance(schema, list):
        return [resolve(v, spec) for v in schema]
    return schema


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy:
    """Values valid under a JSON schema of the kinds FastAPI publishes for flat models:
    objects of typed properties, ``anyOf``, bounds, lengths (hypothesis-jsonschema does
    this in general but does not work with the hypothesis installed)."""
    if "anyOf" in schema:
        return st.one_of([from_schema(s) for s in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v) for k, v in props.items() if k in required},
            optional={k: from_schema(v) for k, v in props.items() if k not in required},
        )
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -(2**40) - 1) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", 2**40 + 1) - 1)
        return st.integers(low, high)
    if kind == "number":
        return st.floats(
            schema.get("minimum", schema.get("exclusiveMinimum")),
            schema.get("maximum", schema.get("exclusiveMaximum")),
            exclude_min="exclusiveMinimum" in schema,
            exclude_max="exclusiveMaximum" in schema,
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 100))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    raise ValueError(f"schema kind not handled: {schema}")


WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False) | st.sampled_from([1e308, -1e308]),
    st.text(max_size=500),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
PATHS = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        ["..", "../..", "%2e%2e/%2e%2e/etc/passwd", "/etc/passwd", "..%2f..%2fetc", "a/../../b",
         "x" * 300, "%00", "a%00b/c", "job/..", "./.", "~", "a\\..\\b", "%252e%252e/x"]
    ),
    st.builds(lambda a, b: f"{a}/{b}", st.text(max_size=20), st.text(max_size=20)),
)  # fmt: skip


def cases(spec: dict[str, Any], run: str, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` requests: about 40 % valid generate bodies, the rest invalid or odd."""
    body_schema = resolve(spec["components"]["schemas"]["GenerateRequest"], spec)
    valid = from_schema(body_schema).map(
        lambda b: b if random.Random(str(b)).random() < 0.1 else {**b, "run": run}
    )
    fields = list(body_schema["properties"])
    broken = st.builds(
        lambda b, f, v, drop: {k: x for k, x in b.items() if k != f} if drop else {**b, f: v},
        valid,
        st.sampled_from([*fields, "extra_field"]),
        WRONG,
        st.booleans(),
    )
    request = st.one_of(
        st.builds(lambda b: {"method": "POST", "path": "/api/generate", "json": b}, valid),
        st.builds(lambda b: {"method": "POST", "path": "/api/generate", "json": b}, valid),
        st.builds(lambda b: {"method": "POST", "path": "/api/generate", "json": b}, broken),
        st.builds(lambda b: {"method": "POST", "path": "/api/generate", "json": b}, JSON),
        st.builds(lambda b: {"method": "POST", "path": "/api/generate", "raw": b}, st.binary()),
        st.builds(
            lambda p: {"method": "GET", "path": "/api/files/" + urllib.parse.quote(p, safe="/%")},
            PATHS,
        ),
        st.builds(
            lambda m, p: {"method": m, "path": p},
            st.sampled_from(["GET", "GET", "POST", "PUT", "DELETE"]),
            st.sampled_from(["/api/runs", "/api/instruments", "/", "/openapi.json", "/api/x"]),
        ),
    )
    return draw(request, count, seed)


def route(path: str) -> str:
    """The route a path belongs to (/api/files/... is one route)."""
    return "/api/files/{path}" if path.startswith("/api/files/") else path


def send(base: str, case: dict[str, Any]) -> tuple[int, bytes, float]:
    data = case.get("raw")
    if "json" in case:
        data = json.dumps(case["json"]).encode()
    req = urllib.request.Request(base + case["path"], data=data, method=case["method"])
    req.add_header("Content-Type", "application/json")
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, r.read(), time.perf_counter() - t0
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), time.perf_counter() - t0
    except (TimeoutError, urllib.error.URLError) as exc:  # no answer: a problem, not a stop
        return 0, f"no answer within {TIMEOUT:g} s ({exc})".encode(), time.perf_counter() - t0


def check(base: str, case: dict[str, Any], status: int, body: bytes, spec: dict) -> str | None:
    """What is wrong with one answer, or None."""
    if status == 0:
        return body.decode()
    if status >= 500:
        return f"server error {status}: {body[:200]!r}"
    if status >= 400:
        try:
            detail = json.loads(body)["detail"]
        except (ValueError, KeyError, TypeError):
            return f"{status} without a JSON detail: {body[:200]!r}"
        if status != 405 and (not isinstance(detail, str) or "\n" in detail or not detail):
            return f"{status} detail not one line: {detail!r}"
        return None
    if case["path"] == "/api/generate" and case["method"] == "POST":
        answer = json.loads(body)
        schema = resolve(spec["components"]["schemas"]["GenerateResponse"], spec)
        try:
            jsonschema.validate(answer, schema)
        except jsonschema.ValidationError as exc:
            return f"answer does not match GenerateResponse: {exc.message}"
        for link in answer["files"].values():
            if link and send(base, {"method": "GET", "path": link})[0] != 200:
                return f"{link} not served"
    return None


def tree(folder: Path, skip: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` but those under ``skip`` (and the harness's own
    server.log): size and modification time."""
    out = {}
    for p in folder.rglob("*"):
        if p.is_file() and not p.is_relative_to(skip) and p.name != "server.log":
            st_ = p.stat()
            out[str(p)] = (st_.st_size, st_.st_mtime_ns)
    return out


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="serve this run (default: train a tiny one)")
    p.add_argument("--cases", type=int, default=2000)
    p.add_argument("--time-limit", type=float, default=3600.0, help="seconds for all cases")
    p.add_argument("--seed", type=int, default=20261202)
    args = p.parse_args()
    if args.quick:
        args.cases = 150
    common.progress(common.describe_machine())
    with tempfile.TemporaryDirectory(prefix="tunesmith-api-fuzz-") as tmp:
        sandbox = Path(tmp)
        (sandbox / "canary.txt").write_text("never written by the server\n")
        runs = sandbox / "runs"
        if args.run:
            import shutil

            shutil.copytree(args.run, runs / args.run.name)
            name = args.run.name
        else:
            name = web.train_run(sandbox / "train", 5.0, True).name
            (sandbox / "train" / "runs").rename(runs)
        out = sandbox / "out"
        before = tree(sandbox, out)
        port = web.free_port()
        server = web.start_server(runs, out, port, cwd=sandbox)
        base = f"http://127.0.0.1:{port}"
        problems: list[dict[str, Any]] = []
        statuses: Counter[str] = Counter()
        latencies = []
        try:
            with urllib.request.urlopen(base + "/openapi.json", timeout=30) as r:
                spec = json.load(r)
            made = cases(spec, name, args.cases, args.seed)
            common.progress(f"{len(made)} cases against {base}")
            end = time.monotonic() + args.time_limit
            for k, case in enumerate(made):
                if time.monotonic() > end:
                    break
                status, body, seconds = send(base, case)
                latencies.append(seconds)
                statuses[f"{case['method']} {route(case['path'])} {status}"] += 1
                wrong = check(base, case, status, body, spec)
                if wrong:
                    problems.append({"case": case, "problem": wrong})
                if k % 200 == 0:
                    common.progress(f"{k} cases, {len(problems)} problems")
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)
        sent = len(latencies)
        outside = {k for k, v in tree(sandbox, out).items() if before.get(k) != v}
        outside |= {k for k in before if not Path(k).exists()}
    server_errors = sum(n for k, n in statuses.items() if int(k.rsplit(" ", 1)[1]) >= 500)
    rows = [[k, n] for k, n in sorted(statuses.items())]
    common.print_table(f"API fuzz: {sent} cases", ["method, route, status", "cases"], rows)
    print(
        f"{sent} cases; {server_errors} server errors; {len(problems)} problems; "
        f"{len(outside)} files touched outside the output folder"
    )
    for problem in problems[:10]:
        print(f"  {problem['problem']}: {json.dumps(problem['case'])[:300]}")
    common.write_results(
        __file__,
        "api-fuzz",
        args.quick,
        {"cases": args.cases, "seed": args.seed, "run": str(args.run or "tiny, trained 5 s")},
        {
            "cases": sent,
            "server_errors": server_errors,
            "problems": problems[:50],
            "problem_count": len(problems),
            "outside_output_folder": sorted(outside),
            "statuses": dict(sorted(statuses.items())),
            "latency": common.summary(latencies) if latencies else {},
        },
    )
    if server_errors or problems or outside:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
