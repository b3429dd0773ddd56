"""The command line: one parser, shared parent parsers for the options several commands take."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pmdesk
from pmdesk.cli import cluster, decisions, plans, projects, runs, search, serve, worktrees
from pmdesk.cli.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, exit_code
from pmdesk.engine.search.index import KINDS as SEARCH_KINDS
from pmdesk.errors import PmdeskError
from pmdesk.store.scrub import scrub

EXECUTORS = ["claude_code", "anthropic_agent", "command"]


def _parents() -> dict[str, argparse.ArgumentParser]:
    json_opt = argparse.ArgumentParser(add_help=False)
    json_opt.add_argument("--json", action="store_true", help="print the same JSON the HTTP API returns")
    executor = argparse.ArgumentParser(add_help=False)
    executor.add_argument("--executor", choices=EXECUTORS)
    executor.add_argument("--command", help="command template for the command executor, "
                                            "e.g. 'aider --yes --message {prompt}'")
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument("--quiet", action="store_true", help="do not print the runs' output")
    return {"json": json_opt, "executor": executor, "quiet": quiet}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmdesk", description="Run AI coding agents on your projects: "
                                     "Inspect → Plan → Dispatch → Verify → Record.")
    parser.add_argument("--version", action="version", version=f"pmdesk {pmdesk.__version__}")
    parser.add_argument("--selftest", action="store_true", help="start offscreen, exercise the app, exit 0 if it works")
    sub = parser.add_subparsers(dest="subcommand")
    parent = _parents()
    js, ex, qt = parent["json"], parent["executor"], parent["quiet"]

    p = sub.add_parser("project", help="add, list, show, configure or remove projects")
    psub = p.add_subparsers(dest="project_action", required=True)
    a = psub.add_parser("add", parents=[js], help="register a local folder")
    a.add_argument("path")
    a.add_argument("--name")
    psub.add_parser("list", parents=[js], help="every project with its status")
    psub.add_parser("show", parents=[js]).add_argument("project")
    psub.add_parser("remove", parents=[js], help="unregister (never deletes files)").add_argument("project")
    st = psub.add_parser("set", parents=[js], help="project settings")
    st.add_argument("project")
    st.add_argument("--concurrency", type=int)
    st.add_argument("--model")
    st.add_argument("--executor", choices=["", *EXECUTORS])
    st.add_argument("--command", help="command template for the command executor, e.g. 'aider --yes --message {prompt}'")
    st.add_argument("--gate", action="append", help="a gate command (repeat for several; '' clears)")
    st.add_argument("--setup", action="append", help="a command run in each new worktree before its agent, "
                                                     "e.g. 'npm ci' (repeat; '' clears)")
    st.add_argument("--copy", action="append", help="an untracked file or folder copied into each new worktree, "
                                                    "e.g. .env or node_modules (repeat; '' clears)")
    st.add_argument("--permission-mode", help="what new runs may do unasked: ask | accept_edits | plan | bypass")
    st.add_argument("--confirm-bypass", action="store_true", help="confirm once that bypass may be used here "
                                                                  "(runs in isolated worktrees only; recorded)")
    st.add_argument("--allow", action="append", help="a tool or pattern allowed unasked, e.g. 'Bash(npm test:*)' "
                                                    "(repeat; '' clears)")
    st.add_argument("--deny", action="append", help="a tool or pattern always denied (repeat; '' clears)")
    st.add_argument("--cluster", metavar="WHERE", help="where its plans' runs execute by default: a Ray cluster "
                                                       "ray://HOST:PORT, 'local', or '' for the app's choice")
    psub.add_parser("git-init", parents=[js], help="make the folder a git repository with a first commit "
                                                   "(isolation needs one)").add_argument("project")
    p.set_defaults(func=projects.cmd_project)

    r = sub.add_parser("run", parents=[js, ex], help="start a run and follow it")
    r.add_argument("project")
    r.add_argument("prompt")
    r.add_argument("--model")
    r.add_argument("--worktree", action="store_true", help="work in a new git worktree of its own, not the folder")
    r.add_argument("--permission-mode", help="ask (default) | accept_edits | plan | bypass (a worktree only)")
    r.add_argument("--hold", action="store_true", help="when the agent asks, keep it waiting for a decision made "
                                                       "elsewhere (pmdesk approve, the window, the API)")
    r.set_defaults(func=runs.cmd_run)

    r = sub.add_parser("runs", parents=[js], help="a page of a project's runs, newest first")
    r.add_argument("project")
    r.add_argument("--limit", type=int, default=50, help="runs on the page (at most 1000)")
    r.add_argument("--after", metavar="CURSOR", help="the next page: the cursor the last page printed")
    r.add_argument("--status", help="only runs in this state (e.g. ERROR)")
    r.add_argument("--executor", choices=[*EXECUTORS, "gate"])
    r.add_argument("--plan", help="only the runs of this plan")
    r.add_argument("--text", help="only runs whose prompt, question or error holds this")
    r.add_argument("--order", choices=["newest", "oldest"], default="newest")
    r.set_defaults(func=runs.cmd_runs)

    r = sub.add_parser("log", parents=[js], help="the last lines of a run's log, or a page of it from a seq")
    r.add_argument("run")
    r.add_argument("--lines", type=int, default=200, help="how many (the last ones, unless --after)")
    r.add_argument("--after", type=int, metavar="SEQ", help="the lines after this seq, oldest first (0: from the start)")
    r.set_defaults(func=runs.cmd_log)

    r = sub.add_parser("respond", parents=[js], help="answer a run that needs a response")
    r.add_argument("run")
    r.add_argument("text")
    r.set_defaults(func=runs.cmd_respond)

    r = sub.add_parser("approve", parents=[js], help="allow the tool, answer the question or approve the plan a run "
                                                    "waits on (in the same turn)")
    r.add_argument("run")
    r.add_argument("--always", choices=["run", "project"], help="keep allowing this tool or command pattern")
    r.add_argument("--rule", help="the pattern to keep (default: the one suggested, e.g. 'Bash(npm test:*)')")
    r.add_argument("--answer", action="append", metavar="QUESTION=LABEL", help="a question's answer (repeat)")
    r.add_argument("--text", help="a free answer to the question")
    r.add_argument("--accept-edits", action="store_true", help="approve the plan and accept edits from now on")
    r.add_argument("--no-follow", action="store_true", help="return at once instead of following the run")
    r.set_defaults(func=decisions.cmd_approve)

    r = sub.add_parser("deny", parents=[js], help="deny what a run waits on; the message is told to the agent")
    r.add_argument("run")
    r.add_argument("message", nargs="*")
    r.add_argument("--no-follow", action="store_true", help="return at once instead of following the run")
    r.set_defaults(func=decisions.cmd_deny)

    r = sub.add_parser("pending", parents=[js], help="what a run waits on: the command, the diff, the options")
    r.add_argument("run")
    r.set_defaults(func=decisions.cmd_pending)

    r = sub.add_parser("interrupt", parents=[js], help="stop the agent's turn; the run waits for your next message")
    r.add_argument("run")
    r.set_defaults(func=decisions.cmd_interrupt)

    r = sub.add_parser("cancel", parents=[js], help="cancel a run or a plan")
    r.add_argument("target", metavar="RUN|PLAN")
    r.set_defaults(func=runs.cmd_cancel)

    r = sub.add_parser("inspect", parents=[js], help="create and print an Inspection Packet")
    r.add_argument("run")
    r.add_argument("--format", choices=["json", "md"], default="md")
    r.set_defaults(func=runs.cmd_inspect)

    r = sub.add_parser("plan", parents=[js], help="create a plan from a packet or a goal (AI), or a file")
    r.add_argument("project")
    r.add_argument("--packet")
    r.add_argument("--goal", help="what the plan should achieve; the model also reads the project's files and README")
    r.add_argument("--fix", metavar="PLAN", help="fix tasks for a plan whose verify failed, from its failed checks; "
                                                 "they start from its integration branch")
    r.add_argument("--model")
    r.add_argument("--from-file", help="tasks in the submit_plan format")
    r.set_defaults(func=plans.cmd_plan)

    r = sub.add_parser("plans", parents=[js], help="a page of a project's plans, newest first")
    r.add_argument("project")
    r.add_argument("--archived", action="store_true", help="archived plans too")
    r.add_argument("--limit", type=int, default=50, help="plans on the page (at most 1000)")
    r.add_argument("--after", metavar="CURSOR", help="the next page: the cursor the last page printed")
    r.set_defaults(func=plans.cmd_plans)

    r = sub.add_parser("retry", parents=[js, qt], help="run a task that failed, was cancelled or changed nothing "
                                                      "again (a fresh worktree; the earlier run is kept)")
    r.add_argument("plan")
    r.add_argument("task", metavar="TASK", help="the task's id, its number (3 or #3), or one of its runs")
    r.add_argument("--prompt-extra", help="added to the task's description for this attempt")
    r.add_argument("--with-dependents", action="store_true", help="also the tasks cancelled because it failed")
    r.add_argument("--no-wait", action="store_true", help="return once the run is queued")
    r.add_argument("--on", metavar="WHERE", help="'local', or a Ray cluster ray://HOST:PORT (default: where the "
                                                 "plan's runs ran)")
    r.set_defaults(func=plans.cmd_retry)

    r = sub.add_parser("archive", parents=[js], help="put a DRAFT or ended plan away (listings leave it out)")
    r.add_argument("plan")
    r.add_argument("--undo", action="store_true", help="restore an archived plan")
    r.set_defaults(func=plans.cmd_archive)

    r = sub.add_parser("delete", parents=[js], help="delete a DRAFT or ended plan (its file goes to "
                                                    ".claude/state/trash; its runs stay)")
    r.add_argument("plan")
    r.set_defaults(func=plans.cmd_delete)

    r = sub.add_parser("dispatch", parents=[js, ex, qt], help="run a DRAFT plan's tasks (or continue a RUNNING one)")
    r.add_argument("plan")
    r.add_argument("--sequential", action="store_true")
    r.add_argument("--max-parallel", type=int)
    r.add_argument("--no-wait", action="store_true", help="return once the runs are created")
    r.add_argument("--estimate", action="store_true", help="print the estimate (runs, waves, tokens, cost, time) only")
    r.add_argument("--in-place", action="store_true", help="no worktrees: run the tasks one at a time in the "
                                                           "project folder (for a folder that is not a git repository)")
    r.add_argument("--model", help="the model the agents use (default: the project's, then the app's)")
    r.add_argument("--budget", type=float, metavar="USD", help="what the plan's runs may spend in all, in USD")
    r.add_argument("--budget-tokens", type=int, metavar="N", help="what the plan's runs may use in all, in tokens")
    r.add_argument("--on", metavar="WHERE", help="where the runs execute: 'local' (this machine) or a Ray cluster "
                                                 "ray://HOST:PORT (default: the project's choice, then Settings')")
    r.set_defaults(func=plans.cmd_dispatch)

    r = sub.add_parser("cluster", parents=[js], help="a Ray cluster pmdesk can place runs on (pmdesk[ray])")
    csub = r.add_subparsers(dest="cluster_action", required=True)
    c = csub.add_parser("status", parents=[js], help="its nodes, free CPUs and pmdesk's runs working there")
    c.add_argument("address", nargs="?", help="ray://HOST:PORT (default: the one in Settings)")
    r.set_defaults(func=cluster.cmd_cluster)

    r = sub.add_parser("cost", parents=[js], help="what runs cost: a project's or a plan's, per day, today, "
                       "this month, by plan or task, against the budget (every project when none is given)")
    r.add_argument("target", metavar="PROJECT|PLAN", nargs="?")
    r.add_argument("--since", metavar="DATE", help="only runs from this day (YYYY-MM-DD) on")
    r.set_defaults(func=plans.cmd_cost)

    r = sub.add_parser("budget", parents=[js], help="set a project's monthly budget or a plan's budget; "
                       "plans held at a budget go on once it allows")
    r.add_argument("target", metavar="PROJECT|PLAN")
    r.add_argument("--usd", type=float, help="USD (a plan: in all; a project: per calendar month, UTC)")
    r.add_argument("--tokens", type=int, help="tokens (likewise)")
    r.add_argument("--clear", action="store_true", help="no budget")
    r.set_defaults(func=plans.cmd_budget)

    r = sub.add_parser("verify", parents=[js, qt], help="run gate:all on a plan")
    r.add_argument("plan")
    r.add_argument("--force", action="store_true", help="verify although some tasks did not complete")
    r.add_argument("--on", metavar="WHERE", help="run the gates on a Ray cluster ray://HOST:PORT (default: here)")
    r.add_argument("--rebase", action="store_true", help="rebuild the integration on the project branch's HEAD now")
    r.set_defaults(func=plans.cmd_verify)

    r = sub.add_parser("diff", parents=[js], help="what a plan or a run changed")
    r.add_argument("target", metavar="PLAN|RUN")
    r.add_argument("--stat", action="store_true", help="files and +/- counts only")
    r.set_defaults(func=worktrees.cmd_diff)

    r = sub.add_parser("merge", parents=[js], help="bring a verified plan's integration branch into your branch")
    r.add_argument("plan")
    r.add_argument("--squash", action="store_true", help="one squashed commit instead of a merge")
    r.add_argument("--force", action="store_true", help="merge although the plan is not VERIFIED (recorded)")
    r.set_defaults(func=worktrees.cmd_merge)

    r = sub.add_parser("resolve", parents=[js], help="get past a merge conflict that stopped verify")
    r.add_argument("plan")
    way = r.add_mutually_exclusive_group(required=True)
    way.add_argument("--agent", action="store_true", help="an agent resolves it in the integration worktree")
    way.add_argument("--by-hand", action="store_true", help="print the folder to resolve it in; then verify")
    way.add_argument("--leave-out", action="store_true", help="leave the conflicting task (or --task) out")
    r.add_argument("--task", help="the task to leave out (default: the one that conflicts)")
    r.set_defaults(func=worktrees.cmd_resolve)

    r = sub.add_parser("worktrees", parents=[js], help="pmdesk's worktrees: plan, task, branch, size, state")
    r.add_argument("project", nargs="?")
    r.set_defaults(func=worktrees.cmd_worktrees)

    r = sub.add_parser("clean", parents=[js], help="remove worktrees and branches, never losing work")
    r.add_argument("target", metavar="PLAN", nargs="?")
    r.add_argument("--merged", action="store_true", help="every merged (or empty) worktree")
    r.add_argument("--project", help="with --merged: only this project")
    r.add_argument("--force", action="store_true", help="also uncommitted or unmerged work, saved to a backup ref first")
    r.set_defaults(func=worktrees.cmd_clean)

    r = sub.add_parser("search", parents=[js], help="search every run's prompt, questions, answers, agent text, "
                       "tool calls, output, gate output and plan tasks, newest first")
    r.add_argument("query", nargs="*", help='words (all must match), a "phrase", a prefix*')
    r.add_argument("--project", help="only this project")
    r.add_argument("--kind", action="append", metavar="KIND",
                   help="only these kinds (repeat or comma-separate): " + ", ".join(SEARCH_KINDS))
    r.add_argument("--since", metavar="DATE", help="only hits from this day (YYYY-MM-DD) or time on")
    r.add_argument("--limit", type=int, default=50)
    r.add_argument("--after", metavar="CURSOR", help="the next page: the cursor the last page printed")
    r.add_argument("--reindex", action="store_true", help="build the index again from the records first")
    r.set_defaults(func=search.cmd_search)

    r = sub.add_parser("show", parents=[js], help="a plan with its tasks and gate results")
    r.add_argument("plan")
    r.set_defaults(func=plans.cmd_show)

    r = sub.add_parser("packets", parents=[js], help="a page of a project's inspection packets, newest first")
    r.add_argument("project")
    r.add_argument("--limit", type=int, default=50)
    r.add_argument("--after", metavar="CURSOR", help="the next page: the cursor the last page printed")
    r.set_defaults(func=projects.cmd_packets)

    r = sub.add_parser("activity", parents=[js], help="a page of the evidence trail, newest first")
    r.add_argument("project")
    r.add_argument("--limit", type=int, default=50)
    r.add_argument("--after", metavar="CURSOR", help="the next page: the cursor the last page printed")
    r.set_defaults(func=projects.cmd_activity)

    r = sub.add_parser("serve", help="the local HTTP API, headless")
    r.add_argument("--host", default="127.0.0.1")
    r.add_argument("--port", type=int, default=8765)
    r.add_argument("--allow-remote", action="store_true", help="allow binding to a non-loopback address (risky)")
    r.set_defaults(func=serve.cmd_serve)
    return parser


def run_command(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.subcommand is None:  # flags alone; `pmdesk` and `pmdesk --selftest` open the window (cli.main)
        parser.print_usage(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        code: int = args.func(args)
        return code
    except PmdeskError as exc:
        print(f"pmdesk: {scrub(str(exc))}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
