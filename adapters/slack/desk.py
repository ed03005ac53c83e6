"""The support desk in Slack (issue 9): a handoff card in SLACK_HANDOFF_CHANNEL.

The card shows the platform, the topic, what the customer told the bot, their last
messages (masked) and the conversation's hash, with 「対応します」 and 「ボットに戻す」.
A click updates the card in place (chat.update) with who took it or handed it back; the
conversation itself is found from the hash by the turn runner (TurnRunner.release), so
the platform user id never reaches the channel. Slack customers are the exception: a
workspace's own help desk must know whom to DM, so the thread under the card names them.

The bot must be a member of the channel (chat.postMessage answers not_in_channel else).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.texts import say
from core.clip import truncate_utf16
from core.clock import format_date_ja, to_jst
from core.limits import SLACK_FIELD_TEXT, SLACK_SECTION_TEXT
from core.metrics import PLATFORM_API_ERRORS, REPLIES_SENT
from core.turn import HandoffTicket

log = logging.getLogger("iijbot.slack.desk")

DESK = "iijbot:desk"
TAKE = "iijbot:desk:take"
RELEASE = "iijbot:desk:release"
_ACTIONS_BLOCK = "iijbot_desk_actions"
_STATUS_BLOCK = "iijbot_desk_status"

_PLATFORMS = {"line": "LINE", "slack": "Slack", "text": "terminal"}


def card_blocks(ticket: HandoffTicket) -> list[dict[str, Any]]:
    """The handoff card: everything an operator needs before answering, no personal data."""
    when = to_jst(ticket.at)
    fields = [
        (say("desk_platform"), _PLATFORMS.get(ticket.platform, ticket.platform)),
        (say("desk_topic"), ticket.topic or say("desk_no_topic")),
        (say("desk_reason"), _reason(ticket.reason)),
        (say("desk_when"), f"{format_date_ja(when.date())} {when:%H:%M}"),
    ]
    facts = "\n".join(f"・{escape(label)}: {escape(value)}" for label, value in ticket.facts)
    recent = "\n".join(f"> {escape(line)}" for m in ticket.recent for line in m.splitlines() or [m])
    blocks: list[dict[str, Any]] = [
        _section(say("desk_title")),
        {
            "type": "section",
            "fields": [_mrkdwn(f"*{k}*\n{v}", SLACK_FIELD_TEXT) for k, v in fields],
        },
        _section(f"*{say('desk_facts')}*\n{facts or say('desk_none')}"),
        _section(f"*{say('desk_recent')}*\n{recent or say('desk_none')}"),
        {
            "type": "context",
            "elements": [_mrkdwn(say("desk_ref", ref=ticket.ref), SLACK_FIELD_TEXT)],
        },
        _actions(ticket.ref, take=True),
    ]
    return blocks


def escape(text: str) -> str:
    """What a customer wrote, shown as written: Slack reads <…> as mentions and links
    (「<!channel>」 would ping the whole channel) and & as an entity."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _reason(reason: str) -> str:
    said = {
        "asked": say("desk_reason_asked"),
        "unresolved": say("desk_reason_unresolved"),
        "not_understood": say("desk_reason_not_understood"),
    }
    return said.get(reason, reason)


def taken_blocks(blocks: list[dict[str, Any]], ref: str, operator: str) -> list[dict[str, Any]]:
    """The card once an operator pressed 「対応します」: who has it; 「ボットに戻す」 stays."""
    return [*_body(blocks), _status(say("desk_taken", operator=operator)), _actions(ref, False)]


def released_blocks(
    blocks: list[dict[str, Any]], operator: str, back: bool
) -> list[dict[str, Any]]:
    """The card once handed back to the bot: no buttons left."""
    status = say("desk_released", operator=operator) if back else say("desk_already_back")
    return [*_body(blocks), _status(status)]


def _body(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in blocks if b.get("block_id") not in (_ACTIONS_BLOCK, _STATUS_BLOCK)]


def _status(text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "block_id": _STATUS_BLOCK,
        "elements": [_mrkdwn(text, SLACK_FIELD_TEXT)],
    }


def _actions(ref: str, take: bool) -> dict[str, Any]:
    buttons = []
    if take:
        buttons.append(_button(say("desk_take_button"), TAKE, ref, "primary"))
    buttons.append(_button(say("desk_release_button"), RELEASE, ref, None))
    return {"type": "actions", "block_id": _ACTIONS_BLOCK, "elements": buttons}


def _button(label: str, action_id: str, ref: str, style: str | None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": ref,
    }
    if style:
        button["style"] = style
    return button


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text, SLACK_SECTION_TEXT)}


def _mrkdwn(text: str, limit: int) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate_utf16(text, limit)}


class SlackDesk:
    """core.handoff.HandoffDesk over the Slack Web API. Opens its own client on first use,
    so it can be built before the server's event loop runs."""

    def __init__(self, *, bot_token: str, api_url: str, channel: str) -> None:
        self._token = bot_token
        self._api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.channel = channel
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None

    def _api(self) -> AsyncWebClient:
        if self._client is None:
            self._session = aiohttp.ClientSession()
            self._client = AsyncWebClient(
                token=self._token, base_url=self._api_url, session=self._session, timeout=10
            )
        return self._client

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = self._client = None

    async def open(self, ticket: HandoffTicket) -> str | None:
        client = self._api()
        thread = ""

        async def post() -> None:
            nonlocal thread
            posted = await client.chat_postMessage(
                channel=self.channel,
                text=say("desk_fallback", topic=ticket.topic or say("desk_no_topic")),
                blocks=card_blocks(ticket),
            )
            thread = str(posted.get("ts") or "")
            if ticket.mention:
                # The thread under the card: whom to answer, and where.
                await client.chat_postMessage(
                    channel=self.channel,
                    thread_ts=thread,
                    text=say("desk_slack_customer", user=ticket.mention),
                )

        if not await self._call(post()):
            return None
        REPLIES_SENT.labels("slack", "handoff_card").inc()
        return thread

    async def relay(self, thread: str, masked: str) -> bool:
        """A later message of the customer, quoted in the card's thread."""
        quoted = "\n".join(f"> {escape(line)}" for line in masked.splitlines() or [masked])
        return await self._call(
            self._api().chat_postMessage(
                channel=self.channel, thread_ts=thread, text=say("desk_relayed", quoted=quoted)
            )
        )

    async def update(self, channel: str, ts: str, blocks: list[dict[str, Any]]) -> bool:
        return await self._call(
            self._api().chat_update(channel=channel, ts=ts, text=say("desk_updated"), blocks=blocks)
        )

    async def _call(self, call: Awaitable[Any]) -> bool:
        """Run one call to Slack; a refusal or a network failure is counted, logged and
        answered False (the customer then gets the support contacts instead)."""
        try:
            await call
        except SlackApiError as exc:
            self._failed(str(exc.response.status_code), str(exc.response.get("error", "")))
            return False
        except (TimeoutError, aiohttp.ClientError) as exc:
            self._failed("network", type(exc).__name__)
            return False
        return True

    @staticmethod
    def _failed(status: str, error: str) -> None:
        PLATFORM_API_ERRORS.labels("slack", status).inc()
        log.warning("slack handoff desk call failed status=%s error=%s", status, error)
