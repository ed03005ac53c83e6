"""SlackBot: slash command, interactivity and events on one URL, through Bolt's AsyncApp.

Every listener acknowledges first and runs the turn in a task of its own, so Slack's
3-second deadline never depends on Redis or on Slack's own API. Bolt does not dedupe
redeliveries; each Inbound carries a delivery id that the store's commit remembers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.internals import parse_body
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from adapters.slack import desk as desk_card
from adapters.slack import parse
from adapters.slack.actions import PREFIX, SlackLimitError
from adapters.slack.desk import SlackDesk
from adapters.slack.home import home_view
from adapters.slack.render import SlackMessage, fallback_text, render_notice, render_reply
from adapters.slack.send import API_TIMEOUT, Destination, Method, SlackSender, open_client
from adapters.slack.texts import say
from core.inbound import Inbound
from core.metrics import TURNS, WEBHOOK_REQUESTS
from core.reply import Reply
from core.turn import StoreUnavailable, TurnConflict, TurnRunner

log = logging.getLogger("iijbot.slack")

Ack = Callable[[], Awaitable[Any]]

COMMAND = "/iijmio"
SIGNATURE_WINDOW = 60 * 5
IDENTITY_RETRY_SECONDS = 60.0


def signature_ok(
    secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float
) -> bool:
    """Slack's v0 scheme over the exact bytes received (Japanese text included)."""
    if not timestamp or not signature:
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > SIGNATURE_WINDOW:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


