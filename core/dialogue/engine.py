"""The dialogue engine: one pure step from (session, intent, now) to (session', reply).

No I/O and no clock reads here; the rule data and the flow are loaded once by the
caller (or `default_dialogue`) and passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from functools import cache
from pathlib import Path

from core.clock import JST
from core.dialogue.compute import REGISTRY, Computation, Context
from core.dialogue.loader import FlowError, load_flow, load_texts
from core.dialogue.model import (
    NAV_MENU,
    TOPIC_PREFIX,
    Flow,
    Node,
    NodeKind,
    resolve_bound,
    resolve_token,
)
from core.intent import ChoiceSpec, Command, Expectation, Intent, IntentKind
from core.policy import NoRuleInForce, RuleBook, RulesError, format_date_ja, load_rules
from core.policy.rules import RuleVersion, validate_rules
from core.reply import MAX_TEXTS, Card, Choice, DateQuestion, FactRow, Link, Reply
from core.session import Frame, Session

MENU_LABEL = "メニューへ"


class FlowDialogue:
    def __init__(
        self,
        flow: Flow,
        *,
        rules: RuleBook | None = None,
        computations: Mapping[str, Computation] | None = None,
        texts: Mapping[str, str] | None = None,
    ) -> None:
        self.flow = flow
        self._rules = rules
        self._comps = REGISTRY if computations is None else computations
        self._texts = load_texts() if texts is None else texts

    @property
    def flow_version(self) -> str:
        return self.flow.version

    @property
    def rules(self) -> RuleBook:
        if self._rules is None:
            self._rules = load_rules()
        return self._rules

    # ---- what understanding should expect -------------------------------------------

    def expectation(self, session: Session | None) -> Expectation:
        node = self._node_of(session)
        choices = [ChoiceSpec(c.label, c.value, c.synonyms) for c in node.choices]
        if session is not None and session.node == node.id:
            choices += [
                ChoiceSpec(self.flow.topics[t].label, TOPIC_PREFIX + t)
                for t in session.pending
                if t in self.flow.topics
            ]
        return Expectation(
            node=node.id, choices=tuple(choices), asks_date=node.kind is NodeKind.DATE
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
            return None, Reply(node=self.flow.start, texts=(self._t("goodbye"),), ends_session=True)
        notices: list[str] = []
        fresh = session is None
        if session is None:
            if expired:
                notices.append(self._t("expired"))
            session = self._new_session()
        elif session.node not in self.flow.nodes:
            notices.append(self._t("flow_changed"))
            session, fresh = self._new_session(), True
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

    def pending(self, session: Session, now: datetime) -> Reply | None:
        """The question a saved conversation waits on, with its choices, changing nothing
        (a terminal chat resumed from Redis shows it again); None if the flow lost it."""
        node = self.flow.nodes.get(session.node)
        if node is None or node.kind is NodeKind.SWITCH:
            return None
        return _Turn(self, now).ask(session, [])

    def _new_session(self) -> Session:
        return Session(node=self.flow.start, flow_version=self.flow.version)

    def _t(self, key: str, **values: str) -> str:
        return self._texts[key].format(**values) if values else self._texts[key]

    # ---- checks for `iijmio-bot lint` -----------------------------------------------

    def lint(self) -> list[str]:
        return lint()


class _Turn:
    """The work of one step, with `now` fixed for all of it."""

    def __init__(self, dialogue: FlowDialogue, now: datetime) -> None:
        self.d = dialogue
        self.flow = dialogue.flow
        self.now = now.astimezone(JST)
        self.today = self.now.date()

    def dispatch(self, s: Session, intent: Intent, fresh: bool) -> tuple[Session | None, Reply]:
        kind = intent.kind
        if kind is IntentKind.COMMAND:
            return self.command(s, intent.value)
        if kind is IntentKind.START:
            return self.goto(s, self.flow.start, pre=[self.d._t("greeting")])
        if kind is IntentKind.TOPIC:
            topic = self.flow.topics.get(intent.value)
            if topic is not None:
                return self.answered_along(*self.goto(s, topic.node), intent.date)
        elif kind is IntentKind.AMBIGUOUS:
            cands = tuple(dict.fromkeys(c for c in intent.candidates if c in self.flow.topics))
            if len(cands) == 1:
                return self.goto(s, self.flow.topics[cands[0]].node)
            if cands:
                s = replace(s, pending=cands, no_match=0)
                return s, self.ask(s, [])
        if fresh:
            # A new conversation starts at the menu; only a menu button is acted on.
            stale = intent.node is not None and intent.node != self.flow.start
            if kind is not IntentKind.CHOICE or stale:
                return self.goto(s, self.flow.start, pre=[self.d._t("greeting")])
        node = self.flow.nodes[s.node]
        if kind is IntentKind.THANKS:
            # Politeness is not a failed answer: acknowledge and leave the question open.
            s = replace(s, no_match=0)
            return s, self.ask(s, [self.d._t("thanks")])
        if kind is IntentKind.CHOICE:
            if intent.node is not None and intent.node != s.node:
                return s, self.ask(s, [self.d._t("stale")])
            return self.answered_along(*self.choose(s, node, intent.value), intent.date)
        if kind is IntentKind.DATE and node.kind is NodeKind.DATE and intent.date is not None:
            return self.take_date(s, node, intent.date)
        if kind is IntentKind.BAD_DATE and node.kind is NodeKind.DATE:
            return s, self.ask(s, [self.d._t("bad_date")])
        return self.no_match(s)

    def command(self, s: Session, value: str) -> tuple[Session | None, Reply]:
        if value == Command.END:
            return None, Reply(node=s.node, texts=(self.d._t("goodbye"),), ends_session=True)
        if value == Command.HELP:
            return s, self.ask(s, [self.d._t("help")])
        if value == Command.RESTART:
            s = self.d._new_session()
            return s, self.show(s, [])
        if value == Command.BACK:
            if not s.history:
                s = replace(s, no_match=0, pending=())
                return s, self.ask(s, [self.d._t("back_at_start")])
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
        choice = node.choice(value)
        if choice is None:
            return self.no_match(s)
        sets = {slot: resolve_token(v, self.today) for slot, v in choice.sets}
        return self.goto(s, choice.next, sets=sets)

    def take_date(self, s: Session, node: Node, value: date) -> tuple[Session | None, Reply]:
        lo, hi = resolve_bound(node.min, self.today), resolve_bound(node.max, self.today)
        if not lo <= value <= hi:
            text = self.d._t("date_out_of_range", min=format_date_ja(lo), max=format_date_ja(hi))
            return replace(s, no_match=0), self.ask(s, [text])
        assert node.slot is not None and node.next is not None  # the validator guarantees it
        return self.goto(s, node.next, sets={node.slot: value.isoformat()})

    def no_match(self, s: Session) -> tuple[Session, Reply]:
        s = replace(s, no_match=s.no_match + 1)
        node = self.flow.nodes[s.node]
        asks_date = node.kind is NodeKind.DATE and not s.pending
        if s.no_match == 1:
            return s, self.ask(s, [self.d._t("no_match_1_date" if asks_date else "no_match_1")])
        if s.no_match == 2:
            if asks_date:
                text = self.d._t("no_match_2_date")
            else:
                labels = [c.label for c in self._choices(s, node)][:3]
                text = self.d._t("no_match_2_choices", examples="」「".join(labels))
            return s, self.ask(s, [text])
        reply = self.ask(s, [self.d._t("no_match_3")])
        if not any(c.value == NAV_MENU for c in reply.choices) and s.node != self.flow.start:
            reply = replace(reply, choices=(*reply.choices, Choice(MENU_LABEL, NAV_MENU)))
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
        if target != s.node or sets:
            s = s.pushed(Frame(s.node, s.answers))
        if sets:
            s = s.with_answers(**sets)
        node_id, reused = self.settle(target, dict(s.answers))
        s = self.landing(replace(s, node=node_id, no_match=0, pending=()))
        notes = [*pre, self.d._t("reused")] if reused else list(pre)
        return s, self.show(s, notes)

    def settle(self, target: str, answers: dict[str, str]) -> tuple[str, bool]:
        """Follow switches and questions already answered; stop where the user must act."""
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
                node_id, reused = node.next, True
            elif node.kind is NodeKind.QUESTION and node.slot and node.slot in answers:
                chosen = [
                    c for c in node.choices if dict(c.sets).get(node.slot) == answers[node.slot]
                ]
                if not chosen:
                    return node_id, reused
                node_id, reused = chosen[0].next, True
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
        return s

    def missing_inputs(self, node: Node, answers: Mapping[str, str]) -> bool:
        comp = self.d._comps.get(node.compute) if node.compute else None
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
        return self.d._comps[node.compute].run(ctx), tuple(ctx.cited)

    def show(self, s: Session, pre: Sequence[str]) -> Reply:
        """The node as seen on arrival: its question, or its whole answer card."""
        node = self.flow.nodes[s.node]
        if node.kind is not NodeKind.ANSWER:
            return self.ask(s, pre)
        try:
            values, cited = self.compute_cited(node, dict(s.answers))
        except NoRuleInForce:
            # No rule data covers that day: say so rather than guess a date.
            text = self.d._t("rule_missing")
            return Reply(node=s.node, texts=_fit([*pre, text]), choices=self._choices(s, node))
        texts = [*pre]
        if node.text:
            texts.append(node.text.format(**values))
        return Reply(
            node=s.node,
            texts=_fit(texts),
            card=self.card(node, values, cited),
            choices=self._choices(s, node),
        )

    def ask(self, s: Session, pre: Sequence[str]) -> Reply:
        """The node as a question again (after help, a slip, a stale button): no card."""
        node = self.flow.nodes[s.node]
        choices = self._choices(s, node)
        if s.pending:
            return Reply(node=s.node, texts=_fit([*pre, self.d._t("ambiguous")]), choices=choices)
        if node.kind is NodeKind.DATE:
            lo, hi = resolve_bound(node.min, self.today), resolve_bound(node.max, self.today)
            question = DateQuestion(
                prompt=node.text, initial=min(max(self.today, lo), hi), min=lo, max=hi
            )
            return Reply(node=s.node, texts=_fit(pre), choices=choices, date_question=question)
        text = node.text if node.kind is NodeKind.QUESTION else self.d._t("answer_follow_up")
        return Reply(node=s.node, texts=_fit([*pre, text]), choices=choices)

    def _choices(self, s: Session, node: Node) -> tuple[Choice, ...]:
        if s.pending:
            topics = [self.flow.topics[t] for t in s.pending if t in self.flow.topics]
            return (
                *(Choice(t.label, TOPIC_PREFIX + t.id) for t in topics),
                Choice(MENU_LABEL, NAV_MENU),
            )
        return tuple(Choice(c.label, c.value) for c in node.choices)

    def card(
        self, node: Node, values: Mapping[str, str], cited: Sequence[RuleVersion] = ()
    ) -> Card:
        def fill(template: str) -> str:
            return template.format(**values).strip()

        rows = tuple(FactRow(fill(r.label), value) for r in node.rows if (value := fill(r.value)))
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


def lint(flow_path: Path | None = None, rules_path: Path | None = None) -> list[str]:
    """Problems of the flow and rule data (the shipped files unless paths are given), for
    `iijmio-bot lint`; empty means sound. Rule problems are reported one by one, prefixed."""
    from core.dialogue.loader import read_raw
    from core.dialogue.validator import validate_flow

    problems: list[str] = []
    rule_ids: list[str] | None = None
    try:
        book = load_rules(rules_path, strict=False) if rules_path else load_rules()
        problems += [f"rules: {p}" for p in validate_rules(book)]
        rule_ids = list(book.rule_ids())
    except RulesError as exc:  # broken rule data is reported with the flow's problems
        problems.append(f"rules: {exc}")
    try:
        raw, _ = read_raw(flow_path)
    except FlowError as exc:
        return [*problems, *(f"flow: {p}" for p in exc.problems)]
    problems += [f"flow: {p}" for p in validate_flow(raw, rule_ids=rule_ids)]
    return problems
