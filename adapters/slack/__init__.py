"""Slack adapter (slack-bolt AsyncApp): /iijmio, buttons, datepicker, DMs, mentions, App Home."""

from adapters.slack.app import SlackBot

__all__ = ["SlackBot"]
