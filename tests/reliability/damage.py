"""Every damage kind × every file kind, through the CLI, the API and the window's start.

A cell passes when pmdesk keeps working (no traceback, no 5xx but the 503 that reports damaged
own files, the window starts) and reports what it could not use (a message naming the file,
or the record quarantined and listed), and a link's target is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: max(1, len(data) // 2)])


def _replace(make: Callable[[Path], None]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        make(path)

    return damage


def _link(path: Path) -> None:
    target = path.parent / "elsewhere.txt"
    target.write_text("the user's own file\n")
    path.symlink_to(target)


# Every field name of every file kind, with a value of the wrong type.
WRONG_TYPES = {"version": "x", "projects": 7, "runId": [1], "planId": 5, "packetId": 3, "projectId": 1.5,
               "status": {"a": 1}, "tasks": "x", "prompt": [], "concurrency": "many", "apiPort": [],
               "apiServerEnabled": "maybe", "name": {}, "path": 9}

DAMAGES: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate,
    "empty": lambda path: path.write_bytes(b""),
    "wrong JSON types": lambda path: path.write_text(json.dumps(WRONG_TYPES) if path.suffix == ".json"
                                                     else '{"seq": "x", "kind": 5, "text": [1]}\n'),
    "binary": lambda path: path.write_bytes(os.urandom(2048) + b"\x00\xff"),
    "huge": lambda path: os.truncate(path, 20 * 1024 * 1024) if path.exists() else path.touch(),
    "a directory": _replace(lambda path: path.mkdir()),
    "a FIFO": _replace(lambda path: os.mkfifo(path)),
    "a symlink": _replace(_link),
    "unreadable": lambda path: os.chmod(path, 0),  # its cell runs as nobody: root reads anything
}
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


@dataclass
class Home:
    root: Path
    env: dict[str, str]
    files: dict[str, Path]
    run_id: str
    plan_id: str
    packet_id: str = ""
    user: list[str] | None = None  # run pmdesk as another user (NOBODY)

    def argv(self, *args: str) -> list[str]:
        return [*(self.user or []), PY, *args]

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv("-m", "pmdesk", *args), capture_output=True, text=True, cwd=ROOT,
                              env=self.env, timeout=timeout)


def make_home() -> Home:
    """A private home with one project holding a run, a plan, a packet, events and activity."""
    root = Path(tempfile.mkdtemp(prefix="pmdesk-damage-"))
    env = {**os.environ, "XDG_CONFIG_HOME": str(root / "config"), "XDG_DATA_HOME": str(root / "data"),
           "HOME": str(root), "PMDESK_NO_KEYRING": "1", "QT_QPA_PLATFORM": "offscreen"}
    project = root / "p"
    project.mkdir()
    home = Home(root, env, {}, "", "")
    assert home.cli("project", "add", str(project), "--name", "p").returncode == 0
    home.cli("project", "set", "p", "--command", f"{PY} -c print(1)")
    run = json.loads(home.cli("run", "p", "hello", "--executor", "command", "--json").stdout)
    (root / "tasks.json").write_text(json.dumps({"tasks": [{"id": "a", "description": "x"}]}))
    plan = json.loads(home.cli("plan", "p", "--from-file", str(root / "tasks.json"), "--json").stdout)
    home.cli("inspect", run["runId"])
    subprocess.run([PY, "-c", "from pmdesk.api.token import load_or_create_token; load_or_create_token()"],
                   cwd=ROOT, env=env, check=True, timeout=60)  # the API token, as serve makes it
    home.cli("runs", "p")  # builds the listing index
    state = project / ".claude" / "state"
    config = root / "config" / "pmdesk"
    home.run_id, home.plan_id = run["runId"], plan["planId"]
    home.packet_id = next((state / "inspection-packets").glob("*.json")).stem
    home.files = {
        "registry": config / "projects.json",
        "settings": config / "settings.json",
        "API token": config / "api-token",
        "listing index": state / "index" / "runs.rows.json",
        "run record": state / "runs" / f"{run['runId']}.json",
        "plan record": state / "plans" / f"{plan['planId']}.json",
        "packet record": next((state / "inspection-packets").glob("*.json")),
        "project record": state / "projects" / next((state / "projects").iterdir()).name,
        "events": next((state / "events" / run["runId"]).glob("*.jsonl")),
        "activity": next((state / "activity").glob("*.jsonl")),
    }
    if not home.files["settings"].exists():
        home.files["settings"].write_text("{}")
    return home


def _no_traceback(result: subprocess.CompletedProcess[str]) -> bool:
    return "Traceback" not in result.stderr and result.returncode in (0, 1, 2)


def cell(home: Home, file_kind: str, damage: str, window: bool) -> list[str]:
    """Damage one file one way; what went wrong (empty: the cell passes)."""
    path = home.files[file_kind]
    elsewhere = path.parent / "elsewhere.txt"
    DAMAGES[damage](path)
    if damage == "unreadable":
        subprocess.run(["chown", "-R", "65534:65534", str(home.root)], check=True)
        os.chmod(path, 0)
        home.user = NOBODY
    failures = []
    checks = [("runs", "p"),
              {"plan record": ("show", home.plan_id), "events": ("log", home.run_id), "run record": ("inspect", home.run_id),
               "activity": ("activity", "p"), "packet record": ("plan", "p", "--packet", home.packet_id)
               }.get(file_kind, ("project", "list")), ("project", "show", "p")]
    if file_kind == "API token":
        checks = [("project", "list")]
    outputs = [home.cli(*args) for args in checks]
    for args, result in zip(checks, outputs, strict=True):
        if not _no_traceback(result):
            failures.append(f"cli {' '.join(args)}: exit {result.returncode} {result.stderr[-300:]!r}")
    said = " ".join(r.stderr + r.stdout for r in outputs)
    reported = (path.name in said or "moved aside" in said or "problems" in said or file_kind == "API token" or
                (file_kind in ("listing index", "events", "activity") and outputs[0].returncode == 0))
    if not reported:
        failures.append("the damage is not reported")
    failures += api_failures(home, file_kind)
    if file_kind == "API token":
        serving = subprocess.Popen(home.argv("-m", "pmdesk", "serve", "--port", "0"), cwd=ROOT, env=home.env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = serving.communicate(timeout=8)
        except subprocess.TimeoutExpired:
            serving.kill()
            out, err = serving.communicate()
        works = "API on" in out
        if "Traceback" in err or (not works and "api-token" not in err):
            failures.append(f"serve with a damaged token: {err[-300:]!r}")
    if window:
        started = subprocess.run(home.argv("-m", "pmdesk"), capture_output=True, text=True, cwd=ROOT, timeout=120,
                                 env={**home.env, "PMDESK_STARTUP_PROBE": "ready"})
        if started.returncode != 0 or "readyAt" not in started.stdout:
            failures.append(f"the window did not start: {started.stderr[-300:]!r}")
    if damage == "a symlink" and elsewhere.exists() and elsewhere.read_text() != "the user's own file\n":
        failures.append("a symlink's target was written through")
    return failures


API_PROBE = """
import asyncio, json, sys
from aiohttp.test_utils import TestClient, TestServer
from pmdesk.api.server import create_app
from pmdesk.engine.engine import Engine

