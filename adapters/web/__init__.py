"""Web adapter: a chat page for help pages (and an inspector in development), one JSON
endpoint into the same TurnRunner as LINE and Slack."""

from adapters.web.app import DevTools, WebChat, web_routes
from adapters.web.guard import Origins, RateLimits

__all__ = ["DevTools", "Origins", "RateLimits", "WebChat", "web_routes"]
