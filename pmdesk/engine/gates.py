"""Verify's gates: which commands, run how, and what their output means."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pmdesk.errors import ErrorKind, PmdeskError
from pmdesk.executors.lines import joined
from pmdesk.executors.process import Child, end_process_group, spawn
from pmdesk.models import GateCheck

SPEC_ORDER = ("gate:web", "gate:agent", "gate:spec")
MAX_MARKS = 200  # sub-checks kept per gate: every failure, and the first passes and skips
_MARK = re.compile(r"^\s*\[(PASS|FAIL|SKIP)\]\s*(.*)$")
_ERROR_WORDS = ("error", "fail", "assert", "exception", "✗")


def _looks_errorish(text: str) -> bool:
    """_ERRORISH on a whole chunk: substring tests on one lowercased copy, far cheaper than the regex."""
    low = text.lower()
    return any(word in low for word in _ERROR_WORDS)


def _tally(text: str, counts: dict[str, int]) -> None:
    """Count the marks that open a line: with str.count when every mark does, else the regex."""
    for kind in counts:
        mark = f"[{kind}]"
        found = text.count(mark)
        if found and found != text.count("\n" + mark) + text.startswith(mark):
            counts[kind] += len(re.findall(rf"^\s*\[{kind}\]", text, re.MULTILINE))
        else:
            counts[kind] += found


_ERRORISH = re.compile(r"error|fail|assert|exception|✗", re.IGNORECASE)


class GateConfigError(PmdeskError, ValueError):
    """Nothing to verify with; the message says how to configure gates."""

    kind = ErrorKind.NOT_CONFIGURED
    code = "not_configured"


@dataclass
class Gate:
    name: str
    argv: list[str] | None  # None: skipped (with ``reason``)
    reason: str = ""


def detect_npm_gates(project_dir: Path) -> list[Gate]:
    """The spec's gate:all order from package.json; undefined scripts are skipped, not passed."""
    try:
        package = json.loads((project_dir / "package.json").read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise GateConfigError(f"package.json could not be read: {exc}") from None
    scripts = package.get("scripts") if isinstance(package, dict) else None
    scripts = scripts if isinstance(scripts, dict) else {}
    if "gate:tier0" in scripts:
        names: list[str] = ["gate:tier0"]
    elif "gate:ui" in scripts or "gate:task" in scripts:
        names = ["gate:ui", "gate:task"]
    else:
        names = ["gate:tier0"]
    names += list(SPEC_ORDER)
    return [
        Gate(n, ["npm", "run", "--silent", n]) if n in scripts else Gate(n, None, f"package.json defines no '{n}' script")
        for n in names
    ]


def gates_for(project_dir: Path, configured: list[str] | None) -> list[Gate]:
    if configured:
        gates = []
        for line in configured:
            try:
                argv = shlex.split(line)
            except ValueError as exc:
                raise GateConfigError(f"gate command {line!r} does not parse: {exc}") from None
            if argv:
                name = argv[-1] if argv[:2] == ["npm", "run"] else line
                gates.append(Gate(name, argv))
        if gates:
            return gates
    gates = detect_npm_gates(project_dir)
    if not any(g.argv for g in gates):
        raise GateConfigError(
            "no gates to run: this project has no gate commands configured and no package.json "
            "with gate:* scripts; set them with 'pmdesk project set PROJECT --gate \"npm test\"' "
            "or in the project's settings"
        )
    return gates


@dataclass
class GateRun:
    gate: Gate
    on_lines: Callable[[list[str]], None]
    lines_seen: int = 0
    marks: list[GateCheck] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"PASS": 0, "FAIL": 0, "SKIP": 0})
    head_errors: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)

    def feed(self, lines: list[str]) -> None:
        self.on_lines(lines)
        self.lines_seen += len(lines)
        text = joined(lines)
        wants_errors = len(self.head_errors) < 3 and _looks_errorish(text)
        every_line = wants_errors or "[FAIL]" in text  # else only passes and skips: the cap ends the scan
        if len(self.marks) >= MAX_MARKS and not every_line:
            _tally(text, self.counts)  # only the tally is left to keep
        elif "[" in text or wants_errors:
            self._scan(lines, every_line)
        recent: list[str] = []
        for line in reversed(lines):
            if line.strip() and not line.startswith("> "):
                recent.append(line)
                if len(recent) == 5:
                    break
        self.tail = (self.tail + recent[::-1])[-5:]

    def _scan(self, lines: list[str], every_line: bool) -> None:
        for index, line in enumerate(lines):
            if not every_line and len(self.marks) >= MAX_MARKS:
                _tally("\n".join(lines[index:]), self.counts)
                return
            if "[" not in line and len(self.head_errors) >= 3:
                continue
            mark = _MARK.match(line)
            if mark:
                kind, text = mark.groups()
                self.counts[kind] += 1
                if kind != "FAIL" and len(self.marks) >= MAX_MARKS:
                    continue
                self.marks.append(GateCheck(
                    name=text.strip() or kind, passed=kind != "FAIL", message=line.strip(),
                    skipped=True if kind == "SKIP" else None,
                ))
            elif len(self.head_errors) < 3 and _ERRORISH.search(line) and not line.startswith(">"):
                self.head_errors.append(line.strip())

    def check(self, code: int, duration_ms: int) -> GateCheck:
        passed = code == 0
        failures = [m.message for m in self.marks if not m.passed]
        tally = ""
        if len(self.marks) < sum(self.counts.values()):
            tally = f" ({self.counts['PASS']} passed, {self.counts['FAIL']} failed, {self.counts['SKIP']} skipped)"
        if passed:
            message = (self.tail[-1] if self.tail else "exit code 0") + tally
        else:
            detail = failures[:3] or self.head_errors or self.tail[-3:]
            message = f"exit code {code}" + (": " + " | ".join(detail) if detail else "") + tally
        return GateCheck(name=self.gate.name, passed=passed, message=message[:1000], duration=duration_ms,
                         checks=self.marks or None)


