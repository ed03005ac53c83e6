"""The desk's index (core/store/handoffs.py) behaves the same beside either store: a card's
hash leads back to its conversation and thread, and forgetting it ends that."""

from __future__ import annotations

from core.inbound import ConversationKey
from core.store.handoffs import index_for
from tests.contract.test_store_contract import Backend

KEY = ConversationKey("line", "-", "U1111")
SLACK = ConversationKey("slack", "T0TEST", "U0ALICE")


async def test_a_ref_leads_back_to_its_conversation_and_thread(backend: Backend) -> None:
    index = index_for(backend.make(3600))
    assert await index.lookup("ref1") is None and await index.thread("ref1") is None
    await index.remember("ref1", KEY, 60)
    assert await index.lookup("ref1") == KEY
    assert await index.thread("ref1") is None  # the card is not posted yet
    await index.remember("ref1", KEY, 60, "1700000000.000001")
    await index.remember("ref2", SLACK, 60, "1700000000.000002")
    assert await index.thread("ref1") == "1700000000.000001"
    assert await index.lookup("ref2") == SLACK
    await index.forget("ref1")
    assert await index.lookup("ref1") is None and await index.lookup("ref2") == SLACK