class SlackBot:
    def __init__(
        self,
        *,
        signing_secret: str,
        bot_token: str,
        api_url: str,
        runner: TurnRunner,
        command: str = COMMAND,
        desk: SlackDesk | None = None,
        api_timeout: float = API_TIMEOUT,
    ) -> None:
        """desk: the support channel's handoff cards, whose buttons click back here."""
        self._secret = signing_secret
        self._token = bot_token
        self._api_url = api_url if api_url.endswith("/") else api_url + "/"
        self._runner = runner
        self._command = command
        self._api_timeout = api_timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self._handler: AsyncSlackRequestHandler | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sender: SlackSender | None = None
        self._client: AsyncWebClient | None = None
        self._bot_user_id: str | None = None
        self._bot_id: str | None = None
        self._identity_tried = float("-inf")
        self._home: dict[str, Any] | None = None
        self._desk = desk

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self._session, self._client, self._sender = open_client(
            self._token, self._api_url, self._api_timeout
        )

        # authorize= instead of token=: Bolt would otherwise call auth.test before it lets
        # the first request through; we learn the bot's ids lazily, off the request path.
        # Bolt injects listener arguments by parameter name and would count a bound
        # method's `self` as one, so it gets plain functions with exactly the names we use.
        async def authorize(
            enterprise_id: str | None, team_id: str | None, user_id: str | None
        ) -> AuthorizeResult:
            return await self._authorize(enterprise_id, team_id, user_id)

        async def on_command(ack: Ack, body: dict[str, Any]) -> None:
            await self._on_command(ack, body)

        async def on_action(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
            await self._on_action(ack, body, action)

        async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
            await self._on_message(body, event)

        async def on_mention(body: dict[str, Any], event: dict[str, Any]) -> None:
            await self._on_mention(body, event)

        async def on_home_opened(event: dict[str, Any]) -> None:
            await self._on_home_opened(event)

        app = AsyncApp(
            signing_secret=self._secret,
            # Bolt's own client only serves our authorize result; replies use ours.
            client=AsyncWebClient(base_url=self._api_url, session=self._session),
            authorize=authorize,
            name="iijmio-bot",
            logger=logging.getLogger("iijbot.slack.bolt"),
        )
        app.command(self._command)(on_command)
        app.action(re.compile("^" + re.escape(PREFIX)))(on_action)
        app.event("message")(on_message)
        app.event("app_mention")(on_mention)
        app.event("app_home_opened")(on_home_opened)
        self._handler = AsyncSlackRequestHandler(app)

    async def stop(self) -> None:
        await self.idle()
        if self._desk is not None:
            await self._desk.close()
        if self._session is not None:
            await self._session.close()
        self._session = self._sender = self._client = self._handler = None

    async def idle(self) -> None:
        """Wait until every turn started so far has been answered (shutdown and tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ---- HTTP -----------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        if self._handler is None:
            return PlainTextResponse("not started", status_code=503)
        body = await request.body()
        headers = request.headers
        if not signature_ok(
            self._secret,
            body,
            headers.get("x-slack-request-timestamp"),
            headers.get("x-slack-signature"),
            time.time(),
        ):
            WEBHOOK_REQUESTS.labels("slack", "bad_signature").inc()
            return PlainTextResponse("invalid signature", status_code=401)
        # Bolt turns an unparseable body into a 500; a signed but broken request is the
        # sender's fault and gets a 400.
        try:
            parsed = parse_body(body.decode("utf-8"), headers.get("content-type"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            parsed = None  # RecursionError: JSON nested deeper than the parser's stack
        problem = parse.shape_problem(parsed) if isinstance(parsed, dict) else "not an object"
        if problem is not None:
            log.info("slack: refused a signed body of unexpected shape (%s)", problem)
            WEBHOOK_REQUESTS.labels("slack", "malformed").inc()
            return PlainTextResponse("malformed body", status_code=400)
        try:
            response = await self._handler.handle(request)
        except Exception as exc:
            # A shape shape_problem does not know yet: still the sender's fault, never a 5xx.
            # The type only: an exception's message may quote what the user typed.
            log.warning("slack: Bolt could not handle a signed body (%s)", type(exc).__name__)
            WEBHOOK_REQUESTS.labels("slack", "malformed").inc()
            return PlainTextResponse("malformed body", status_code=400)
        WEBHOOK_REQUESTS.labels("slack", "ok" if response.status_code < 400 else "ignored").inc()
        return response

    # ---- Bolt listeners -----------------------------------------------------------------

    async def _authorize(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        if self._bot_user_id is None:
            self._learn_identity()
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            bot_token=self._token,
            bot_user_id=self._bot_user_id,
            bot_id=self._bot_id,
        )

    async def _on_command(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        inbound = parse.slash_inbound(body)
        url = body.get("response_url")
        if inbound is None or not url:
            return
        dest = Destination(Method.RESPONSE_URL, user=inbound.key.user, response_url=str(url))
        self._spawn(self._turn(inbound, dest))

    async def _on_action(
        self,
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
    ) -> None:
        await ack()
        if str(action.get("action_id", "")).startswith(desk_card.DESK):
            self._spawn(self._desk_action(body, action))
            return
        inbound = parse.action_inbound(body, action)
        if inbound is None:  # a link button: Slack opens the page itself
            return
        target = parse.action_target(body)
        user = inbound.key.user
        if target.response_url:
            dest = Destination(
                Method.RESPONSE_URL,
                user=user,
                response_url=target.response_url,
                replace_original=True,
            )
        elif target.channel and target.message_ts:
            dest = Destination(
                Method.UPDATE, user=user, channel=target.channel, ts=target.message_ts
            )
        else:  # App Home: the conversation continues in the DM
            dest = Destination(Method.DM, user=user)
        self._spawn(self._turn(inbound, dest))

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("channel_type") != "im":
            return
        inbound = parse.message_inbound(body, event, self._bot_user_id)
        if inbound is None:
            return
        dest = Destination(Method.POST, user=inbound.key.user, channel=event.get("channel"))
        self._spawn(self._turn(inbound, dest))

    async def _on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("channel_type") == "im":
            return  # the same words arrive as message.im; answer them once
        inbound = parse.message_inbound(body, event, self._bot_user_id)
        if inbound is None:
            return
        dest = Destination(Method.EPHEMERAL, user=inbound.key.user, channel=event.get("channel"))
        self._spawn(self._turn(inbound, dest))

    async def _on_home_opened(self, event: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab", "home") != "home" or not user:
            return
        self._spawn(self._publish_home(str(user)))

    # ---- work after the ack ---------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _turn(self, inbound: Inbound, dest: Destination) -> None:
        assert self._sender is not None
        try:
            outcome = await self._runner.run(inbound)
            if outcome.reply is None:  # a redelivery: already answered
                return
            message = self._render(outcome.reply)
        except StoreUnavailable:
            log.warning("slack turn not answered: session store unavailable")
            await self._sender.deliver(dest.for_notice(), render_notice(say("store_unavailable")))
            return
        except TurnConflict:
            await self._sender.deliver(dest.for_notice(), render_notice(say("busy")))
            return
        except Exception:
            # A bug: the log keeps the exception (never the message text), and the user gets
            # a short apology instead of silence.
            log.exception("slack turn failed")
            TURNS.labels("slack", "error").inc()
            await self._sender.deliver(dest.for_notice(), render_notice(say("failed")))
            return
        await self._sender.deliver(dest, message)

    async def _desk_action(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        """「対応します」 / 「ボットに戻す」 on a handoff card: the card says who did it."""
        if self._desk is None:
            return
        operator = str((body.get("user") or {}).get("id") or "")
        ref = str(action.get("value") or "")
        target = parse.action_target(body)
        blocks = list((body.get("message") or {}).get("blocks") or [])
        if not ref or not operator or not target.channel or not target.message_ts:
            return
        if action.get("action_id") == desk_card.TAKE:
            blocks = desk_card.taken_blocks(blocks, ref, operator)
        else:
            try:
                back = await self._runner.release(ref)
            except StoreUnavailable:
                log.warning("slack desk: store unavailable; the card is left as it was")
                return
            blocks = desk_card.released_blocks(blocks, operator, back)
        await self._desk.update(target.channel, target.message_ts, blocks)

    @staticmethod
    def _render(reply: Reply) -> SlackMessage:
        try:
            return render_reply(reply)
        except SlackLimitError as exc:
            # Text alone still carries the whole answer; buttons can be typed as words.
            log.error("slack render over limits node=%s: %s", reply.node, exc)
            return SlackMessage(text=fallback_text(reply), blocks=())

    async def _publish_home(self, user: str) -> None:
        assert self._sender is not None
        if self._home is None:
            # Published once: its topic buttons act whatever node the user's conversation
            # is at, so the view never goes stale with the conversation.
            self._home = home_view(self._runner.menu(anywhere=True))
        await self._sender.publish_home(user, self._home)

    def _learn_identity(self) -> None:
        now = time.monotonic()
        if now - self._identity_tried < IDENTITY_RETRY_SECONDS:
            return
        self._identity_tried = now
        self._spawn(self._auth_test())

    async def _auth_test(self) -> None:
        if self._client is None:
            return
        try:
            resp = await self._client.auth_test()
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
            log.warning("slack auth.test failed (%s); will retry later", type(exc).__name__)
            return
        self._bot_user_id = resp.get("user_id")
        self._bot_id = resp.get("bot_id")
