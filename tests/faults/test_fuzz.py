"""Property-based fuzzing of `iijmio-bot serve` with LINE and Slack both mounted.

Hypothesis builds signed LINE webhook bodies (events of every type, sources, postbacks of
ours and of anything, texts of any script and length, JSON of any shape where a field
should be) and signed Slack requests (Events API envelopes, slash commands, block_actions
payloads). Properties: no answer is a 5xx (every signed body is either served or refused
with a 4xx), and every message the stubs receive is one LINE or Slack would accept.
A valid text event riding in a LINE body after any number of hostile ones is still
answered: one poison event must not cost the others their replies.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import redis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import BASE_URL
from tests.faults.limits import line_problems, slack_problems
from tests.faults.procs import BotProcess
from tests.integration import slack_stub
from tests.integration.line_stub import ACCESS_TOKEN, CHANNEL_SECRET, LineStub, serve, sign

pytestmark = pytest.mark.faults

EXAMPLES = 120  # per property; each is a real HTTP round trip to the server process
BOUND = 15.0  # seconds for an expected reply to arrive: a hang fails, it is never timed
FUZZ = settings(
    max_examples=EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    deadline=None,
)
# For properties that wait for a reply: a missing one costs BOUND seconds per example, and
# shrinking would replay hundreds of them; the failing example is reported unshrunk.
FUZZ_WAITING = settings(FUZZ, phases=[Phase.explicit, Phase.reuse, Phase.generate])
SLACK_TEAM = slack_stub.TEAM_ID


# ---- the stack: stubs in a background loop, the server as its own process ---------------


class LoopThread:
    """An asyncio loop in a thread, for the stubs, while Hypothesis drives synchronously."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@dataclass(repr=False)  # the stubs' records would flood a failure report
