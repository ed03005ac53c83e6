"""Reminders of the deadlines the bot computes (issue 10): when (plan), where they are
kept (book), what they say (message) and how they are sent (worker)."""
