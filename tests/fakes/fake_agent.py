#!/usr/bin/env python3
"""A coding agent for the command executor: it edits the folder it runs in as its prompt says.

  [write PATH TEXT]   write TEXT (underscores become spaces) and a newline to PATH
  [append PATH TEXT]  append TEXT and a newline to PATH
  [need PATH]         fail (exit 2) unless PATH exists: a dependent task sees its predecessor's work
  [commit MESSAGE]    commit what it changed so far itself (as "fake agent")
  [sleep S]           sleep S seconds first
  [hang S]            sleep S seconds after its edits (to be killed mid-run)
  [fail]              exit 1 after its edits
A prompt that asks to resolve a merge conflict (pmdesk's) is answered by keeping both sides.
Prints one line per action, and where it ran.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

prompt = sys.argv[-1]
print(f"fake agent in {os.getcwd()}", flush=True)
if os.environ.get("FAKE_AGENT_LOG"):
    with open(os.environ["FAKE_AGENT_LOG"], "a") as log:
        log.write(f"{os.getpid()} {os.getcwd()} {prompt[:80]!r}\n")
resolving = prompt.startswith("Resolve a merge conflict")
if resolving:
    prompt = prompt[:25]  # the task descriptions it quotes are not instructions to this agent
for match in re.finditer(r"\[sleep ([0-9.]+)\]", prompt):
    time.sleep(float(match.group(1)))
for need in re.findall(r"\[need ([^\]\s]+)\]", prompt):
    if not Path(need).exists():
        print(f"missing {need}")
        sys.exit(2)
    print(f"found {need}")
for verb, path, text in re.findall(r"\[(write|append) ([^\]\s]+) ([^\]]*)\]", prompt):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a" if verb == "append" else "w") as handle:
        handle.write(text.replace("_", " ") + "\n")
    print(f"{verb} {path}")
for message in re.findall(r"\[commit ([^\]]*)\]", prompt):
    env = {**os.environ, "GIT_AUTHOR_NAME": "fake agent", "GIT_AUTHOR_EMAIL": "fake@agent.invalid",
           "GIT_COMMITTER_NAME": "fake agent", "GIT_COMMITTER_EMAIL": "fake@agent.invalid"}
    subprocess.run(["git", "add", "-A"], check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", message], check=True, env=env)
    print(f"committed {message}")
for match in re.finditer(r"\[hang ([0-9.]+)\]", prompt):
    print("hanging", flush=True)
    time.sleep(float(match.group(1)))
if resolving:
    listed = subprocess.run(["git", "diff", "--name-only", "--diff-filter=U"], capture_output=True, text=True).stdout
    for name in listed.split():
        kept = [line for line in Path(name).read_text().splitlines()
                if not line.startswith(("<<<<<<< ", "=======", ">>>>>>> "))]
        Path(name).write_text("\n".join(kept) + "\n")
        print(f"resolved {name}")
if "[fail]" in prompt:
    sys.exit(1)
print("done")
