#!/usr/bin/env python3
"""A stand-in for the Claude Code CLI that speaks its stream-json protocol.

Behaviour is chosen by markers in the prompt, so a plan's tasks can each pick one:
  [ask]           ask a question through AskUserQuestion on the control protocol and wait for the answer
                  in the same turn ([askuser-tool] is the same)
  [need-write P]  ask permission to Write P; allowed, write it; denied, say the denial's message
  [error]         an error result, exit 1
  [crash]         die with exit 3 and a stderr line, no result
  [hang]          never answer (and start a child that also hangs)
  [flood N]       N assistant messages before the result
  [malformed]     garbage lines between the messages
  [write PATH]    write PATH in the working directory (content: the prompt)
  [sleep S]       sleep S seconds before answering
  [version]       --version prints a version
  [chatter N]     N assistant messages, a tenth of a second apart, before anything else
  [ls]            say which files the working directory holds when the agent starts
Every start and end is appended to $FAKE_CLAUDE_LOG as JSON lines (for ordering tests).
"""

import json
import os
import re
import subprocess
import sys
import time
import uuid

args = sys.argv[1:]
if "--version" in args:
    print("9.9.9 (Claude Code fake)")
    sys.exit(0)

resume = args[args.index("--resume") + 1] if "--resume" in args else None
session = resume or str(uuid.uuid4())
log_path = os.environ.get("FAKE_CLAUDE_LOG")


def host_pid() -> int:
    """This process's pid as pmdesk sees it: in a run's PID namespace getpid() is a small number,
    while /proc (the host's, bound in) still names the process by its host pid."""
    try:
        return int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        return os.getpid()


def log(kind, **data):
    if log_path:
        with open(log_path, "a") as handle:
            handle.write(json.dumps({"kind": kind, "t": time.time(), "pid": host_pid(), "session": session, **data}) + "\n")


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def assistant(text):
    out({"type": "assistant", "session_id": session,
         "message": {"role": "assistant", "content": [{"type": "text", "text": text}]}})


def result(text, is_error=False, cost=0.0125):
    out({"type": "result", "subtype": "error_during_execution" if is_error else "success", "is_error": is_error,
         "result": text, "session_id": session, "total_cost_usd": cost, "num_turns": 1,
         "usage": {"input_tokens": 100, "output_tokens": 20}})


def text_of(message):
    content = message["message"]["content"]
    return content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)


def read_turn():
    while True:
        line = sys.stdin.readline()
        if not line:
            return None
        message = json.loads(line)
        if message.get("type") == "user":
            return text_of(message)
        if message.get("type") == "control_request":  # an interrupt while idle
            out({"type": "control_response", "response": {"subtype": "success", "request_id": message["request_id"]}})


ASKED = [0]


def ask(tool, payload):
    """A can_use_tool request; the client's answer (its response dict), or None if it interrupted."""
    ASKED[0] += 1
    n = ASKED
    request_id = f"fake-req-{n[0]}"
    out({"type": "assistant", "session_id": session, "message": {"role": "assistant", "content": [
        {"type": "tool_use", "id": f"toolu_{n[0]}", "name": tool, "input": payload}]}})
    out({"type": "control_request", "request_id": request_id, "request": {
        "subtype": "can_use_tool", "tool_name": tool, "input": payload, "tool_use_id": f"toolu_{n[0]}"}})
    log("asked", tool=tool)
    while True:
        line = sys.stdin.readline()
        if not line:
            return {"behavior": "deny", "message": "Tool permission stream closed before response received"}
        message = json.loads(line)
        if message.get("type") == "control_response" and message["response"].get("request_id") == request_id:
            return message["response"].get("response") or {}
        if message.get("type") == "control_request" and message["request"].get("subtype") == "interrupt":
            out({"type": "control_response", "response": {"subtype": "success", "request_id": message["request_id"]}})
            out({"type": "control_cancel_request", "request_id": request_id})
            out({"type": "result", "subtype": "error_during_execution", "is_error": True, "session_id": session,
                 "terminal_reason": "aborted_tools", "total_cost_usd": 0.0125, "usage": {}})
            return None


out({"type": "system", "subtype": "init", "session_id": session, "model": "claude-fake", "tools": ["Read"],
     "claude_code_version": os.environ.get("FAKE_CLAUDE_VERSION", "9.9.9")})
