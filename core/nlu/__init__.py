"""Japanese understanding: normalisation, dates and intents (data in data/intents.yaml).

Importing the package loads the lexicon (readings, lookup index): a process pays it once,
at start-up (core.turn imports this when its runner is built), never on the first
customer's message. bench/bench_understand.py prints what it costs.
"""

from core.nlu.dates import DateParse, parse_date
from core.nlu.lexicon import topic_ids, topic_label
from core.nlu.normalize import normalize
from core.nlu.understand import pick_choice, topic_ranking, understand, warm_up

__all__ = [
    "DateParse",
    "normalize",
    "parse_date",
    "pick_choice",
    "topic_ids",
    "topic_label",
    "topic_ranking",
    "understand",
    "warm_up",
]

warm_up()
