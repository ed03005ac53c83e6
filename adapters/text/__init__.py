"""The plain-text surface used by the local chat (`iijmio-bot chat`)."""

from adapters.text.parse import to_inbound
from adapters.text.render import render_banner, render_json, render_plain

__all__ = ["render_banner", "render_json", "render_plain", "to_inbound"]