prompt = read_turn()
if prompt is None:
    sys.exit(0)
log("start", prompt=prompt, resume=resume, cwd=os.getcwd(), key_tail=os.environ.get("ANTHROPIC_API_KEY", "")[-6:],
    ray_token=bool(os.environ.get("RAY_AUTH_TOKEN")))

if resume:
    assistant(f"Resumed {resume} with your answer: {prompt}")
    result(f"Finished after the answer: {prompt}", cost=0.01)
    log("end", prompt=prompt)
    sys.stdin.read()
    sys.exit(0)

chatter = re.search(r"\[chatter (\d+)\]", prompt)
if chatter:
    for i in range(int(chatter.group(1))):
        assistant(f"working, step {i + 1}")
        time.sleep(0.1)
if "[ls]" in prompt:
    assistant("files here: " + ", ".join(sorted(name for name in os.listdir(".") if not name.startswith("."))))
sleep = re.search(r"\[sleep ([0-9.]+)\]", prompt)
if sleep:
    time.sleep(float(sleep.group(1)))
if "[crash]" in prompt:
    sys.stderr.write("boom: the fake crashed\n")
    sys.stderr.flush()
    log("end", prompt=prompt)
    sys.exit(3)
if "[hang]" in prompt:
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    log("hang", prompt=prompt)
    time.sleep(600)
flood = re.search(r"\[flood (\d+)\]", prompt)
if flood:
    for i in range(int(flood.group(1))):
        sys.stdout.write(json.dumps({"type": "assistant", "session_id": session, "message": {
            "role": "assistant", "content": [{"type": "text", "text": f"line {i}"}]}}) + "\n")
    sys.stdout.flush()
if "[malformed]" in prompt:
    sys.stdout.write("this is not json\n{\"half\": \n[1,2,3]\n")
    sys.stdout.flush()
write = re.search(r"\[write ([^\]\s]+)\]", prompt)
if write:
    with open(write.group(1), "w") as handle:
        handle.write(prompt + "\n")
    out({"type": "assistant", "session_id": session, "message": {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {"file_path": write.group(1)}}]}})
    out({"type": "user", "session_id": session, "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]}})
if "[error]" in prompt:
    result("API Error: something went wrong", is_error=True)
    log("end", prompt=prompt)
    sys.exit(1)
need = re.search(r"\[need-write ([^\]\s]+)\]", prompt)
if need:
    answer = ask("Write", {"file_path": need.group(1), "content": "written after approval\n"})
    if answer is None:
        told = read_turn()
        assistant(f"Stopped; now: {told}")
        result(f"Finished with {told}.")
    elif answer.get("behavior") == "allow":
        with open(need.group(1), "w") as handle:
            handle.write((answer.get("updatedInput") or {}).get("content", "written after approval\n"))
        assistant(f"Wrote {need.group(1)}.")
        result(f"Wrote {need.group(1)}.")
    else:
        assistant(f"Not written: {answer.get('message')}")
        result(f"Not written: {answer.get('message')}")
    log("end", prompt=prompt)
    sys.stdin.read()
    sys.exit(0)
if "[askuser-tool]" in prompt or "[ask]" in prompt:
    question = ("Which port should the server use?" if "[askuser-tool]" in prompt
                else "I found two options. Which database should I use, SQLite or Postgres?")
    payload = {"questions": [{"question": question, "header": "Choice", "multiSelect": False, "options": [
        {"label": "SQLite", "description": "a file"}, {"label": "Postgres", "description": "a server"}]}]}
    reply = ask("AskUserQuestion", payload)
    if reply is None:
        answer = read_turn()
    else:
        answers = (reply.get("updatedInput") or {}).get("answers") or {}
        answer = answers.get(question) or (reply.get("updatedInput") or {}).get("response") or reply.get("message")
    if answer is None:
        sys.exit(0)
    assistant(f"Using {answer}.")
    result(f"Finished with {answer}.")
    log("end", prompt=prompt, answer=answer)
    sys.stdin.read()
    sys.exit(0)
else:
    assistant(f"Done: {prompt}")
    result(f"Done: {prompt}")
    log("end", prompt=prompt)
    sys.stdin.read()
    sys.exit(0)