class Stack:
    line: LineStub
    slack: slack_stub.SlackStub
    bot: BotProcess
    http: httpx.Client
    checked_line: int = 0
    checked_slack: int = 0

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("Stack(...)")  # Hypothesis' report; the stubs' records would flood it

    # ---- LINE ----

    def post_line(self, payload: Any, *, raw: bytes | None = None) -> httpx.Response:
        body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
        headers = {"content-type": "application/json", "x-line-signature": sign(body)}
        return self.http.post("/line/webhook", content=body, headers=headers)

    def line_replies_ok(self) -> None:
        """Every LINE delivery since the last call is one LINE accepts."""
        delivered = self.line.delivered[self.checked_line :]
        self.checked_line += len(delivered)
        for d in delivered:
            problems = line_problems(d.messages)
            assert not problems, (problems, d.messages)
        refused = [r for r in self.line.requests if r.status == 400 and "message" in r.path]
        assert not [r.body for r in refused if _not_token_error(r.body)], refused

    def wait_reply(self, token: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + BOUND
        while True:
            got = [d.messages for d in self.line.delivered if d.target == token]
            if got:
                assert len(got) == 1, f"{len(got)} replies to one event"
                return got[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no reply to the event with token {token}")
            time.sleep(0.01)

    # ---- Slack ----

    def post_slack(self, body: bytes, content_type: str) -> httpx.Response:
        headers = {"Content-Type": content_type, **slack_stub.sign(body, int(time.time()))}
        return self.http.post("/slack/events", content=body, headers=headers)

    def slack_messages_ok(self) -> None:
        calls = self.slack.calls[self.checked_slack :]
        self.checked_slack += len(calls)
        shown = {"chat.postMessage", "chat.postEphemeral", "chat.update", "response_url"}
        for call in calls:
            if call.method in shown or call.method == "views.publish":
                problems = slack_problems(call.body)
                assert not problems, (problems, call.body)

    def wait_slack(self, predicate: Callable[[slack_stub.Call], bool]) -> slack_stub.Call:
        deadline = time.monotonic() + BOUND
        while True:
            hits = [c for c in self.slack.calls if predicate(c)]
            if hits:
                return hits[0]
            if time.monotonic() > deadline:
                raise AssertionError("the Slack stub never got the expected message")
            time.sleep(0.01)


def _not_token_error(body: Any) -> bool:
    # A fuzzed reply token LINE never issued is refused as LINE would; anything else
    # refused means we sent something malformed.
    return not (isinstance(body, dict) and body.get("replyToken"))


@pytest.fixture(scope="module")
def stack(redis_db: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    url = f"{BASE_URL}/{redis_db}"
    redis.Redis.from_url(url).flushdb()
    loop = LoopThread()
    line = LineStub()
    line_cm = serve(line.app())
    slack = slack_stub.SlackStub(token=slack_stub.BOT_TOKEN, team_id=SLACK_TEAM)
    line_url = loop.run(line_cm.__aenter__())
    loop.run(slack.start())
    env = {
        "REDIS_URL": url,
        "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE_URL": line_url,
        "SLACK_SIGNING_SECRET": slack_stub.SIGNING_SECRET,
        "SLACK_BOT_TOKEN": slack_stub.BOT_TOKEN,
        "SLACK_API_URL": slack.api_url,
        "LOG_LEVEL": "WARNING",
    }
    bot = BotProcess(env, tmp_path_factory.mktemp("fuzz"))
    bot.start()
    try:
        with httpx.Client(base_url=bot.url, timeout=BOUND) as http:
            yield Stack(line, slack, bot, http)
    finally:
        bot.stop()
        loop.run(slack.stop())
        loop.run(line_cm.__aexit__(None, None, None))
        loop.close()
        redis.Redis.from_url(url).flushdb()


# ---- strategies --------------------------------------------------------------------------

leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
any_json = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)
# JSON nested far deeper than any parser's stack: as a whole body, and as text inside one.
deep_json = st.integers(1, 200_000).map(lambda n: "[" * n + "]" * n)
deep_object_text = st.integers(1, 100_000).map(lambda n: '{"n":' * n + "1" + "}" * n)
# Texts people type, and what they should not: every script, emoji, controls, very long.
texts = (
    st.text(max_size=200)
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
    | st.sampled_from(["解約したい", "MNP", "ヘルプ", "戻る", "終了", "2026年12月31日", "はい"])
    | st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(500, 3000))
)
users = st.sampled_from([f"Ufuzz{n:027d}" for n in range(6)])
nodes = st.sampled_from(["menu", "cancel", "mnp", "end_date", "nonexistent"]) | st.text(max_size=12)
postback_data = (
    st.builds(lambda n, v: urlencode({"n": n, "v": v}), nodes, st.text(max_size=20))
    | st.builds(lambda n, p: urlencode({"n": n, "p": p}), nodes, st.text(max_size=6))
    | st.builds(lambda n: urlencode({"n": n, "d": "1"}), nodes)
    | any_json.map(lambda v: json.dumps(v, ensure_ascii=False))
    | st.text(max_size=300)
    | deep_object_text
)
sources = (
    st.fixed_dictionaries({"type": st.just("user"), "userId": users})
    | st.fixed_dictionaries(
        {"type": st.just("group"), "groupId": st.sampled_from(["Cg1", "Cg2"]), "userId": users}
    )
    | st.fixed_dictionaries({"type": st.just("room"), "roomId": st.just("Rr1"), "userId": users})
    | any_json
)
messages = (
    st.fixed_dictionaries(
        {"type": st.just("text"), "id": st.text(max_size=6), "text": texts | any_json},
        optional={"quoteToken": st.text(max_size=8), "mention": any_json, "emojis": any_json},
    )
    | st.fixed_dictionaries(
        {
            "type": st.sampled_from(["image", "video", "audio", "file", "location", "sticker"]),
            "id": st.text(max_size=6),
        }
    )
    | any_json
)
postbacks = st.fixed_dictionaries(
    {"data": postback_data},
    optional={
        "params": st.fixed_dictionaries({"date": st.dates().map(str)})
        | st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=3)
        | any_json
    },
)
event_types = st.sampled_from(
    ["message", "postback", "follow", "unfollow", "join", "leave", "memberJoined", "unsend"]
) | st.text(max_size=10)
line_events = st.fixed_dictionaries(
    {
        "type": event_types,
        "mode": st.sampled_from(["active", "standby"]) | any_json,
        "timestamp": st.integers(0, 2**53) | st.just(-1) | any_json,
        "source": sources,
        "webhookEventId": st.text(max_size=30) | any_json,
        "deliveryContext": st.fixed_dictionaries({"isRedelivery": st.booleans()}) | any_json,
    },
    optional={
        "replyToken": st.just("issue") | st.text(max_size=10) | any_json,
        "message": messages,
        "postback": postbacks,
    },
)
line_batches = st.lists(line_events | any_json, max_size=4)


