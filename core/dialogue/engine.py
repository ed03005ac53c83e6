"""The dialogue engine: one pure step from (session, intent, now) to (session', reply).

No I/O and no clock reads here; the rule data and the flow are loaded once by the
caller (or `default_dialogue`) and passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from functools import cache

from core.clock import JST
from core.dialogue import prefill
from core.dialogue.compute import REGISTRY, Computation, Context
from core.dialogue.loader import load_flow, load_texts
from core.dialogue.model import (
    Flow,
    Node,
    NodeKind,
    resolve_bound,
    resolve_token,
)
from core.intent import ChoiceSpec, Command, Expectation, Intent, IntentKind
from core.limits import MAX_TEXTS
from core.policy import NoRuleInForce, RuleBook, format_date_ja, load_rules
from core.policy.rules import RuleVersion
from core.remind.service import remind_choice
from core.reply import (
    FEEDBACK_RESOLVED,
    FEEDBACK_UNRESOLVED,
    NAV_MENU,
    TOPIC_PREFIX,
    Card,
    Choice,
    DateQuestion,
    Link,
    Reply,
)
from core.session import Frame, Session

# Intents from a button or a date picker: they carry the node they were rendered for.
_TIED_TO_A_NODE = frozenset({IntentKind.CHOICE, IntentKind.DATE, IntentKind.BAD_DATE})

# Why a conversation is handed to a person (Reply.handoff; the event stream counts them).
HANDOFF_ASKED = "asked"  # 「オペレーターと話したい」
HANDOFF_UNRESOLVED = "unresolved"  # 「解決しない」 → 「担当者に相談」
HANDOFF_NOT_UNDERSTOOD = "not_understood"  # the third message in a row not understood


class FlowDialogue:
    def __init__(
        self,
        flow: Flow,
        *,
        rules: RuleBook | None = None,
        computations: Mapping[str, Computation] | None = None,
        texts: Mapping[str, str] | None = None,
    ) -> None:
        self._flow = flow
        self._rules = rules
        self._comps = REGISTRY if computations is None else computations
        self._texts = load_texts() if texts is None else texts
        self._topic_entries = {t.node: topic_id for topic_id, t in flow.topics.items()}

    # ---- read-only views for the turn, the adapters' questions and the tests -------------

    @property
    def flow(self) -> Flow:
        return self._flow

    @property
    def flow_version(self) -> str:
        return self._flow.version

    def topic_of(self, session: Session | None) -> str:
        """The topic a conversation is about: the latest topic entry node it passed through
        (its own node, then 戻る history), "" at the menu or with no session."""
        if session is None:
            return ""
        for node in (session.node, *(f.node for f in reversed(session.history))):
            if node in self._topic_entries:
                return self._topic_entries[node]
        return ""

    @property
    def computations(self) -> Mapping[str, Computation]:
        return self._comps

    @property
    def rules(self) -> RuleBook:
        if self._rules is None:
            self._rules = load_rules()
        return self._rules

    # ---- what understanding should expect -------------------------------------------

    def expectation(self, session: Session | None) -> Expectation:
        node = self._node_of(session)
        choices = [ChoiceSpec(c.label, c.value, c.synonyms) for c in node.choices]
        # Typed 「解決しない」 under a card means the button.
        choices += [ChoiceSpec(c.label, c.value) for c in self.feedback_choices(node)]
        if session is not None and session.node == node.id:
            choices += [
                ChoiceSpec(self.flow.topics[t].label, TOPIC_PREFIX + t)
                for t in session.pending
                if t in self.flow.topics
            ]
        return Expectation(
            node=node.id, choices=tuple(choices), asks_date=node.kind is NodeKind.DATE
        )

    def feedback_choices(self, node: Node) -> tuple[Choice, ...]:
        """「解決した」「解決しない」: under every answer card, when the flow says where
        「解決しない」 leads."""
        if node.kind is not NodeKind.ANSWER or self.flow.unresolved is None:
            return ()
        return (
            Choice(self.say("feedback_resolved_button"), FEEDBACK_RESOLVED),
            Choice(self.say("feedback_unresolved_button"), FEEDBACK_UNRESOLVED),
        )

    def topic_label(self, session: Session) -> str:
        """What the conversation is about, as the person it is handed to reads it: the
        topic's button label, "" at the menu."""
        topic = self.flow.topics.get(self.topic_of(session))
        return topic.label if topic is not None else ""

    def facts_of(self, session: Session) -> tuple[tuple[str, str], ...]:
        """The customer's answers so far, labelled and shown as the bot shows them."""
        slots = self.flow.slots
        return tuple(
            (slots[k].label if k in slots else k, prefill.display(self.flow, k, v))
            for k, v in session.answers
        )

    def _node_of(self, session: Session | None) -> Node:
        if session is None or session.node not in self.flow.nodes:
            return self.flow.start_node
        return self.flow.nodes[session.node]

    # ---- one turn ---------------------------------------------------------------------

    def step(
        self, session: Session | None, intent: Intent, now: datetime, *, expired: bool = False
    ) -> tuple[Session | None, Reply]:
        turn = _Turn(self, now)
        if intent.kind is IntentKind.FORGET:
            return None, Reply(node=self.flow.start, texts=(self.say("goodbye"),))
        notices: list[str] = []
        fresh = session is None
        if session is None:
            if expired:
                notices.append(self.say("expired"))
            session = self.new_session()
        elif session.node not in self.flow.nodes:
            notices.append(self.say("flow_changed"))
            session, fresh = self.new_session(), True
        elif session.flow_version != self.flow.version:
            pending = tuple(p for p in session.pending if p in self.flow.topics)
            session = replace(session, flow_version=self.flow.version, pending=pending)
        if self.flow.nodes[session.node].kind is NodeKind.SWITCH:
            # A switch is never a resting place; only a session saved under an older flow
            # can stand on one. Route it on as if it had just arrived there.
            session = turn.landing(session)
        new, reply = turn.dispatch(session, intent, fresh)
        if notices:
            reply = replace(reply, texts=_fit([*notices, *reply.texts]))
        return new, reply

    def new_session(self) -> Session:
        return Session(node=self.flow.start, flow_version=self.flow.version)

    def say(self, key: str, **values: str) -> str:
        """A system text of texts.yaml, its {placeholders} filled."""
        return self._texts[key].format(**values) if values else self._texts[key]

    # ---- what adapters ask besides a turn (no session is changed) ------------------

    def menu(self, now: datetime, *, anywhere: bool = False) -> Reply:
        """The reply a new conversation opens with. anywhere: a choice that opens a topic
        is given as 'topic:<id>', which acts whatever node the conversation is at (App
        Home buttons outlive the conversation they were published for)."""
        _, reply = self.step(None, Intent(IntentKind.START), now)
        if not anywhere:
            return reply
        choices = tuple(
            Choice(c.label, TOPIC_PREFIX + c.value) if c.value in self.flow.topics else c
            for c in reply.choices
        )
        return replace(reply, choices=choices)

    def pending(self, session: Session, now: datetime) -> Reply:
        """The question a saved conversation waits on, asked again (a resumed chat)."""
        turn = _Turn(self, now)
        if session.node not in self.flow.nodes:
            return turn.show(self.new_session(), [])
        return turn.ask(turn.landing(session), [])

    def shown(self, session: Session, now: datetime) -> Reply:
        """What the conversation's node shows on arrival, rendered again at `now`: at an
        answer its whole card, with 「リマインドする」 while the deadline leaves a time to
        remind at (pending asks the node again without the card)."""
        turn = _Turn(self, now)
        if session.node not in self.flow.nodes:
            return turn.show(self.new_session(), [])
        return turn.show(turn.landing(session), [])


