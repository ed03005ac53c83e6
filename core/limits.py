"""Every platform limit the core and the adapters check, each in one place with its source.

The platform facts come first (LINE, then Slack), then what a Reply may hold: the strictest
of the platforms we render to, so a Reply that validates renders everywhere and the flow
validator can promise it for every node. core/clip.py cuts text to these numbers.
"""

from __future__ import annotations

# ---- LINE Messaging API reference, https://developers.line.biz/en/reference/messaging-api/
# The SDK checks none of the lengths; the renderer must (see adapters/line/limits.py).
LINE_TEXT_UTF16 = 5000  # text message `text`, in UTF-16 code units
LINE_LABEL = 20  # action `label` (quick-reply items, buttons), in graphemes
LINE_ALT_TEXT = 1500  # Flex message `altText`
LINE_POSTBACK_DATA = 300  # postback action `data`
LINE_DISPLAY_TEXT = 300  # postback action `displayText`
LINE_MESSAGES = 5  # message objects per reply or push request
LINE_QUICK_REPLY_ITEMS = 13  # quick reply `items`
LINE_BUBBLE_BYTES = 30 * 1024  # JSON of one Flex bubble ("Bubble": max 30 KB)

# ---- Slack Block Kit reference, https://api.slack.com/reference/block-kit/blocks
# slack_sdk checks them when a block is serialised; the renderer clips so it never raises.
SLACK_BLOCKS = 50  # blocks per message
SLACK_SECTION_TEXT = 3000  # section `text`
SLACK_FIELD_TEXT = 2000  # one of a section's `fields`
SLACK_FIELDS = 10  # `fields` per section
SLACK_CONTEXT_TEXT = 3000  # a context block's text element
SLACK_HEADER = 150  # header block `text`
SLACK_LABEL = 75  # button `text`
SLACK_ACTIONS_ELEMENTS = 25  # elements per actions block
SLACK_ACTION_ID = 255  # an element's `action_id`
SLACK_BUTTON_VALUE = 2000  # button `value`
# Ours, not Slack's (which truncates at 40,000): the top-level `text` is the notification
# and screen-reader fallback, and a preview needs no more.
SLACK_FALLBACK = 3000

# ---- What a Reply may hold (core/reply.py checks it; core/dialogue/validator.py checks
# the flow against it) -------------------------------------------------------------------
MAX_LABEL = LINE_LABEL  # a choice or link label: LINE's 20 graphemes; Slack allows 75
MAX_TEXT = 2000  # one text bubble / section; keeps well inside LINE 5000 and Slack 3000
MAX_TEXTS = 3  # LINE allows 5 messages per reply: texts + card + question must fit
MAX_TITLE = 40  # card title and row label: Flex/Slack header; short enough for a phone
MAX_ROW_VALUE = 300  # a card row's value
MAX_NOTE = 500  # one step or note of a card
# A card's length: the largest card these allow (every text at its longest) renders to a
# Flex bubble of 25 KB, inside LINE_BUBBLE_BYTES; 10 rows and 10 steps would be 38 KB.
# Slack shows the rows as the fields of one section (SLACK_FIELDS).
MAX_CARD_ROWS = 6
MAX_CARD_STEPS = 6
MAX_CARD_NOTES = 4
MAX_CHOICES = 24  # LINE quick reply pages 13 at a time; Slack actions 25 per block
MAX_VALUE = 200  # postback data ≤ 300 with the node id added; Slack value ≤ 2000
