"""LINE adapter (line-bot-sdk v3): webhook in, Flex/quick-reply messages out."""

from adapters.line.richmenu import setup_rich_menu
from adapters.line.webhook import LineBot

__all__ = ["LineBot", "setup_rich_menu"]