class _Turn:
    """The work of one step, with `now` fixed for all of it."""

    def __init__(self, dialogue: FlowDialogue, now: datetime) -> None:
        self.d = dialogue
        self.flow = dialogue.flow
        self.now = now.astimezone(JST)
        self.today = self.now.date()
        self.said = prefill.Said()  # what the message states; fills questions ahead
        self.typed = True  # the customer wrote something (not a sticker or an image)

    def dispatch(self, s: Session, intent: Intent, fresh: bool) -> tuple[Session | None, Reply]:
        kind = intent.kind
        self.said = prefill.said(self.flow, s, intent)
        self.typed = kind is not IntentKind.NO_INPUT
        if kind is IntentKind.COMMAND:
            return self.command(s, intent.value)
        if kind is IntentKind.START:
            return self.goto(s, self.flow.start, pre=[self.d.say("greeting")])
        if kind is IntentKind.TOPIC:
            topic = self.flow.topics.get(intent.value)
            if topic is not None:
                return self.answered_along(*self.goto(s, topic.node), prefill.legacy_date(intent))
        elif kind is IntentKind.AMBIGUOUS:
            cands = tuple(dict.fromkeys(c for c in intent.candidates if c in self.flow.topics))
            if len(cands) == 1:
                return self.goto(s, self.flow.topics[cands[0]].node)
            if cands:
                # The facts wait in the answers for the topic the customer picks.
                nodes = [self.flow.topics[c].node for c in cands]
                s = prefill.told(self.flow, s, nodes, self.said, self.today).apply(s, {})
                s = replace(s, pending=cands, no_match=0)
                return s, self.ask(s, [])
        elif kind is IntentKind.OFF_TOPIC:
            return self.goto(s, self.flow.start, pre=[self.d.say("off_topic")])
        if fresh:
            # A new conversation starts at the menu; only a menu button is acted on.
            stale = intent.node is not None and intent.node != self.flow.start
            if kind is not IntentKind.CHOICE or stale:
                return self.goto(s, self.flow.start, pre=[self.d.say("greeting")])
        node = self.flow.nodes[s.node]
        if kind is IntentKind.THANKS:
            # Politeness is not a failed answer: acknowledge and leave the question open.
            s = replace(s, no_match=0)
            return s, self.ask(s, [self.d.say("thanks")])
        if kind in _TIED_TO_A_NODE and intent.node is not None and intent.node != s.node:
            # A button or date picker of an earlier question: it must not answer this one.
            return s, self.ask(s, [self.d.say("stale")])
        if kind is IntentKind.CHOICE and intent.value in (FEEDBACK_RESOLVED, FEEDBACK_UNRESOLVED):
            return self.feedback(s, node, intent.value)
        if kind is IntentKind.CHOICE:
            said = prefill.legacy_date(intent)
            return self.answered_along(*self.choose(s, node, intent.value), said)
        if kind is IntentKind.DATE and node.kind is NodeKind.DATE and intent.date is not None:
            clash = prefill.role_clash(self.flow, node, intent)
            if clash is None:
                return self.take_date(s, node, intent.date)
            words, other = clash
            asked = self.flow.slots[node.slot or ""].label
            text = self.d.say("date_role_clash", said=words, kind=other, asked=asked)
            return replace(s, no_match=0), self.ask(s, [text])
        if kind is IntentKind.BAD_DATE and node.kind is NodeKind.DATE:
            return s, self.ask(s, [self.d.say("bad_date")])
        if kind is IntentKind.VAGUE_DATE and node.kind is NodeKind.DATE:
            note = self.vague_note(intent.value)
            return s, prefill.offer(self.ask(s, []), node, intent.date_candidates, note, self.today)
        if prefill.told(self.flow, s, [s.node], self.said, self.today).values:
            return self.goto(s, s.node)  # the message answers a question here or ahead
        return self.no_match(s)

    def command(self, s: Session, value: str) -> tuple[Session | None, Reply]:
        if value == Command.END:
            return None, Reply(node=s.node, texts=(self.d.say("goodbye"),))
        if value == Command.ERASE:
            # The store deletes the rest (reminders, events): TurnRunner sees the command.
            return None, Reply(node=s.node, texts=(self.d.say("erased"),))
        if value == Command.HELP:
            return s, self.ask(s, [self.d.say("help")])
        if value == Command.HANDOFF:
            return self.hand_off(s, self.why_a_person(s), [])
        if value == Command.BOT:
            # Said while handed off, the turn runner takes it; here the bot is answering.
            s = replace(s, no_match=0)
            return s, self.ask(s, [self.d.say("bot_already")])
        if value == Command.RESTART:
            s = self.d.new_session()
            return s, self.show(s, [])
        if value == Command.BACK:
            if not s.history:
                s = replace(s, no_match=0, pending=())
                return s, self.ask(s, [self.d.say("back_at_start")])
            frame = s.history[-1]
            node = frame.node if frame.node in self.flow.nodes else self.flow.start
            s = replace(
                s,
                node=node,
                answers=frame.answers,
                history=s.history[:-1],
                no_match=0,
                pending=(),
            )
            s = self.landing(s)
            return s, self.show(s, [])
        return self.no_match(s)

    def feedback(self, s: Session, node: Node, value: str) -> tuple[Session, Reply]:
        if not self.d.feedback_choices(node):
            return self.no_match(s)  # not under a card: the buttons were never offered here
        if value == FEEDBACK_RESOLVED:
            # Thanks, and the conversation goes on from the same card.
            s = replace(s, no_match=0)
            return s, replace(self.ask(s, [self.d.say("feedback_thanks")]), feedback="resolved")
        assert self.flow.unresolved is not None  # feedback_choices checked it
        s, reply = self.goto(s, self.flow.unresolved)
        return s, replace(reply, feedback="unresolved")

    def why_a_person(self, s: Session) -> str:
        """Asked for from the 「解決しない」 menu (button or words) or anywhere else."""
        return HANDOFF_UNRESOLVED if s.node == self.flow.unresolved else HANDOFF_ASKED

    def hand_off(self, s: Session, reason: str, pre: Sequence[str]) -> tuple[Session, Reply]:
        """The customer is to talk to a person: they stay at the node they are at, and the
        turn runner arranges the handoff and says what happens next (it depends on the
        platform, the support desk and the hours, none of which the engine knows)."""
        s = replace(s, no_match=0, pending=())
        node = self.flow.nodes[s.node]
        # A way out to the menu, unless they are there or the node already offers one.
        out = () if s.node == self.flow.start else (Choice(self.d.say("menu_button"), NAV_MENU),)
        choices = self.distinct(s, (*self._choices(s, node), *out))
        return s, Reply(node=s.node, texts=_fit(pre), choices=choices, handoff=reason)

    def answered_along(
        self, s: Session | None, reply: Reply, said: date | None
    ) -> tuple[Session | None, Reply]:
        """Landed on a date question whose date the customer already gave ("6月20日に
        契約したけど最低利用期間は？"): take it rather than ask again."""
        if s is None or said is None or s.pending:
            return s, reply
        node = self.flow.nodes[s.node]
        return self.take_date(s, node, said) if node.kind is NodeKind.DATE else (s, reply)

    def choose(self, s: Session, node: Node, value: str) -> tuple[Session | None, Reply]:
        if value.startswith(TOPIC_PREFIX):
            topic = self.flow.topics.get(value[len(TOPIC_PREFIX) :])
            if topic is not None:
                return self.goto(s, topic.node)
        if value == NAV_MENU and node.choice(value) is None:
            return self.goto(s, self.flow.start)
        picked = prefill.choice_date(value)
        if picked is not None and node.kind is NodeKind.DATE:
            return self.take_date(s, node, picked)  # a candidate of a vague date
        choice = node.choice(value)
        if choice is None:
            return self.no_match(s)
        sets = {slot: resolve_token(v, self.today) for slot, v in choice.sets}
        return self.goto(s, choice.next, sets=sets)

    def take_date(self, s: Session, node: Node, value: date) -> tuple[Session | None, Reply]:
        lo, hi = resolve_bound(node.min, self.today), resolve_bound(node.max, self.today)
        if not lo <= value <= hi:
            text = self.d.say("date_out_of_range", min=format_date_ja(lo), max=format_date_ja(hi))
            return replace(s, no_match=0), self.ask(s, [text])
        assert node.slot is not None and node.next is not None  # the validator guarantees it
        return self.goto(s, node.next, sets={node.slot: value.isoformat()})

    def no_match(self, s: Session) -> tuple[Session, Reply]:
        s = replace(s, no_match=s.no_match + 1)
        node = self.flow.nodes[s.node]
        asks_date = node.kind is NodeKind.DATE and not s.pending
        if s.no_match == 1:
            return s, self.ask(s, [self.d.say("no_match_1_date" if asks_date else "no_match_1")])
        if s.no_match == 2:
            if asks_date:
                text = self.d.say("no_match_2_date")
            else:
                labels = [c.label for c in self._choices(s, node)][:3]
                text = self.d.say("no_match_2_choices", examples="」「".join(labels))
            return s, self.ask(s, [text])
        if self.typed:
            # The third message in a row: a person may help where the bot could not.
            return self.hand_off(s, HANDOFF_NOT_UNDERSTOOD, [self.d.say("no_match_3")])
        # Stickers and images are no request for a person: the menu and the contacts.
        reply = self.ask(s, [self.d.say("no_match_3_menu")])
        if s.node != self.flow.start:
            # A way out to the menu, unless the question already offers one.
            menu = Choice(self.d.say("menu_button"), NAV_MENU)
            reply = replace(reply, choices=self.distinct(s, (*reply.choices, menu)))
        return s, reply

    # ---- moving and rendering ---------------------------------------------------------

    def goto(
        self,
        s: Session,
        target: str,
        *,
        sets: Mapping[str, str] | None = None,
        pre: Sequence[str] = (),
    ) -> tuple[Session, Reply]:
        if self.flow.nodes[target].kind is NodeKind.HANDOFF:
            return self.hand_off(s, self.why_a_person(s), pre)
        told = prefill.told(self.flow, s, [target], self.said, self.today)
        sets = sets or {}
        if target != s.node or sets or told.values:
            s = s.pushed(Frame(s.node, s.answers))
        s = told.apply(s, sets)
        node_id, reused = self.settle(target, dict(s.answers), told.fresh(s, sets))
        s = self.landing(replace(s, node=node_id, no_match=0, pending=()))
        notes = [*pre, self.d.say("reused")] if reused else list(pre)
        items = prefill.understood(self.flow, s, told)
        if items:
            notes.append(self.d.say("understood", items=items))
        return s, self.offer_vague(s, self.show(s, notes))

    def offer_vague(self, s: Session, reply: Reply) -> Reply:
        """Landed on a date question the message answered only roughly: offer its dates."""
        node = self.flow.nodes[s.node]
        rough, candidates = prefill.vague_for(self.flow, node, self.said.facts)
        if rough is None or s.pending or not reply.asks_date:
            return reply
        return prefill.offer(reply, node, candidates, self.vague_note(rough.said), self.today)

    def vague_note(self, said: str) -> str:
        return self.d.say("vague_date", said=said) if said else self.d.say("vague_date_unnamed")

    def settle(
        self, target: str, answers: dict[str, str], fresh: frozenset[str] = frozenset()
    ) -> tuple[str, bool]:
        """Follow switches and questions already answered; stop where the user must act.
        `reused` says an answer from earlier in the conversation was used (not a ``fresh``
        one, just given by button or message)."""
        node_id, reused = target, False
        for _ in range(len(self.flow.nodes) + 1):
            node = self.flow.nodes[node_id]
            if node.kind is NodeKind.SWITCH:
                if node.slot:
                    key = answers.get(node.slot, "")
                elif self.missing_inputs(node, answers):
                    return self.flow.start, False  # only an older flow's session gets here
                else:
                    try:
                        key = self.compute(node, answers).get(node.compute_key or "", "")
                    except NoRuleInForce:
                        key = ""  # the default route's answer says the rule is missing
                node_id = dict(node.cases).get(key, node.next or self.flow.start)
            elif node.kind is NodeKind.DATE and node.slot in answers and node.next:
                node_id, reused = node.next, reused or node.slot not in fresh
            elif node.kind is NodeKind.QUESTION and node.slot and node.slot in answers:
                chosen = [
                    c for c in node.choices if dict(c.sets).get(node.slot) == answers[node.slot]
                ]
                # A value no button offers (a typed amount) goes the question's own way.
                after = chosen[0].next if chosen else node.next
                if after is None:
                    return node_id, reused
                node_id, reused = after, reused or node.slot not in fresh
            else:
                return node_id, reused
        return self.flow.start, False  # a loop of automatic nodes: the validator should stop it

    def landing(self, s: Session) -> Session:
        """An answer whose inputs are missing (a saved session from an older flow, say)
        cannot be shown: such a move lands on the menu instead."""
        if self.flow.nodes[s.node].kind is NodeKind.SWITCH:
            # Not a resting place either (a frame or session from an older flow): route on.
            s = replace(s, node=self.settle(s.node, dict(s.answers))[0])
        if self.missing_inputs(self.flow.nodes[s.node], dict(s.answers)):
            return replace(s, node=self.flow.start)
        if self.flow.nodes[s.node].kind is NodeKind.HANDOFF:
            return replace(s, node=self.flow.start)  # never a resting place either
        return s

    def missing_inputs(self, node: Node, answers: Mapping[str, str]) -> bool:
        comp = self.d.computations.get(node.compute) if node.compute else None
        return comp is not None and any(slot not in answers for slot in comp.needs)

    def compute(self, node: Node, answers: Mapping[str, str]) -> dict[str, str]:
        if node.compute is None:
            return {}
        return self.compute_cited(node, answers)[0]

    def compute_cited(
        self, node: Node, answers: Mapping[str, str]
    ) -> tuple[dict[str, str], tuple[RuleVersion, ...]]:
        if node.compute is None:
            return {}, ()
        ctx = Context(answers=answers, now=self.now, rules=self.d.rules)
        return self.d.computations[node.compute].run(ctx), tuple(ctx.cited)

    def show(self, s: Session, pre: Sequence[str]) -> Reply:
        """The node as seen on arrival: its question, or its whole answer card."""
        node = self.flow.nodes[s.node]
        if node.kind is not NodeKind.ANSWER:
            return self.ask(s, pre)
        try:
            values, cited = self.compute_cited(node, dict(s.answers))
        except NoRuleInForce:
            # No rule data covers that day: say so rather than guess a date.
            text = self.d.say("rule_missing")
            return Reply(node=s.node, texts=_fit([*pre, text]), choices=self._choices(s, node))
        texts = [*pre]
        if node.text:
            texts.append(node.text.format(**values))
        choices = self._choices(s, node)
        remind = remind_choice(values.get("remind", ""), self.now)
        if remind is not None:  # a deadline still ahead: the card offers a reminder first
            choices = (remind, *choices)
        return Reply(
            node=s.node,
            texts=_fit(texts),
            card=self.card(node, values, cited, dict(s.answers)),
            choices=(*choices, *self.d.feedback_choices(node)),
        )

    def ask(self, s: Session, pre: Sequence[str]) -> Reply:
        """The node as a question again (after help, a slip, a stale button): no card."""
        node = self.flow.nodes[s.node]
        choices = self._choices(s, node)
        if s.pending:
            return Reply(node=s.node, texts=_fit([*pre, self.d.say("ambiguous")]), choices=choices)
        if node.kind is NodeKind.DATE:
            lo, hi = resolve_bound(node.min, self.today), resolve_bound(node.max, self.today)
            question = DateQuestion(
                prompt=node.text, initial=min(max(self.today, lo), hi), min=lo, max=hi
            )
            return Reply(node=s.node, texts=_fit(pre), choices=choices, date_question=question)
        text = node.text if node.kind is NodeKind.QUESTION else self.d.say("answer_follow_up")
        return Reply(node=s.node, texts=_fit([*pre, text]), choices=choices)

    def _choices(self, s: Session, node: Node) -> tuple[Choice, ...]:
        if s.pending:
            topics = [self.flow.topics[t] for t in s.pending if t in self.flow.topics]
            offered = (
                *(Choice(t.label, TOPIC_PREFIX + t.id) for t in topics),
                Choice(self.d.say("menu_button"), NAV_MENU),
            )
        else:
            offered = tuple(Choice(c.label, c.value) for c in node.choices)
        return self.distinct(s, offered)

    def distinct(self, s: Session, choices: Sequence[Choice]) -> tuple[Choice, ...]:
        """The first of any choices that share a label or lead to the same place (two
        「メニューへ」 buttons would only make the customer wonder which is right)."""
        labels: set[str] = set()
        places: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        kept: list[Choice] = []
        for c in choices:
            place = self.destination(s, c.value)
            if c.label in labels or place in places:
                continue
            labels.add(c.label)
            places.add(place)
            kept.append(c)
        return tuple(kept)

    def destination(self, s: Session, value: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Where a choice leads from the current node, with what it records on the way."""
        if value.startswith(TOPIC_PREFIX):
            topic = self.flow.topics.get(value[len(TOPIC_PREFIX) :])
            if topic is not None:
                return topic.node, ()
        choice = self.flow.nodes[s.node].choice(value)
        if choice is not None:
            return choice.next, choice.sets
        if value == NAV_MENU:
            return self.flow.start, ()
        return value, ()

    def card(
        self,
        node: Node,
        values: Mapping[str, str],
        cited: Sequence[RuleVersion] = (),
        answers: Mapping[str, str] | None = None,
    ) -> Card:
        def fill(template: str) -> str:
            return template.format(**values).strip()

        from_message = self.d.say("from_message")
        rows = prefill.card_rows(self.flow, node.rows, fill, answers or {}, from_message)
        # Every card states the date of the knowledge behind it, not only the dated rules:
        # procedures (F1–F15) change too, and the user must know how fresh the answer is.
        source, as_of = node.source, self.d.rules.as_of
        if node.rules:
            used = {v.id: v for v in cited}
            names = list(dict.fromkeys(self._source_of(r, used.get(r)) for r in node.rules))
            source = f"{'・'.join(names) or source} ({', '.join(node.rules)})"
        return Card(
            title=fill(node.title),
            rows=rows,
            steps=tuple(t for t in map(fill, node.steps) if t),
            notes=tuple(t for t in map(fill, node.notes) if t),
            link=Link(node.link.label, node.link.url) if node.link else None,
            source=source,
            as_of=as_of,
        )

    def _source_of(self, rule_id: str, used: RuleVersion | None = None) -> str:
        if used is not None:
            return used.source
        try:
            return self.d.rules.in_force(rule_id, self.today).source
        except NoRuleInForce:  # not in force today: cite the latest version instead
            versions = self.d.rules.versions_of(rule_id)
            return versions[-1].source if versions else rule_id


def _fit(texts: Sequence[str]) -> tuple[str, ...]:
    """At most MAX_TEXTS bubbles: the leading notices are merged into one when needed."""
    items = [t for t in texts if t.strip()]
    while len(items) > MAX_TEXTS:
        items[0:2] = [items[0] + "\n" + items[1]]
    return tuple(items)


@cache
def default_dialogue() -> FlowDialogue:
    return FlowDialogue(load_flow())
