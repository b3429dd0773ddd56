"""Does the Claude Agent SDK's client leave a tool's child running when it disconnects?

Needs the SDK (``pip install claude-agent-sdk``; pmdesk itself does not use its client). A stand-in
CLI answers the SDK's ``initialize``, then starts a child as a Bash tool would; the client
disconnects, and the children still running are counted. pmdesk's own executor ends the whole
tree (tests/engine/test_real_claude.py counts it). Seen here: 1 child left, of 1.

    python scripts/measure_sdk_orphans.py
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time
from pathlib import Path

STAND_IN = r'''#!/usr/bin/env python3
import json, subprocess, sys
if "-v" in sys.argv or "--version" in sys.argv:
    print("2.1.197 (Claude Code)"); sys.exit(0)
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("type") == "control_request" and msg["request"]["subtype"] == "initialize":
        print(json.dumps({"type": "control_response", "response": {"subtype": "success",
                          "request_id": msg["request_id"], "response": {}}}), flush=True)
    elif msg.get("type") == "user":
        subprocess.Popen(["sleep", "377"])  # a tool's child
'''


async def main() -> None:
    from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient

    cli = Path(tempfile.mkdtemp()) / "claude"
    cli.write_text(STAND_IN)
    cli.chmod(0o755)
    os.environ["CLAUDE_AGENT_SDK_SKIP_VERSION_CHECK"] = "1"
    client = ClaudeSDKClient(ClaudeAgentOptions(cli_path=str(cli)))
    await client.connect()
    await client.query("start a tool")
    await asyncio.sleep(1)
    began = time.monotonic()
    await client.disconnect()
    took = time.monotonic() - began
    await asyncio.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", "sleep 377"], capture_output=True, text=True).stdout.split()
    print(f"disconnect took {took:.2f} s; children left running: {len(left)} of 1")
    subprocess.run(["pkill", "-f", "sleep 377"], check=False)


if __name__ == "__main__":
    asyncio.run(main())