def _issue_tokens(stack: Stack, events: list[Any]) -> None:
    for ev in events:
        if isinstance(ev, dict) and ev.get("replyToken") == "issue":
            ev["replyToken"] = stack.line.issue_reply_token()


def fresh_user() -> str:
    # A conversation of its own for the event a property waits on: the LINE adapter's
    # flood control may rightly drop the fuzzed users' events, never this one's.
    return f"Ufresh{uuid.uuid4().hex[:26]}"


def _text_event(stack: Stack, user: str, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": uuid.uuid4().hex,
        "deliveryContext": {"isRedelivery": False},
        "replyToken": stack.line.issue_reply_token(),
        "message": {"type": "text", "id": "1", "text": text},
    }


# ---- LINE --------------------------------------------------------------------------------


@FUZZ
@given(body=any_json.map(lambda v: json.dumps(v, ensure_ascii=False)) | deep_json)
def test_line_any_signed_json_is_never_a_5xx(stack: Stack, body: str) -> None:
    resp = stack.post_line(None, raw=body.encode())
    assert resp.status_code < 500, (resp.status_code, body[:200])
    stack.line_replies_ok()


@FUZZ_WAITING
@given(events=line_batches, destination=st.text(max_size=10) | any_json, text=texts)
def test_line_hostile_events_never_5xx_and_never_cost_a_good_event_its_reply(
    stack: Stack, events: list[Any], destination: Any, text: str
) -> None:
    _issue_tokens(stack, events)
    good = _text_event(stack, fresh_user(), text)
    resp = stack.post_line({"destination": destination, "events": [*events, good]})
    assert resp.status_code == 200, (resp.status_code, events)
    assert line_problems(stack.wait_reply(good["replyToken"])) == []
    stack.line_replies_ok()


@FUZZ_WAITING
@given(data=postback_data, text=texts)
def test_line_any_postback_then_a_typed_text_is_answered_within_limits(
    stack: Stack, data: str, text: str
) -> None:
    user = fresh_user()
    tap = _text_event(stack, user, "")
    del tap["message"]
    tap.update(type="postback", postback={"data": data})
    typed = _text_event(stack, user, text)
    resp = stack.post_line({"destination": "Ubot", "events": [tap, typed]})
    assert resp.status_code == 200, (resp.status_code, data)
    # A tap on data we never rendered may go unanswered (LINE only sends ours back); what
    # the user types next is always answered, whatever state the tap left behind.
    assert line_problems(stack.wait_reply(typed["replyToken"])) == []
    stack.line_replies_ok()


# ---- Slack -------------------------------------------------------------------------------

slack_users = st.sampled_from([f"UF{n:07d}" for n in range(5)])
slack_events = (
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["message", "app_mention", "app_home_opened"])
            | st.text(max_size=10),
            "user": slack_users | any_json,
            "text": texts | any_json,
            "channel": st.sampled_from(["DFUZZ1", "CFUZZ1"]) | any_json,
            "ts": st.just("1700000000.000100") | any_json,
        },
        optional={
            "channel_type": st.sampled_from(["im", "channel", "group"]) | any_json,
            "subtype": st.sampled_from(["bot_message", "message_changed"]) | any_json,
            "bot_id": st.text(max_size=6),
            "tab": st.sampled_from(["home", "messages"]) | any_json,
        },
    )
    | any_json
)


@FUZZ
@given(body=deep_json)
def test_slack_deeply_nested_json_is_never_a_5xx(stack: Stack, body: str) -> None:
    resp = stack.post_slack(body.encode(), "application/json")
    assert resp.status_code < 500, (resp.status_code, len(body))


