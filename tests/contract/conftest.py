"""The memory-or-Redis `backend` fixture of the session contract, shared with the event
contract (tests/contract/test_event_contract.py) so both run every case on both stores."""

from tests.contract.test_store_contract import backend

__all__ = ["backend"]