async def main(run_id, plan_id):
    engine = Engine(role="serve")
    client = TestClient(TestServer(create_app(engine, "t" * 32, check_host=False)))
    await client.start_server()
    headers = {"Authorization": "Bearer " + "t" * 32}
    out = {}
    projects = await client.get("/api/projects", headers=headers)
    out["projects"] = [projects.status, await projects.text()]
    pid = next((p["projectId"] for p in (json.loads(out["projects"][1]) if projects.status == 200 else [])), "pidx_0")
    for name, path in (("runs", f"/api/projects/{pid}/runs"), ("plan", f"/api/plans/{plan_id}"),
                       ("events", f"/api/runs/{run_id}/events"), ("run", f"/api/runs/{run_id}"),
                       ("activity", f"/api/projects/{pid}/activity")):
        answer = await client.get(path, headers=headers)
        out[name] = [answer.status, await answer.text()]
    await client.close()
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def api_failures(home: Home, file_kind: str) -> list[str]:
    """The API over the damaged home: no 5xx, but the 503 that names a damaged file of pmdesk's own."""
    probe = subprocess.run(home.argv("-c", API_PROBE, home.run_id, home.plan_id), capture_output=True, text=True,
                           cwd=ROOT, env=home.env, timeout=60)
    if probe.returncode != 0:
        return [f"api probe: {probe.stderr[-300:]!r}"]
    failures = []
    for name, (status, body) in json.loads(probe.stdout.strip().splitlines()[-1]).items():
        if status >= 500 and not (status == 503 and home.files[file_kind].name in body):
            failures.append(f"api {name}: {status} {body[:200]!r}")
    return failures


def copy_home(template: Home) -> Home:
    """A fresh copy of the template home, its paths rewritten to where the copy lies."""
    root = Path(tempfile.mkdtemp(prefix="pmdesk-damage-"))
    shutil.rmtree(root)
    shutil.copytree(template.root, root, symlinks=True)
    old, new = str(template.root), str(root)
    for path in (root / "config" / "pmdesk" / "projects.json", *root.glob("p/.claude/state/projects/*.json")):
        path.write_text(path.read_text().replace(old, new))
    shutil.rmtree(root / "p" / ".claude" / "state" / "locks", ignore_errors=True)
    env = {**template.env, "XDG_CONFIG_HOME": str(root / "config"), "XDG_DATA_HOME": str(root / "data"),
           "HOME": str(root)}
    files = {kind: Path(str(path).replace(old, new)) for kind, path in template.files.items()}
    return Home(root, env, files, template.run_id, template.plan_id, template.packet_id)


def run_matrix(full: bool) -> tuple[int, dict[str, list[str]]]:
    """Every cell through the CLI; the window's start in every cell (full) or in one per damage kind."""
    template = make_home()
    failures: dict[str, list[str]] = {}
    cells = 0
    for index, damage in enumerate(DAMAGES):
        for file_index, file_kind in enumerate(FILE_KINDS):
            home = copy_home(template)
            found = cell(home, file_kind, damage, window=full or file_index == index % len(FILE_KINDS))
            cells += 1
            if found:
                failures[f"{damage} × {file_kind}"] = found
            shutil.rmtree(home.root, ignore_errors=True)
    shutil.rmtree(template.root, ignore_errors=True)
    return cells, failures


FILE_KINDS = ("registry", "settings", "API token", "listing index", "run record", "plan record", "packet record",
              "project record", "events", "activity")
