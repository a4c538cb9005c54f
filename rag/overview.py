"""Summaries and key points of the whole article, every sentence checked and cited.

The model writes after the article it has already read (the same kept reading as a single
question, so a summary costs only its own tokens), asked for the article's main news first,
then its main claims and who makes each. Its reply streams as it is written. Then each
sentence (each bullet) goes through the sentence checks of :mod:`rag.grounding` against the
whole article and is cited where it is backed; what fails is removed and listed.

A length the reader asked for is kept in code, not only asked for in the prompt: "in three
sentences" gives three sentences, "5 key points" five bullets, "in 50 words" at most fifty
words. The model stops once it has written one more than asked (a spare, in case the checks
remove one); if the checks left too few, the article's most important sentences not yet
covered fill the gap (:mod:`rag.salience`), cited where they stand.

An article too long for the model's window is summarised part by part, each part's sentences
checked against that part, then the model merges the parts' sentences into the summary asked
for, checked against the whole article. With no model (the extractive backend, or while the
model reads a new article) the summary is the article's most important sentences.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import salience
from .prompt import _plain
from .router import KEY_POINTS, Length
from .text import (
    NAME,
    STARTERS,
    balance_quotes,
    closest_sentence,
    content_words,
    is_refusal,
    split_sentences,
    strip_markers,
    without_dateline,
)
from .types import ChatMessage, Citation, Paragraph, StreamEvent

if TYPE_CHECKING:
    from .whole import Request

DEFAULT_SENTENCES = 4
DEFAULT_POINTS = 5
MAX_UNITS = 10
TOKENS_PER_UNIT = 48
SWAP_MATCH = 0.6  # a sentence sharing this much of its words with one source sentence copies it
QUOTED_NOTE = (
    "No language model writes here: these are the article's most important sentences, as it "
    "wrote them."
)
READING_NOTE = (
    "The model is still reading this article for the first time; meanwhile these are its most "
    "important sentences, quoted. Ask again in a minute for the model's summary."
)
PARTS_NOTE = "The article is longer than the model's window: it was summarised part by part, then merged."
FILLED_NOTE = (
    "Where the checks removed a sentence, the article's own next most important sentence stands instead."
)
_LABEL = re.compile(r"^\s*(?:summary|key points?|main points?|takeaways?|answer)\s*[:\-–]\s*", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•‣–]|\d{1,2}[.)])\s+")


@dataclass(frozen=True)
class Plan:
    """What to write: bullets or prose, how many, at most how many words."""

    bullets: bool
    count: int | None  # exact, when asked for
    words: int | None
    default: int  # how many when no count was asked for

    @classmethod
    def of(cls, kind: str, length: Length) -> Plan:
        bullets = length.bullets or (kind == KEY_POINTS and length.sentences is None)
        count = length.count if bullets else length.sentences
        if count is None and length.sentences is not None:
            count = length.sentences
        default = DEFAULT_POINTS if bullets else DEFAULT_SENTENCES
        if length.words and count is None:
            default = max(1, min(MAX_UNITS, round(length.words / 22)))
        return cls(bullets, min(count, MAX_UNITS) if count else None, length.words, default)

    @property
    def target(self) -> int:
        return self.count or self.default

    def max_tokens(self) -> int:
        budget = TOKENS_PER_UNIT * (self.target + 1) + 24
        if self.words:
            budget = min(budget, int(self.words * 1.7) + 40)
        return budget

    def instruction(self) -> str:
        """What the model is asked after the question: short, since every token of it is read
        before the first word comes (about 0.4 s for 20 tokens on 2 cores)."""
        n = self.target
        form = f"as {n} '- ' lines" if self.bullets else f"in {n} sentence{'s' if n != 1 else ''}"
        # "of under 20 words": measured, the small model's summaries got shorter (7.4 s against
        # 10.7 s for three sentences) and named more of the article's points
        limit = f", at most {self.words} words in all" if self.words else " of under 20 words"
        return f"Answer {form}{limit}, naming who makes each claim."


@dataclass(frozen=True)
class Unit:
    """One sentence (or bullet) of the reply: its text with markers, and what it cites."""

    text: str
    citations: tuple[Citation, ...]
    quoted: bool = False  # the article's own sentence, filled in

    @property
    def plain(self) -> str:
        return strip_markers(self.text)


Made = Callable[[], Any]  # the article's attribution data, made when first needed


def overview(request: Request, attributions: Made, *, model: bool = True) -> Iterator[StreamEvent]:
    """A summary or the key points of the article (see the module docstring)."""
    plan = Plan.of(request.route.kind, request.route.length)
    if not model or request.backend is None or request.reading:
        note = READING_NOTE if request.reading and model else QUOTED_NOTE
        units = _fit(request, [], plan, attributions)
        yield request.answer(_format(units, plan), _cited(units), notes=(note,))
        return
    if request.shown is None:
        yield from _by_parts(request, plan, attributions)
        return
    tail = f"Question: {_plain(request.question)} {plan.instruction()}"
    if request.conversation:
        turns = "\n".join(f"{m.role}: {_plain(strip_markers(m.content))}" for m in request.conversation)
        tail = f"Conversation so far:\n{turns}\n\n{tail}"
    reply, first = yield from _write(request, request.messages(tail), plan)
    units, removed = check_units(request, reply, plan)
    fitted = _fit(request, arrange(request, units, plan, attributions), plan, attributions)
    notes = (FILLED_NOTE,) if any(u.quoted for u in fitted) else ()
    yield request.answer(_format(fitted, plan), _cited(fitted), first_token_s=first, removed=removed,
                         notes=notes, draft=reply)  # fmt: skip


def _write(request: Request, messages: Sequence[ChatMessage], plan: Plan, *, spare: int = 0):
    """Stream the model's reply as deltas; stop once it has begun a unit past the target plus
    ``spare`` (a unit the checks remove is filled from the article). Returns the reply and when
    its first piece came (a generator's return value)."""
    pieces: list[str] = []
    first = None
    stream = request.stream_model(messages, plan.max_tokens())
    try:
        for piece in stream:
            if first is None:
                first = time.perf_counter() - request.start
            pieces.append(piece)
            yield StreamEvent("delta", piece)
            units = split_units("".join(pieces), plan.bullets)
            done = units[:-1]  # the last one may be only begun
            over = plan.words is not None and len(" ".join(done).split()) > plan.words
            if len(units) > plan.target + spare or (over and len(done) > 1):  # the last one left out
                reply = "".join(pieces)
                return reply[: reply.rfind(units[-1][:40])], first
    finally:
        stream.close()
    return "".join(pieces), first


def split_units(reply: str, bullets: bool) -> list[str]:
    """The reply's bullets (one per line) or sentences, without list marks, labels or headings."""
    lines = [_LABEL.sub("", _BULLET.sub("", line)).strip() for line in reply.splitlines()]
    lines = [line for line in lines if line and not (line.endswith(":") and len(line.split()) < 14)]
    if bullets and len(lines) > 1:
        return lines
    return [s for line in lines for s in split_sentences(line)]


def check_units(request: Request, reply: str, plan: Plan, sources=None) -> tuple[list[Unit], list[str]]:
    """Each unit of ``reply`` through the sentence checks (against ``sources``, default the whole
    article); those with nothing backed are removed. Near-repeats of a kept unit are dropped."""
    grounder = request.assistant.grounder
    sources = sources or request.sources
    kept: list[Unit] = []
    removed: list[str] = []
    seen: list[set[str]] = []
    for text in split_units(reply, plan.bullets):
        if is_refusal(text):
            continue
        checked = grounder.check(text, sources)
        removed += checked.removed
        if checked.supported == 0 or checked.refusal:
            continue
        if swapped(strip_markers(checked.text), [c.text for c in checked.citations]):
            removed.append(strip_markers(checked.text))
            continue
        words = content_words(checked.text)
        if any(words and len(words & other) / len(words) > 0.7 for other in seen):
            continue
        seen.append(words)
        kept.append(Unit(checked.text, checked.citations))
    return kept, removed


def swapped(sentence: str, paragraphs: Sequence[str]) -> bool:
    """Whether ``sentence`` copies an article sentence with its names changed: "NASA will design,
    develop, and operate a pressurized rover" for "Japan will design, develop, and operate a
    pressurized rover …". The sentence checks pass it (most of its words are there); here the
    closest source sentence must not lack a name the copy adds while the copy drops one of its."""
    words = content_words(sentence)
    if len(words) < 4:
        return False
    best, share = closest_sentence(words, paragraphs)
    if share < SWAP_MATCH:
        return False
    mine, theirs = _names(sentence), _names(best)
    in_mine, in_theirs = set().union(*mine, set()), set().union(*theirs, set())
    added = [n for n in mine if not n & in_theirs and not n & content_words(best)
             and not _joined(n, words, paragraphs)]  # fmt: skip
    dropped = [n for n in theirs if not n & in_mine]
    return bool(added) and bool(dropped)


def _joined(name: set[str], words: set[str], paragraphs: Sequence[str]) -> bool:
    """Whether ``name`` comes with its own sentence's words (two at least): a sentence joining two
    ("… in Hollby, and forecasters expect more rain by Thursday"), not a name swapped in ("NASA
    will design …" from "NASA will provide the launch")."""
    for sentence in (s for p in paragraphs for s in split_sentences(p)):
        if any(name & n for n in _names(sentence)) and len((content_words(sentence) & words) - name) >= 2:
            return True
    return False


def _names(text: str) -> list[set[str]]:
    """The names in ``text``, each as the set of its words, lower-cased (capitalised words but the
    common ones that open a sentence): "Victor Cha" and "Cha" share a word, so are one person."""
    found = []
    for match in NAME.finditer(text):
        words = {re.sub(r"[’']s$", "", t).lower() for t in match.group(0).split()} - STARTERS - {""}
        if words:
            found.append(words)
    return found


def arrange(request: Request, units: list[Unit], plan: Plan, attributions: Made) -> list[Unit]:
    """The model's units in the order of importance of the article sentences they restate
    (:mod:`rag.salience`), one per sentence restated; a unit that restates a photo caption or one
    of the article's least important sentences makes room for a better one (see :func:`_fit`)."""
    if not units:
        return units
    ranked = _ranked(request, attributions)
    place = {(r.paragraph.number, r.text): i for i, r in enumerate(ranked)}
    cutoff = max(2 * plan.target + 4, len(ranked) // 2)
    vectors = request.encode([u.plain for u in units] + [r.text for r in ranked])
    unit_v, sent_v = vectors[: len(units)], vectors[len(units) :]
    kept: dict[int, Unit] = {}
    for i, unit in enumerate(units):
        cited = {c.paragraph for c in unit.citations}
        mine = [j for j, r in enumerate(ranked) if r.paragraph.number in cited]
        if not mine:
            continue
        best = max(mine, key=lambda j: float(sent_v[j] @ unit_v[i]))
        rank = place[(ranked[best].paragraph.number, ranked[best].text)]
        if rank in kept or ranked[best].paragraph.number == 0 or rank >= cutoff:
            continue  # a repeat, a caption, or one of the article's least important sentences
        kept[rank] = unit
    return [kept[rank] for rank in sorted(kept)]


def _fit(request: Request, units: list[Unit], plan: Plan, attributions: Callable[[], Any]) -> list[Unit]:
    """``units`` made to keep the length asked for, filled from the article's most important
    sentences when too few are left (see the module docstring)."""
    units = list(units[: plan.target])
    if plan.words:
        while len(units) > 1 and _words(units) > plan.words:
            units.pop()
    room = plan.words - _words(units) if plan.words else None
    wanted = plan.target - len(units)
    if room is not None and plan.count is None and units and room < plan.words / 3:
        wanted = 0  # a word limit alone, two thirds of it used: enough
    if wanted > 0:
        ranked = _ranked(request, attributions)
        # Under a word limit only the best sentences are worth its room, not whatever fits.
        best = ranked[: 2 * plan.target + 4] if room is not None else ranked
        picked = salience.pick(best, wanted, request.encode, avoid=[u.plain for u in units], max_words=room)
        units += [_quoted(r) for r in picked]
    if not units and plan.words:  # every sentence of the article is longer than the limit
        units = [_quoted(r) for r in _ranked(request, attributions)[:1]]
    if plan.words and len(units) == 1 and _words(units) > plan.words:
        units = [_cut(units[0], plan.words)]
    return units


def _ranked(request: Request, made: Callable[[], Any]) -> list[salience.Ranked]:
    speaker_of = None
    attributions = made()
    if attributions is not None:

        def speaker_of(paragraph: Paragraph, sentence: str) -> str | None:
            for statement in attributions.in_paragraph(paragraph.number):
                if statement.speaker and _overlaps(statement.text, sentence):
                    return statement.speaker
            return None

    return salience.rank(
        request.paragraphs, request.encode, speaker_of=speaker_of, people=request.assistant.people,
        focus=request.focus,
    )  # fmt: skip


def _overlaps(a: str, b: str) -> bool:
    return a in b or b in a or len(content_words(a) & content_words(b)) >= 0.5 * max(1, len(content_words(a)))


def _quoted(ranked: salience.Ranked) -> Unit:
    """An article sentence as a unit, cited where it stands (a dateline such as "SEOUL –" left out)."""
    p = ranked.paragraph
    text = balance_quotes(without_dateline(strip_markers(ranked.text)))
    return Unit(f"{text} [¶{p.number}]", (Citation(p.doc, p.number, p.text),), quoted=True)


def _cut(unit: Unit, words: int) -> Unit:
    """One unit cut to ``words`` words (the last resort when a single sentence is too long)."""
    marker = unit.text[len(unit.text.rstrip()) :]
    labels = re.findall(r"\[[^\]]*¶[^\]]*\]", unit.text)
    cut = " ".join(unit.plain.split()[: max(1, words)]).rstrip(",;:") + "…"
    return Unit(f"{cut} {' '.join(labels)}".strip() + marker, unit.citations, unit.quoted)


def _words(units: Sequence[Unit]) -> int:
    return sum(len(u.plain.split()) for u in units)


def _format(units: Sequence[Unit], plan: Plan) -> str:
    if plan.bullets:
        return "\n".join(f"- {u.text}" for u in units)
    return " ".join(u.text for u in units)


def _cited(units: Sequence[Unit]) -> list[Citation]:
    return list(dict.fromkeys(c for u in units for c in u.citations))


# -- an article too long for the window ----------------------------------------------------------
def _by_parts(request: Request, plan: Plan, attributions: Callable[[], Any]) -> Iterator[StreamEvent]:
    """Summarise each part that fits the window, then merge (see the module docstring)."""
    backend = request.backend
    config = request.assistant.config
    budget = max(200, min(config.article_context_tokens or 3000, backend.context_window // 2) - 200)
    parts = _parts(request.paragraphs, budget, backend.count_tokens)
    per_part = max(2, math.ceil(1.5 * plan.target / len(parts)))
    part_plan = Plan(False, per_part, None, per_part)
    gathered: list[Unit] = []
    removed: list[str] = []
    first = None
    for i, part in enumerate(parts, start=1):
        yield StreamEvent("status", f"Reading part {i} of {len(parts)} of the article…")
        tail = (
            f"Question: Summarize this part of the article in {per_part} sentences: its main news, then its "
            "main claims, naming who makes each. Use only the text above."
        )
        prompt, messages = request.prompt_for(part, tail, part_plan.max_tokens())
        reply, started = yield from _write(request, messages, part_plan, spare=0)
        yield StreamEvent("delta", "\n\n")
        first = first if first is not None else started
        units, lost = check_units(request, reply, part_plan, sources=prompt.sources)
        gathered += units
        removed += lost
    lines = [Paragraph(request.doc, i, u.plain) for i, u in enumerate(gathered, start=1)]
    yield StreamEvent("status", "Merging the parts…")
    tail = f"Question: {_plain(request.question)}\n{plan.instruction()}"
    _, messages = request.prompt_for(lines, tail, plan.max_tokens())
    reply, _ = yield from _write(request, messages, plan)
    units, lost = check_units(request, reply, plan)
    removed += lost
    if len(units) < plan.target:  # the parts' own checked sentences before the article's
        units += [u for u in gathered if u.plain not in {k.plain for k in units}][: plan.target - len(units)]
    fitted = _fit(request, units, plan, attributions)
    yield request.answer(_format(fitted, plan), _cited(fitted), first_token_s=first, removed=removed,
                         notes=(PARTS_NOTE,), draft=reply)  # fmt: skip


def _parts(paragraphs: Sequence[Paragraph], budget: int, count) -> list[list[Paragraph]]:
    """Consecutive paragraphs in groups of at most ``budget`` tokens (a longer one alone)."""
    parts: list[list[Paragraph]] = [[]]
    used = 0
    for p in paragraphs:
        cost = count(p.text) + 2
        if parts[-1] and used + cost > budget:
            parts.append([])
            used = 0
        parts[-1].append(p)
        used += cost
    return [p for p in parts if p]
