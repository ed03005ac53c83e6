"""Redis refuses writes and is fixed again: it fills up (maxmemory reached under
noeviction, as deployed: OOM), or it cannot persist (a failed snapshot with
stop-writes-on-bgsave-error: MISCONF).

Such a Redis still answers reads and PING but refuses every write: for the customer it
is an outage like a dead Redis, never silence or a bare 500. A private redis-server
serves one `iijmio-bot serve`; the fault is caused, then cleared as an operator would
(`CONFIG SET maxmemory 0`; `CONFIG SET stop-writes-on-bgsave-error no`), and the bot
answers again without a restart.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from redis import Redis

from adapters.web.texts import say as web_say
from core.inbound import ConversationKey
from core.session import Session
from core.store.base import event_key, session_key
from tests.faults.conftest import StubLine, line_env
from tests.faults.line_traffic import Traffic
from tests.faults.procs import BotProcess, RedisServer, wait_until

pytestmark = pytest.mark.faults

USER = "U" + "f" * 32
NEW_USER = "U" + "e" * 32


def key(user: str) -> ConversationKey:
    return ConversationKey("line", "-", user)


def faults(server: RedisServer, redis: Redis) -> dict[str, tuple[Callable[[], None], ...]]:
    """fault name: (cause, clear)."""

    def fill() -> None:
        used = int(redis.info("memory")["used_memory"])
        redis.config_set("maxmemory", used // 2)

    def free() -> None:
        redis.config_set("maxmemory", 0)

    def failed_snapshot() -> None:
        redis.bgsave()

        def done() -> bool:
            info = redis.info("persistence")
            return info["rdb_bgsave_in_progress"] == 0 and info["rdb_last_bgsave_status"] == "err"

        wait_until(done, "the snapshot to fail")

    def break_disk() -> None:
        redis.config_set("save", "3600 1")  # save points: a failed snapshot stops writes
        shutil.rmtree(server.dir)
        failed_snapshot()

    def mend_disk() -> None:
        # redis-server works in the directory it started in, gone now: the operator lets
        # writes through while the disk is seen to, the usual stop-gap.
        redis.config_set("stop-writes-on-bgsave-error", "no")

    return {"oom": (fill, free), "misconf": (break_disk, mend_disk)}


@pytest.mark.parametrize("redelivery", [False, True], ids=["notice", "redelivery"])
@pytest.mark.parametrize("fault", ["oom", "misconf"])
async def test_a_redis_refusing_writes_is_a_polite_outage_and_the_bot_recovers(
    fault: str, redelivery: bool, stub_line: StubLine, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path)
    server.start()
    env = line_env(stub_line.url, f"redis://{server.address}/0")
    env["LINE_WEBHOOK_REDELIVERY"] = "1" if redelivery else "0"
    bot = BotProcess(env, tmp_path)
    traffic = Traffic(stub_line.stub, stub_line.http)
    redis = server.client()
    web = f"{bot.url}/web/api/turn"
    try:
        redis.config_set("maxmemory-policy", "noeviction")
        await asyncio.to_thread(bot.start)
        assert bot.proc is not None
        pid = bot.proc.pid
        hello = await traffic.text(bot.url, USER, "こんにちは")
        await traffic.wait_delivered({hello["replyToken"]})
        before = redis.get(session_key(key(USER)))
        assert before is not None

        cause, clear = faults(server, redis)[fault]
        # Every write is refused from here on; reads and PING still work.
        await asyncio.to_thread(cause)

        asked = traffic.event(USER, "解約したい")
        fresh = traffic.event(NEW_USER, "こんにちは")
        status = await traffic.post(bot.url, asked, fresh)
        if redelivery:
            assert status == 500  # LINE sends the body again; no notice meanwhile
        else:
            assert status == 200
            await traffic.wait_delivered({asked["replyToken"], fresh["replyToken"]})
            assert traffic.is_busy(asked["replyToken"]) and traffic.is_busy(fresh["replyToken"])
        # Nothing half-stored: the conversation is as it was, the new one was never begun,
        # and neither event counts as handled.
        assert redis.get(session_key(key(USER))) == before
        assert redis.exists(session_key(key(NEW_USER))) == 0
        for ev, user in ((asked, USER), (fresh, NEW_USER)):
            assert redis.exists(event_key(key(user), ev["webhookEventId"])) == 0

        origin = {"origin": bot.url}
        refused = await traffic.http.post(web, json={"text": "解約したい"}, headers=origin)
        assert refused.status_code == 503
        assert refused.json() == {
            "error": "store_unavailable",
            "message": web_say("store_unavailable"),
        }

        # Cleared: the very next message is answered, by the same process.
        await asyncio.to_thread(clear)
        if redelivery:
            # LINE's redelivery: the same event ids, new reply tokens.
            again = [
                traffic.event(
                    u,
                    ev["message"]["text"],
                    event_id=ev["webhookEventId"],
                    token=stub_line.stub.issue_reply_token(),
                )
                for ev, u in ((asked, USER), (fresh, NEW_USER))
            ]
        else:
            again = [traffic.event(USER, "解約したい"), traffic.event(NEW_USER, "こんにちは")]
        assert await traffic.post(bot.url, *again) == 200
        await traffic.wait_delivered({ev["replyToken"] for ev in again})
        for ev in again:
            assert not traffic.is_busy(ev["replyToken"])
        after = redis.get(session_key(key(USER)))
        assert after is not None
        assert Session.from_json(after).version == Session.from_json(before).version + 1
        assert redis.exists(session_key(key(NEW_USER))) == 1
        answered = await traffic.http.post(web, json={"text": "解約したい"}, headers=origin)
        assert answered.status_code == 200 and answered.json()["reply"] is not None

        assert bot.alive() and bot.proc is not None and bot.proc.pid == pid
        # An outage the bot knows, not a crash: no traceback in its log.
        assert "Traceback" not in bot.log_path.read_text(errors="replace")
    finally:
        await asyncio.to_thread(bot.stop)
        redis.close()
        server.kill()