@FUZZ
@given(event=slack_events, kind=st.sampled_from(["event_callback", "url_verification"]) | any_json)
def test_slack_any_events_api_envelope_is_never_a_5xx(stack: Stack, event: Any, kind: Any) -> None:
    envelope = {
        "token": "legacy",
        "team_id": SLACK_TEAM,
        "api_app_id": "A0APP",
        "type": kind,
        "event": event,
        "event_id": f"Ev{uuid.uuid4().hex[:10]}",
        "event_time": int(time.time()),
        "challenge": "c",
    }
    resp = stack.post_slack(json.dumps(envelope, ensure_ascii=False).encode(), "application/json")
    assert resp.status_code < 500, (resp.status_code, envelope)
    stack.slack_messages_ok()


block_actions = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["block_actions", "view_submission"]) | any_json,
        "user": st.fixed_dictionaries({"id": slack_users, "team_id": st.just(SLACK_TEAM)})
        | any_json,
        "team": st.fixed_dictionaries({"id": st.just(SLACK_TEAM)}) | any_json,
        "actions": st.lists(
            st.fixed_dictionaries(
                {
                    "action_id": st.sampled_from(
                        ["iijbot:choice:0", "iijbot:date:end_date", "iijbot:home:1"]
                    )
                    | st.text(max_size=20),
                    "type": st.sampled_from(["button", "datepicker"]) | any_json,
                },
                optional={
                    "value": postback_data,
                    "selected_date": st.dates().map(str) | st.text(max_size=12) | any_json,
                },
            )
            | any_json,
            max_size=2,
        )
        | any_json,
    },
    optional={
        "container": any_json,
        "channel": st.fixed_dictionaries({"id": st.just("CFUZZ1")}) | any_json,
        "response_url": st.just("stub") | any_json,
        "trigger_id": st.text(max_size=10),
    },
)


@FUZZ
@given(payload=block_actions | any_json)
def test_slack_any_interaction_payload_is_never_a_5xx(stack: Stack, payload: Any) -> None:
    if isinstance(payload, dict) and payload.get("response_url") == "stub":
        payload["response_url"] = stack.slack.response_url(uuid.uuid4().hex)
    body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()
    resp = stack.post_slack(body, "application/x-www-form-urlencoded")
    assert resp.status_code < 500, (resp.status_code, payload)
    stack.slack_messages_ok()


@FUZZ_WAITING
@given(user=slack_users, text=texts)
def test_slack_any_slash_command_text_is_answered_within_limits(
    stack: Stack, user: str, text: str
) -> None:
    name = uuid.uuid4().hex
    form = {
        "team_id": SLACK_TEAM,
        "channel_id": "CFUZZ1",
        "user_id": user,
        "command": "/iijmio",
        "text": text,
        "response_url": stack.slack.response_url(name),
        "trigger_id": f"{uuid.uuid4().int % 10**12}.1.{uuid.uuid4().hex[:8]}",
    }
    resp = stack.post_slack(urlencode(form).encode(), "application/x-www-form-urlencoded")
    assert resp.status_code < 500, (resp.status_code, text)
    if resp.status_code == 200:
        call = stack.wait_slack(lambda c: c.name == name)
        assert slack_problems(call.body) == []
    stack.slack_messages_ok()


@FUZZ_WAITING
@given(user=slack_users, text=texts)
def test_slack_any_direct_message_is_answered_within_limits(
    stack: Stack, user: str, text: str
) -> None:
    channel = f"D{uuid.uuid4().hex[:10].upper()}"
    envelope = {
        "team_id": SLACK_TEAM,
        "api_app_id": "A0APP",
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10]}",
        "event_time": int(time.time()),
        "event": {
            "type": "message",
            "channel_type": "im",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": f"{time.time():.6f}",
        },
    }
    resp = stack.post_slack(json.dumps(envelope, ensure_ascii=False).encode(), "application/json")
    assert resp.status_code == 200, (resp.status_code, text)
    call = stack.wait_slack(lambda c: c.body.get("channel") == channel)
    assert slack_problems(call.body) == []
    stack.slack_messages_ok()