class GateProcess:
    """One gate subprocess, cancellable as a whole process group.

    Started, it runs on its own: its output waits in its pipe until ``finish`` reads it.
    That lets verify start the next gate as soon as this one's process exits, as a shell
    running the scripts one after another would, while this one's last output is still
    being recorded.
    """

    def __init__(self, gate: Gate, cwd: Path, env: dict[str, str]) -> None:
        assert gate.argv is not None
        self.gate = gate
        self._cwd = cwd
        self._env = env
        self._child: Child | None = None
        self._failed: GateCheck | None = None
        self._started = 0.0
        self._ended: float | None = None
        self.cancelled = False

    async def start(self) -> None:
        assert self.gate.argv is not None
        self._started = time.monotonic()
        try:
            self._child = await spawn(self.gate.argv, str(self._cwd), env=self._env)
        except OSError as exc:
            self._failed = GateCheck(name=self.gate.name, passed=False, duration=0,
                                     message=f"could not start {self.gate.argv[0]!r}: {exc.strerror or exc}")

    @property
    def proc(self) -> asyncio.subprocess.Process | None:
        return self._child.process if self._child is not None else None

    async def exited(self) -> None:
        """The gate's process has ended (its output may not all be read yet)."""
        if self.proc is not None:
            await self.proc.wait()
            if self._ended is None:
                self._ended = time.monotonic()

    async def finish(self, on_lines: Callable[[list[str]], None]) -> GateCheck:
        """Read the gate's output to its end and judge it."""
        if self._child is None:  # it could not start
            assert self._failed is not None
            return self._failed
        state = GateRun(self.gate, on_lines)
        await self._child.pump(state.feed, state.feed)
        code = await self._child.process.wait()
        duration = int(((self._ended or time.monotonic()) - self._started) * 1000)
        if self.cancelled:
            return GateCheck(name=self.gate.name, passed=False, message="cancelled", duration=duration)
        return state.check(code, duration)

    async def cancel(self) -> None:
        self.cancelled = True
        if self.proc is not None and self.proc.returncode is None:
            await end_process_group(self.proc, grace=2)
