"""`iijmio-bot`: the local chat, the server, flow/rule checks and the LINE rich menu.

The chat goes through the same TurnRunner as LINE and Slack, so what you see in the
terminal is what a customer sees, minus the platform's buttons.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from adapters.text import render_banner, render_json, render_plain, to_inbound
from bots import report
from core.clock import JST, Clock, FixedClock, SystemClock
from core.inbound import ConversationKey, Inbound, InboundKind
from core.reply import Reply
from core.store import StoreUnavailable, store_from_url
from core.store.base import SessionStore
from core.store.redis import redact
from core.turn import TurnConflict, TurnRunner

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_UNAVAILABLE = 2
# The terminal chat records events (platform "text") so the whole loop, chat then
# `iijmio-bot report`, can be tried on one machine. Without IIJBOT_HASH_KEY it names its
# conversations with this fixed key: a terminal user name is nobody's personal data.
TEXT_CHAT_HASH_KEY = b"iijmio-bot terminal chat"
# The checkout's deploy/ folder, so the command works from any directory (editable install).
DEPLOY_LINE = Path(__file__).resolve().parents[1] / "deploy" / "line"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    code: int = args.func(args)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iijmio-bot", description="IIJmio cancellation assistant for LINE and Slack"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    chat = sub.add_parser("chat", help="chat with the bot in this terminal (no credentials)")
    chat.add_argument("--user", default="local", help="conversation id (default: local)")
    chat.add_argument("--now", type=_parse_now, help="fix the clock, ISO-8601 (naive = JST)")
    chat.add_argument("--json", action="store_true", help="one JSON object per input line")
    chat.add_argument("--redis", help="Redis URL (default: $REDIS_URL, else in memory)")
    chat.set_defaults(func=_chat)

    serve = sub.add_parser("serve", help="run the HTTP server for LINE and Slack")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="server processes sharing the port (default 1; about one per CPU core)",
    )
    serve.set_defaults(func=_serve)

    # `remind-worker` was its first name; deployments that still run it keep working.
    worker = sub.add_parser(
        "worker",
        aliases=["remind-worker"],
        help="send due reminders (for deployments that run it apart from serve)",
    )
    worker.add_argument(
        "--interval",
        type=_seconds,
        default=None,
        help="seconds between looks for due reminders (default 20)",
    )
    worker.add_argument(
        "--metrics-port",
        type=_positive,
        help="serve /metrics on this port (behind IIJBOT_METRICS_TOKEN, like serve's)",
    )
    worker.add_argument("--metrics-host", default="127.0.0.1", help="(default: 127.0.0.1)")
    worker.add_argument(
        "--now",
        type=_parse_now,
        help="act as if it were this time, ISO-8601 (naive = JST), the clock running on from "
        "it: for rehearsals against a test Redis (it still sends)",
    )
    worker.set_defaults(func=_worker)

    lint = sub.add_parser("lint", help="validate the dialogue flow and the rules data")
    lint.add_argument("--flow", type=Path, help="flow file (default: the shipped one)")
    lint.add_argument("--rules", type=Path, help="rules file (default: the shipped one)")
    lint.set_defaults(func=_lint)

    graph = sub.add_parser("graph", help="print the dialogue flow as a Mermaid diagram")
    graph.set_defaults(func=_graph)

    report.add_parser(sub)

    menu = sub.add_parser("line-richmenu", help="create and set the default LINE rich menu")
    menu.add_argument("--definition", type=Path, default=DEPLOY_LINE / "richmenu.json")
    menu.add_argument("--image", type=Path, default=DEPLOY_LINE / "richmenu.png")
    menu.set_defaults(func=_line_richmenu)
    return parser


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {value!r}")
    return n


def _seconds(value: str) -> float:
    try:
        n = float(value)
    except ValueError:
        n = 0.0
    if not 0 < n < float("inf"):
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {value!r}")
    return n


def _parse_now(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 date-time: {value!r}") from None
    return at.replace(tzinfo=JST) if at.tzinfo is None else at.astimezone(JST)


# ---- chat ------------------------------------------------------------------------------


def _chat(args: argparse.Namespace) -> int:
    from bots.settings import Settings

    clock: Clock = FixedClock(args.now) if args.now else SystemClock()
    try:
        # The server's settings, so a chat on the server's Redis keeps its session TTL.
        settings = Settings.from_env()
        url = args.redis or settings.redis_url
        store = store_from_url(
            url, ttl=settings.session_ttl, events_retention_days=settings.events_retention_days
        )
    except ValueError as exc:  # SettingsError is one: it names the variable, not secrets
        print(f"iijmio-bot: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    interactive = sys.stdin.isatty() and not args.json
    hash_key = settings.hash_key_bytes or TEXT_CHAT_HASH_KEY
    chat = _Chat(store, clock, args.user, log_text=settings.log_text, hash_key=hash_key)
    # One event loop for the whole run (the Redis pool belongs to it), but stdin is read
    # in the main thread between turns: a reader thread blocked in readline() would keep
    # Ctrl-C from ending the program until the next line arrived.
    with asyncio.Runner() as loop:
        try:
            return _chat_loop(loop, chat, url=url, as_json=args.json, tty=interactive)
        except KeyboardInterrupt:
            if interactive:
                print()
            return EXIT_OK
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, and keep Python's exit-time
            # flush from raising again on the closed pipe.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
        finally:
            loop.run(store.close())


class _Chat:
    """One terminal conversation: the runner every platform uses, plus the one thing only a
    terminal needs, showing where a conversation kept in Redis stands when it is reopened."""

    def __init__(
        self,
        store: SessionStore,
        clock: Clock,
        user: str,
        *,
        log_text: bool,
        hash_key: bytes = b"",
    ) -> None:
        from bots.reminders import book_for
        from core.dialogue import default_dialogue
        from core.remind.service import Reminders

        self.store = store
        self.clock = clock
        self.key = ConversationKey("cli", "-", user)
        self.dialogue = default_dialogue()
        # Reminders are kept like on any platform; the terminal cannot deliver them and
        # says so when the first one is set.
        self.runner = TurnRunner(
            store,
            self.dialogue,
            clock,
            log_text=log_text,
            hash_key=hash_key or None,
            reminders=Reminders(book_for(store)),
        )

    async def opening(self) -> Reply | None:
        """A fresh conversation opens with the menu; a live one (Redis) shows the question
        it waits on again, so a second terminal carries on where the first one stopped."""
        pending = await self.runner.pending(self.key)
        if pending is not None:
            return pending
        return (await self.runner.run(Inbound(self.key, InboundKind.START))).reply

    async def answer(self, line: str, last: Reply | None) -> tuple[Reply | None, bool]:
        """The reply to one typed line, and whether it ended the conversation."""
        outcome = await self.runner.run(to_inbound(line, self.key, last))
        return outcome.reply, outcome.ended


def _chat_loop(
    loop: asyncio.Runner, chat: _Chat, *, url: str | None, as_json: bool, tty: bool
) -> int:
    if not loop.run(chat.store.ping()):
        print(
            f"iijmio-bot: Redis at {redact(url or '')} does not answer; is it running?",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    last: Reply | None = None
    if tty:
        _enable_line_editing()
        print(render_banner())
        last = loop.run(chat.opening())
        if last is not None:
            _emit(last, as_json=False)
    while True:
        line = _read_line(tty)
        if line is None:
            return EXIT_OK
        if not line.strip():
            # A blank line says nothing: it is not sent, so it never counts as a message
            # the bot failed to understand (a terminal just shows the prompt again).
            continue
        try:
            reply, ended = loop.run(chat.answer(line, last))
        except (StoreUnavailable, TurnConflict) as exc:
            print(f"iijmio-bot: {exc}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        if reply is None:
            continue
        last = reply
        _emit(last, as_json)
        if ended:  # 終了 / やめる: the goodbye is the last thing shown
            return EXIT_OK


def _enable_line_editing() -> None:
    # Cursor keys and history for the typed line; absent on some platforms, which is fine.
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401


def _read_line(tty: bool) -> str | None:
    if tty:
        try:
            return input("> ")
        except EOFError:
            print()
            return None
    line = sys.stdin.readline()
    return line if line else None


def _emit(reply: Reply, as_json: bool) -> None:
    if as_json:
        print(json.dumps(render_json(reply), ensure_ascii=False), flush=True)
    else:
        print(render_plain(reply), end="\n\n", flush=True)


# ---- other commands ----------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from bots.server import serve

    serve(args.host, args.port, args.workers)
    return EXIT_OK


def _worker(args: argparse.Namespace) -> int:
    from bots.reminders import run_worker_process

    metrics = None if args.metrics_port is None else (args.metrics_host, args.metrics_port)
    return run_worker_process(args.interval, metrics, args.now)


def _lint(args: argparse.Namespace) -> int:
    from core.dialogue import lint
    from core.dialogue.loader import read_raw
    from core.policy import load_rules

    # A path that cannot be read is the one problem worth reporting: linting the rest
    # against it would only add noise.
    problems = [
        problem
        for name, path in (("flow", args.flow), ("rules", args.rules))
        if path is not None and (problem := _unreadable(name, path))
    ] or lint(args.flow, args.rules)
    if problems:
        for problem in problems:
            print(f"✗ {problem}")
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return EXIT_PROBLEMS
    raw, version = read_raw(args.flow)
    book = load_rules(args.rules) if args.rules else load_rules()
    print(
        f"OK: {len(raw.get('nodes', {}))} nodes, {len(book.rule_ids())} rules "
        f"({len(book.versions)} rule versions as of {book.as_of.isoformat()}, flow {version})"
    )
    return EXIT_OK


def _unreadable(name: str, path: Path) -> str | None:
    """The lint line for a data file that cannot be opened (missing, a directory, no
    permission), in the form the rules loader uses; None when it opens."""
    try:
        with path.open("rb"):
            return None
    except OSError as exc:
        return f"{name}: {path}: cannot read {name} file: {exc.strerror or exc}"


def _graph(args: argparse.Namespace) -> int:
    from core.dialogue import load_flow
    from core.dialogue.graph import to_mermaid

    print(to_mermaid(load_flow()))
    return EXIT_OK


def _line_richmenu(args: argparse.Namespace) -> int:
    import aiohttp

    from adapters.line import setup_rich_menu
    from bots.settings import Settings, SettingsError

    try:
        api = Settings.from_env().line_api
    except SettingsError as exc:
        print(f"iijmio-bot: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if api is None:
        print("iijmio-bot: set LINE_CHANNEL_ACCESS_TOKEN first", file=sys.stderr)
        return EXIT_UNAVAILABLE
    for path in (args.definition, args.image):
        if not path.is_file():
            print(f"iijmio-bot: {path} not found", file=sys.stderr)
            return EXIT_UNAVAILABLE
    try:
        menu_id = asyncio.run(
            setup_rich_menu(api.access_token, api.base_url, args.definition, args.image)
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        # Nothing reached LINE, so nothing was refused: like an unreachable Redis, exit 2.
        print(
            f"iijmio-bot: cannot reach LINE at {api.base_url}: {_api_error(exc)}", file=sys.stderr
        )
        return EXIT_UNAVAILABLE
    except Exception as exc:  # one readable line instead of an SDK traceback
        print(f"iijmio-bot: LINE did not take the rich menu: {_api_error(exc)}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"rich menu {menu_id} is now the default")
    return EXIT_OK


def _api_error(exc: Exception) -> str:
    # The SDK's ApiException carries status and reason; its str() adds headers and body,
    # which are noise here. Anything else (connection refused ...) is named as it is.
    status = getattr(exc, "status", None)
    if status:
        return f"HTTP {status} {getattr(exc, 'reason', '') or ''}".strip()
    return f"{type(exc).__name__}: {exc}"


if __name__ == "__main__":
    raise SystemExit(main())
