"""The `guanxi` command line. Every command takes --workspace; user mistakes exit non-zero
with one clear message (no traceback)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from knowledge.errors import GuanxiError
from knowledge.settings import Settings
from tools.formatting import md_unescape

# Offline at run time: never reach a model hub or a telemetry host.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _settings(args) -> Settings:
    return Settings.load(config_file=getattr(args, "config", None), workspace=getattr(args, "workspace", None))


def _print(msg: str = "") -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------- data commands
def cmd_demo(args) -> int:
    from assistant.pipeline import build_demo
    settings = _settings(args)
    seed = args.seed if args.seed is not None else settings.seed
    t0 = time.perf_counter()
    report = build_demo(settings, customers=args.customers, seed=seed, orders=args.orders,
                        feedback=args.feedback, index=not args.no_index, log=_print)
    _print(report)
    _print(f"demo workspace ready in {time.perf_counter() - t0:.1f} s: {settings.workspace}")
    return 0


def cmd_build(args) -> int:
    from assistant.pipeline import build_workspace
    settings = _settings(args)
    t0 = time.perf_counter()
    report = build_workspace(settings, Path(args.data), mapping=args.mapping, index=not args.no_index, log=_print)
    _print(report)
    _print(f"workspace built in {time.perf_counter() - t0:.1f} s: {settings.workspace}")
    return 0


def cmd_start(args) -> int:
    """Build the demo workspace's tables and analyses if absent, then serve the app (which indexes
    the feedback in the background: assistant/indexer.py)."""
    from knowledge.workspace import Workspace
    settings = _settings(args)
    if not Workspace(settings.workspace).is_built():
        _print(f"no workspace at {settings.workspace}: building the demo knowledge base first "
               f"(the feedback index is built in the background once the app serves)")
        args.customers, args.seed, args.orders, args.feedback, args.no_index = None, None, None, None, True
        cmd_demo(args)
    else:
        from assistant.pipeline import workspace_summary
        _print(workspace_summary(settings))
    return cmd_serve(args)


def cmd_serve(args) -> int:
    """Run the web app (app.py, the layer above this one) as its own program with these settings."""
    import os
    import sys
    settings = _settings(args).with_(host=args.host, port=args.port)
    argv = [sys.executable, "-m", "app", "--workspace", str(settings.workspace), "--host", str(settings.host),
            "--port", str(settings.port)]
    if getattr(args, "config", None):
        os.environ["GUANXI_CONFIG"] = str(args.config)
    sys.stdout.flush()
    os.execv(sys.executable, argv)  # replaces this process; nothing below it imports the app
    return 0  # pragma: no cover


def cmd_schema(args) -> int:
    from knowledge.schema import schema_markdown
    _print(schema_markdown())
    return 0


def cmd_semantic(args) -> int:
    """The effective semantic model: the shipped metrics and dimensions plus WORKSPACE/semantic.toml."""
    from knowledge.workspace import Workspace
    from tools.semantic import semantic_model
    model = semantic_model(Workspace(_settings(args).workspace))
    if args.json:
        _print(json.dumps(model.to_dict(), ensure_ascii=False, indent=2))
        return 0
    _print("sources: " + ", ".join(model.sources))
    _print("metrics:")
    for k, m in model.metrics.items():
        _print(f"  {k:<20} {m['zh']} / {m['en']} ({m['unit']}): {m.get('description', '')}"
               + (f" · words: {', '.join(m.get('synonyms', []))}" if m.get("synonyms") else ""))
    _print("dimensions:")
    for k, d in model.dimensions.items():
        _print(f"  {k:<20} {d['zh']} / {d['en']}: {d.get('description', '')}")
    if model.terms:
        _print("workspace terms:")
        for w, (kind, name) in model.terms.items():
            _print(f"  {w} → {kind} {name}")
    if model.verified:
        _print("verified questions:")
        for v in model.verified:
            _print(f"  {v['question']} → {json.dumps(v['query'], ensure_ascii=False)}")
    return 0


def cmd_settings(args) -> int:
    from knowledge.vector_store import vector_store
    settings = _settings(args)
    shown = settings.public_dict()
    shown["vector_store"] = vector_store(settings.workspace, settings, create_id=False).describe()
    _print(json.dumps(shown, ensure_ascii=False, indent=2))
    return 0


# ---------------------------------------------------------------- assistant commands
def cmd_ask(args) -> int:
    from assistant import Assistant
    # audited as --user, else the operating-system user; tools that write events record them as that user
    a = Assistant(settings=_settings(args), entry="cli", user=getattr(args, "user", None))
    out = a.ask(args.question)
    if args.json:
        _print(json.dumps(out, ensure_ascii=False, default=str))
    else:
        text = md_unescape(out["answer"])   # the answer is Markdown; a terminal shows its text
        _print(text)
        for p in out.get("provenance") or []:
            if p not in text:
                _print(f"  · {p}")
    return 0


def cmd_chat(args) -> int:
    from assistant import Assistant
    a = Assistant(settings=_settings(args), entry="chat", user=getattr(args, "user", None))  # --user or the OS user
    _print("Guanxi chat — type a question (zh/en); 'reset' forgets the conversation, 'exit' quits.")
    while True:
        try:
            q = input("> ").strip()
        except EOFError:
            break
        if q in ("exit", "quit", "退出"):
            break
        if q in ("reset", "重置"):
            a.reset()
            continue
        if q:
            out = a.ask(q)
            _print(md_unescape(out["answer"]))
    return 0


def cmd_tool(args) -> int:
    from tools.registry import call_tool
    try:
        tool_args = json.loads(args.args or "{}")
    except json.JSONDecodeError as e:
        raise GuanxiError(f"--args: expected a JSON object, got {args.args!r} ({e.msg})") from None
    from assistant.audit import audit, default_user
    from knowledge.workspace import Workspace
    from tools.context import ToolContext
    settings = _settings(args)
    user = args.user or default_user()
    refused = False
    try:
        result = call_tool(args.name, tool_args, ctx=ToolContext(settings, role=args.role, user=user))
    except GuanxiError as e:
        refused = type(e).__name__ == "ToolDenied"
        raise
    finally:   # audited like a question: who, which tool, the arguments' hash
        if Path(settings.workspace).is_dir():
            audit(Workspace(settings.workspace), user, args.role, "tool", entry="cli",
                  tool_calls=[{"tool": args.name, "args": tool_args, "refused": refused}])
    _print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    return 0


def cmd_tools(args) -> int:
    from tools.registry import tool_schemas, tools_markdown
    if getattr(args, "markdown", False):
        _print(tools_markdown().rstrip("\n"))
        return 0
    _print(json.dumps(tool_schemas(), ensure_ascii=False, indent=2))
    return 0


def cmd_eval(args) -> int:
    if args.what == "retrieval":
        from evals.retrieval import main as run
    elif args.what == "assistant":
        from evals.assistant import main as run
    else:
        raise GuanxiError(f"unknown eval {args.what!r}; expected retrieval or assistant")
    return run(_settings(args), args) or 0


def cmd_users(args) -> int:
    from assistant.users import add_user
    settings = _settings(args)
    add_user(settings, args.username, args.role, args.password)
    _print(f"user {args.username} ({args.role}) saved")
    return 0


def cmd_backup(args) -> int:
    from assistant.audit import audit, default_user
    from knowledge.backup import backup_workspace
    from knowledge.workspace import Workspace
    ws = Workspace(_settings(args).workspace)
    if not ws.root.is_dir():
        raise GuanxiError(f"workspace {ws.root} does not exist")
    info = backup_workspace(ws, args.to)
    audit(ws, args.user or default_user(), "admin", "backup", events=info["events"], file=Path(info["path"]).name)
    _print(f"backup written: {info['path']} — {info['events']:,} events (last id {info['last_id']})"
           + (", users file" if info["users"] else ", no users file"))
    return 0


def cmd_restore(args) -> int:
    from assistant.audit import audit, default_user
    from knowledge.backup import restore_workspace
    from knowledge.workspace import Workspace
    ws = Workspace(_settings(args).workspace)
    info = restore_workspace(args.source, ws, force=args.force)
    audit(ws, args.user or default_user(), "admin", "restore", events=info["events"],
          replaced_events=info["replaced_events"], file=Path(args.source).name)
    _print(f"restored into {ws.root}: {info['events']:,} events"
           + (f" (replacing {info['replaced_events']:,})" if info["replaced_events"] else "")
           + (", users file" if info["users"] else "") + f" — backup of {info['created']}")
    return 0


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", help="workspace folder (overrides GUANXI_WORKSPACE / guanxi.toml)")
    common.add_argument("--config", help="settings file (default: ./guanxi.toml)")

    p = argparse.ArgumentParser(prog="guanxi", description="Guanxi: a CRM knowledge assistant (zh/en).")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("demo", parents=[common], help="generate and build the demo CRM workspace")
    s.add_argument("--customers", type=int, help="number of customers (default 5000)")
    s.add_argument("--orders", type=int, help="number of order lines (default 20 per customer)")
    s.add_argument("--feedback", type=int, help="number of feedback items (default 1.6 per customer)")
    s.add_argument("--seed", type=int, help="random seed (same seed, same data)")
    s.add_argument("--no-index", action="store_true", help="skip the feedback vector index")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("build", parents=[common], help="ingest a folder of CSV/Excel files into the workspace")
    s.add_argument("--data", required=True, help="folder of .csv / .xlsx files")
    s.add_argument("--mapping", help="TOML mapping file: file → table, header → column, separator")
    s.add_argument("--no-index", action="store_true", help="skip the feedback vector index")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("start", parents=[common], help="build the demo workspace if absent, then serve the app")
    s.add_argument("--host", help="host to bind to (default: GUANXI_HOST or 127.0.0.1)")
    s.add_argument("--port", type=int, help="port to listen on (default: GUANXI_PORT or 7860)")
    s.set_defaults(func=cmd_start)

    s = sub.add_parser("serve", parents=[common], help="serve the web app")
    s.add_argument("--host", help="host to bind to (default: GUANXI_HOST or 127.0.0.1)")
    s.add_argument("--port", type=int, help="port to listen on (default: GUANXI_PORT or 7860)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("ask", parents=[common], help="ask one question")
    s.add_argument("question", help="the question, in Chinese or English (quote it)")
    s.add_argument("--json", action="store_true", help="print the full answer object as JSON")
    s.add_argument("--user", help="who is asking, for the audit log and the events written (default: the OS login)")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("chat", parents=[common], help="a terminal conversation")
    s.add_argument("--user", help="who is asking, for the audit log and the events written (default: the OS login)")
    s.set_defaults(func=cmd_chat)

    s = sub.add_parser("tool", parents=[common], help="call one tool and print its JSON result")
    s.add_argument("name", help="tool name (see `guanxi tools`)")
    s.add_argument("--args", default="{}", help="JSON object of arguments")
    s.add_argument("--role", default="manager", help="role to call as: manager (contacts masked, default), agent, admin")
    s.add_argument("--user", help="who is calling, for the audit log and the events written (default: the OS login)")
    s.set_defaults(func=cmd_tool)

    s = sub.add_parser("semantic", parents=[common],
                       help="print the semantic model: metrics, dimensions, the workspace's own terms and verified questions")
    s.add_argument("--json", action="store_true", help="print it as JSON")
    s.set_defaults(func=cmd_semantic)

    s = sub.add_parser("tools", parents=[common], help="list the tools and their argument schemas")
    s.add_argument("--markdown", action="store_true",
                   help="print the tools reference (docs/TOOLS.md) generated from the tool specs instead of JSON")
    s.set_defaults(func=cmd_tools)

    s = sub.add_parser("eval", parents=[common], help="run an evaluation: retrieval or assistant")
    s.add_argument("what", choices=["retrieval", "assistant"],
                   help="retrieval: search quality on the labelled public sets; "
                        "assistant: routing / argument / fact accuracy")
    s.add_argument("--mode", default="offline", choices=["offline", "llm"],
                   help="assistant eval: the offline router or the configured LLM agent")
    s.add_argument("--limit", type=int, help="at most this many items per set (faster)")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("users", parents=[common], help="manage app users")
    us = s.add_subparsers(dest="users_command", required=True)
    a = us.add_parser("add", parents=[common], help="add or update a user")
    a.add_argument("username", help="login name")
    a.add_argument("--role", required=True, choices=["manager", "agent", "admin"], help="the user's role")
    a.add_argument("--password", help="password (prompted when absent)")
    a.set_defaults(func=cmd_users)

    s = sub.add_parser("backup", parents=[common],
                       help="copy the event log and the users file (the data that exists nowhere else), safe while the app runs")
    s.add_argument("--to", required=True, help="a folder (a new guanxi-backup-… folder is made inside) or a new .zip file")
    s.add_argument("--user", help="who makes the backup, for the audit log (default: the OS login)")
    s.set_defaults(func=cmd_backup)

    s = sub.add_parser("restore", parents=[common], help="bring back the event log and users file from a backup")
    s.add_argument("source", help="a backup folder or .zip written by `guanxi backup`")
    s.add_argument("--force", action="store_true",
                   help="replace an event log that already holds events (and a different users file)")
    s.add_argument("--user", help="who restores, for the audit log (default: the OS login)")
    s.set_defaults(func=cmd_restore)

    s = sub.add_parser("schema", parents=[common], help="print the canonical schema (Markdown)")
    s.set_defaults(func=cmd_schema)

    s = sub.add_parser("settings", parents=[common], help="print the effective settings")
    s.set_defaults(func=cmd_settings)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GuanxiError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return e.exit_code
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
