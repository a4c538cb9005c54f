"""Citations and support: every sentence of a reply must be backed by a retrieved paragraph.

Steps, applied to whatever the model wrote:

1. parse the paragraph markers (see :func:`rag.text.find_markers`) and drop markers for
   paragraphs that were not retrieved;
2. score each sentence against each retrieved paragraph: the share of what it adds to the
   question that the paragraph holds, and its best cosine similarity to the paragraph's sentences;
3. a sentence naming a number or a name that appears in no retrieved paragraph (nor in the
   question) is unsupported, whatever else it shares (``facts``); so is one below both
   thresholds, one that reverses the polarity of the sentence it copies (``polarity``), and one
   that only restates the question (``restates``; a reply saying the question's word negated,
   as a paragraph backing it does, says "no": ``says_no``), and a short answer (a name, a date) found
   only far from the question's matter (``together``; unless that matter's paragraph calls the
   answer by a description the paragraphs naming it give, "the plant", ``described``); a
   sentence that reverses the polarity of the article's sentence is replaced by that sentence,
   cited (``correct``: "Yes, X is recognized" → "X is not recognized …"), and so is one giving
   an amount the article gives something else (``numbers``: "nine months" where the article says
   "eczema at four months"), and one whose amount the article gives only to another matter is
   removed; a sentence that only says again what a kept one said is dropped (``repeats``); a
   bare name of the source a paragraph cites ("according to the Sydney Morning Herald"), no
   person, is removed as the answer to a question about neither a source nor a person
   (``outlets``); a reply none of whose sentences, nor the paragraphs they cite, holds a word of
   the question answers another question and is removed (``on_topic``; a short answer, a name
   or a date, is judged by ``together`` instead); a sentence restating an article sentence that
   does not state the time the question names ("in 1650") is removed (``times``,
   :mod:`rag.anchors`); a bare number given for "How many X?" that no article sentence gives as
   a count of X is replaced by the article's sentence stating it (``counts``: "400." where it
   says "400 soldiers and eight helicopters"); a reply to "How many …?" or "How much X …?" that
   gives no amount at all is removed (``amounts``: "How much funding …?" answered by its donor);
   a "yes" to an amount the article gives another matter is removed (``yes_amounts``: car
   accidents "fell by 17 percent" where absences did);
4. a supported sentence keeps the markers of paragraphs that support it, and gets one (the
   best-supporting paragraph) when it has none; a short answer is cited where the question's
   matter is, a date or number where it is written (``placement``), a claim about the person
   the question names where that person is (``subjects``; :mod:`rag.placement`), a "yes" or
   "no" where the question's claim is (``polar_claims``); unsupported
   sentences are removed and listed.

A sentence saying the article does not cover something is kept as a refusal, not a claim.
Every step named in brackets has a switch (:class:`GroundingChecks`) and an ablation row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from .affirmed import AUXILIARIES, implied_yes, proposition, stated_in, unheld_words
from .anchors import off_time
from .conjuncts import repeats_an_item
from .negation import negated_words, opposed_source, reversed_source
from .novelty import novel_facts
from .numbers import (
    amount_windows,
    gives_no_amount,
    miscounted,
    stated_numbers,
    swapped_number,
    unbound_amount,
    unheld_numbers,
)
from .opposites import opposed_words, outranked
from .people import named_subjects
from .placement import (
    CONTEXT_MARGIN,
    NAME_WEIGHT,
    best_backing,
    cover,
    described_in,
    fact_sources,
    in_context,
    stands_together,
    with_subject,
    written_whole,
)
from .text import (
    NAME,
    STARTERS,
    STOP,
    content_words,
    find_markers,
    forms_of,
    is_refusal,
    main_question,
    says_yes,
    split_sentences,
    strip_markers,
    without_dateline,
)
from .types import Citation, Paragraph

# A sentence adding at most this many content words to the question is a short answer (a name,
# a date); its citation goes to the backing paragraph that also holds the question's matter
# when that one shares at least CONTEXT_MARGIN more of question + answer than the cited one.
SHORT_ANSWER_WORDS = 3
# A reply is off the question's matter only when the matter has this many words, none of which the
# reply or its paragraphs hold: one word ("affected") is too little to tell.
MIN_MATTER_WORDS = 2
# The kind of thing a question asks for: "Which models are …", "What two earlier lapses does …".
_AUX = rf"(?:{'|'.join(sorted(AUXILIARIES))})\b"
_KIND = re.compile(
    rf"^\s*(?:(?:and|so)\s+)?(?:which|what)\s+(?:(?!{_AUX})[\w-]+\s+){{0,3}}?(?!{_AUX})([\w-]+)\s+{_AUX}",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Thresholds:
    """When a sentence counts as supported by a paragraph."""

    lexical: float = 0.5
    semantic: float = 0.62
    lexical_floor: float = 0.25


@dataclass(frozen=True)
class GroundingChecks:
    """Switches of the checks a reply's sentences go through (each has an ablation row)."""

    facts: bool = True
    polarity: bool = True
    restates: bool = True
    together: bool = True
    placement: bool = True
    speakers: bool = True
    joint: bool = True
    correct: bool = True
    numbers: bool = True
    repeats: bool = True
    on_topic: bool = True
    outlets: bool = True
    described: bool = True
    subjects: bool = True
    synonyms: bool = True
    yes_negated: bool = True
    yes_numbers: bool = True
    yes_read: bool = True
    implied_yes: bool = True
    yes_stated: bool = True
    prefixes: bool = True
    asked_speaker: bool = True
    padded: bool = True
    opposed: bool = True
    says_no: bool = True
    times: bool = True
    counts: bool = True
    yes_objects: bool = True
    amounts: bool = True
    yes_amounts: bool = True
    polar_claims: bool = True


@dataclass
class SourceMap:
    """The paragraphs a reply may cite, by the label the prompt gave them (``¶7`` or ``A¶7``)."""

    paragraphs: dict[str, Paragraph]

    @classmethod
    def build(cls, paragraphs: Sequence[Paragraph]) -> SourceMap:
        docs = list(dict.fromkeys(p.doc for p in paragraphs))
        prefix = (
            {d: "" for d in docs} if len(docs) == 1 else {d: chr(ord("A") + i) for i, d in enumerate(docs)}
        )
        return cls({f"{prefix[p.doc]}¶{p.number}": p for p in paragraphs})

    def label(self, paragraph: Paragraph) -> str:
        for label, p in self.paragraphs.items():
            if p.doc == paragraph.doc and p.number == paragraph.number:
                return label
        raise KeyError(paragraph)

    def resolve(self, letter: str, number: int) -> str | None:
        """The label for a marker as written, or ``None`` if it names no retrieved paragraph."""
        label = f"{letter}¶{number}"
        if label in self.paragraphs:
            return label
        if not letter:  # "[¶3]" in a multi-article answer: accept when only one article has ¶3
            matches = [lab for lab in self.paragraphs if lab.endswith(f"¶{number}")]
            return matches[0] if len(matches) == 1 else None
        return None


def restates(words: set[str], question_words: set[str]) -> bool:
    """Whether a sentence's content ``words`` add nothing to the question's. Stems that are
    prefixes of each other count as the same word ("Russia" and "Russian"): "The troops are being
    trained in Russia" does not answer "In which Russian region?"."""
    return forms_of(words, question_words) == words


def _bare(sentence: str) -> bool:
    """Whether ``sentence`` is a bare answer: names and numbers only ("Sydney Seiler and Victor
    Cha."), which need not repeat the question's words."""
    tokens = [t for t in re.findall(r"[A-Za-z0-9][\w’'-]*", sentence) if t.lower() not in STOP]
    return bool(tokens) and all(t[0].isupper() or t[0].isdigit() for t in tokens)


def _shares(words: set[str], question_words: set[str]) -> bool:
    """Whether ``words`` hold any word of the question (stems alike as in :func:`restates`)."""
    return bool(forms_of(words, question_words))


@dataclass(frozen=True)
class CheckedAnswer:
    """A reply after the checks: text with valid markers, its citations, and what was removed."""

    text: str
    citations: tuple[Citation, ...]
    removed: tuple[str, ...]
    refusal: bool
    supported: int
    support: float = 0.0  # mean share of what the kept sentences add that their citations hold
    similarity: float = 0.0  # mean best cosine of the kept sentences to a cited paragraph's sentence
    claims: int = 0  # sentences of the reply that make a claim (refusals aside)
    corrected: int = 0  # sentences replaced by the article's sentence they reversed
    outlets: int = 0  # sentences removed as only the name of a source the article cites
    denials: int = 0  # kept sentences saying "no" as a paragraph backing them does (``says_no``)


class Grounder:
    """Checks a reply against the retrieved paragraphs (see the module docstring)."""

    def __init__(
        self,
        encode: Callable[[list[str]], np.ndarray] | None = None,
        thresholds: Thresholds | None = None,
        clean: Callable[[str], str] | None = None,
        checks: GroundingChecks | None = None,
        spelled: Callable[[str], bool] | None = None,
        speakers: Callable[[Paragraph], Sequence[str]] | None = None,
        misattributed: Callable[[str, Sequence[Paragraph]], bool] | None = None,
        outlet_only: Callable[[str, Sequence[Paragraph], str], bool] | None = None,
        off_speaker: Callable[[Sequence[str], str, Sequence[str]], set[int]] | None = None,
        subject: Callable[[Paragraph, str, str], str] | None = None,
    ) -> None:
        self.encode = encode
        self.spelled = spelled
        self.speakers = speakers
        self.misattributed = misattributed
        self.outlet_only = outlet_only
        self.off_speaker = off_speaker
        self.subject = subject  # (paragraph, claim, question) → the names it stands for unwritten
        self.checks = checks or GroundingChecks()
        self.thresholds = thresholds or Thresholds()
        self.clean = clean or (lambda text: text)

    def check(self, reply: str, sources: SourceMap, question: str = "", topic: str = "") -> CheckedAnswer:
        """Check ``reply`` against ``sources``, judged against what the reader asked;
        ``topic``: what the reply must be about (a follow-up's standalone query; default the
        question)."""
        sentences = [s for s in split_sentences(_flatten(reply)) if _has_words(strip_markers(s))]
        labels = list(sources.paragraphs)
        # Support is judged on the paragraphs minus any planted instructions (see safety.py).
        paragraphs = [
            replace(sources.paragraphs[lab], text=self.clean(sources.paragraphs[lab].text)) for lab in labels
        ]
        texts = [p.text for p in paragraphs]
        by_label = dict(zip(labels, paragraphs, strict=True))
        haystack = " ".join(texts) + " " + question
        # A paragraph holds its speakers too: "…,” she said" backs "Kim Du-yeon said …" once the
        # attribution step has resolved "she" (switch ``speakers``).
        spoken = self.speakers if self.speakers is not None and self.checks.speakers else None
        para_words = [content_words(" ".join([p.text, *(spoken(p) if spoken else ())])) for p in paragraphs]
        claims = [s for s in sentences if not is_refusal(s)]
        para_sents = [split_sentences(p.text) for p in paragraphs]
        if spoken:  # "She called for a trial." read as "Leila Haddad called for a trial." too
            pairs = zip(para_sents, paragraphs, strict=True)
            para_sents = [sents + named_subjects(sents, spoken(p)) for sents, p in pairs]
        semantic = self._semantic(claims, para_sents)
        asked: list[float] | None = None  # the question's best cosine per paragraph, when needed
        question_words = content_words(question)
        asked_negated = negated_words(question)  # "Didn't Otto …?": its "yes" or "no" is ambiguous
        polar = proposition(main_question(question)) is not None  # a yes/no question
        topic_words = content_words(topic) if topic else question_words
        resolved = content_words(main_question(topic or question))  # "he" as a follow-up's rewrite names him
        # What the reply must share with the question to be on its matter: not the kind of thing
        # asked for ("Which models are affected?": "the Aris compact and the Tello van").
        matter = topic_words - content_words(" ".join(_KIND.findall(topic or question)))

        kept: list[str] = []
        cited: dict[str, None] = {}
        removed: list[str] = []
        support: list[float] = []
        similarity: list[float] = []
        refusal = False
        corrected = outlets = denials = 0
        kept_words: list[set[str]] = []  # content words of each kept claim
        on_topic: list[bool] = []  # per kept claim: it or its paragraphs share a question word
        off: set[int] = set()  # "…, according to Raman?": sentences giving another's words beside hers
        if self.checks.asked_speaker and self.off_speaker is not None and len(sentences) > 1:
            docs = [p.doc for p in paragraphs]
            off = self.off_speaker([strip_markers(s) for s in sentences], question, docs)
        for at, sentence in enumerate(sentences):
            plain = _as_reader_reads(strip_markers(sentence))
            if at in off:
                removed.append(plain)
                continue
            invented = novel_facts(sentence, haystack, self.spelled) if self.checks.facts else []
            if is_refusal(sentence):
                if invented:  # "does not say, but 50,000 died": an invented fact in disguise
                    removed.append(plain)
                else:
                    refusal = True
                    kept.append(plain)
                continue
            words = content_words(sentence)
            if not words or invented:
                removed.append(plain)
                continue
            if self.checks.repeats and any(words <= earlier for earlier in kept_words):
                continue  # says again what a kept sentence said (a small model looping): dropped
            if self.checks.padded and repeats_an_item(plain):
                removed.append(plain)  # "Aldby, Brekke, Colnes, and Aldby": a list padded to the count asked
                continue
            sims = semantic.get(sentence, [0.0] * len(paragraphs))
            # Words the question already gave prove nothing: what the sentence adds must be in
            # the paragraphs that back it.
            new_words = words - question_words or words
            if self.checks.polar_claims and polar and _POLAR_OPENER.match(plain):
                new_words = words  # a "yes" or "no" claims the question's words: cited where they stand
            scores = []
            for i, pw in enumerate(para_words):
                lexical = len(new_words & pw) / len(new_words)
                supported = lexical >= self.thresholds.lexical or (
                    sims[i] >= self.thresholds.semantic and lexical >= self.thresholds.lexical_floor
                )
                scores.append((supported, lexical + sims[i], labels[i], lexical))
            backing = [lab for ok, _, lab, _ in scores if ok]
            joint: list[str] = []
            if self.checks.joint and max((s[3] for s in scores), default=0.0) < self.thresholds.lexical:
                # A sentence joining two facts ("two trips to the surface and one to the Gateway")
                # is backed by the few paragraphs that together hold what it adds, and cites them.
                joint = [labels[i] for i in cover(new_words, para_words, self.thresholds.lexical)]
                backing = joint or backing
            # Cleaned of planted instructions: a sentence given in the reply's place is the article's.
            sourced = [paragraphs[labels.index(lab)].text for lab in backing]
            reversed_ = reversed_source(plain, sourced) if backing and self.checks.polarity else ""
            if not reversed_ and backing and self.checks.opposed:  # "cuts its plant": the article keeps it
                reversed_ = opposed_source(plain, sourced)
            if not reversed_ and backing and self.checks.numbers:
                # A "yes" claims the question's own amount: "Yes, by 500 votes" where it was 412.
                reversed_ = swapped_number(plain, "" if says_yes(plain) else question, texts)
            if not reversed_ and backing and self.checks.counts and _bare(plain):
                reversed_ = miscounted(plain, question, texts)  # "400.": soldiers, not helicopters
            if reversed_:
                removed.append(plain)
                lab = next(lab for lab, p in zip(labels, paragraphs, strict=True) if reversed_ in p.text)
                line = f"{_end_punct(strip_markers(reversed_))} [{lab}]"
                if self.checks.yes_negated and says_yes(plain) and not asked_negated:
                    line = f"No: {without_dateline(line)}"  # a "yes" the article reverses is its "no"
                # The article's own sentence instead, unless the question asks about a negation
                # ("What did X not allow?"): the article stating it unnegated does not answer that.
                if self.checks.correct and not negated_words(question) and line not in kept:
                    kept.append(line)
                    cited[lab] = None
                    support.append(1.0)
                    similarity.append(1.0)
                    corrected += 1
                continue
            if backing and self.checks.numbers and unbound_amount(plain, question, texts):
                removed.append(plain)  # its amount belongs to another matter of the article
                continue
            # A "yes" to a follow-up is judged against the question it stands for ("Will the
            # president sign it?": the budget); other replies against the words asked, since a
            # standalone question may carry the last answer's words.
            yes = says_yes(plain)
            rest = _YES_OPENER.sub("", plain)  # the sentence after its "Yes," (all of it if none)
            asked_words = question_words | topic_words if yes else question_words
            backed = [texts[labels.index(lab)] for lab in backing]
            stated = yes and self.checks.yes_stated and bool(stated_in(rest, backed))
            # "Westvale will not pay the ransom." for "Will Westvale pay the ransom?" says "no",
            # which the question did not, when a paragraph backing it negates the same word.
            denying = self.checks.says_no and not yes and not asked_negated
            denied = negated_words(plain) & question_words if denying else set()
            denial = any(denied & negated_words(text) for text in backed)
            stated = stated or denial
            if not backing or (self.checks.restates and restates(words, asked_words) and not stated
                               and not stated_numbers(plain) - stated_numbers(question)):  # fmt: skip
                removed.append(plain)  # says nothing the question did not (a "yes" the article states aside)
                continue
            if spoken and self.misattributed is not None and self.misattributed(plain, paragraphs):
                removed.append(plain)  # one person's words given to another
                continue
            if self.checks.outlets and self.outlet_only is not None and _bare(plain):
                holders = [paragraphs[labels.index(lab)] for lab in backing]
                if self.outlet_only(plain, holders, question):
                    removed.append(plain)  # the source a paragraph cites, not what it reports
                    outlets += 1
                    continue
            short = bool(question_words) and len(new_words) <= SHORT_ANSWER_WORDS and not joint
            described: str | None = None  # where the question's matter calls the answer "the plant"
            if short and self.checks.together:
                holders = [paragraphs[labels.index(lab)] for lab in backing]
                if not stands_together(holders, resolved, paragraphs, para_words):
                    found = described_in(plain, holders, paragraphs, question_words, para_words)
                    described = labels[paragraphs.index(found)] if found and self.checks.described else None
                    if described is None:
                        removed.append(plain)
                        continue
            refs = [ref for _, _, found in find_markers(sentence) for ref in found]
            marked = [sources.resolve(letter, n) for letter, n in refs]
            chosen = [m for m in dict.fromkeys(marked) if m in backing]
            own = not chosen  # no marker of the model's backs the sentence: the checks cite it
            if joint:
                chosen = joint
            elif not chosen:
                weight = NAME_WEIGHT if self.checks.placement else 0.0  # names written whole count
                chosen = [best_backing(plain, question_words, backing, scores, texts, labels, weight)]
            if self.checks.placement and not joint:
                if short:
                    if asked is None:
                        asked = self._semantic([question], para_sents).get(question, [0.0] * len(paragraphs))
                    margin = 0.0 if own else CONTEXT_MARGIN
                    context = words | question_words
                    # Where the question is, and where the sentence is as far as it restates the
                    # question: "Paul Dewar." alone only says where he is named.
                    said = len(words & question_words) / len(words)
                    near = [a + said * b for a, b in zip(asked, sims, strict=True)]
                    # A sentence restating the question, where its names are written whole (not a bare name).
                    whole = written_whole(plain, question_words, texts) if said >= 0.5 else None
                    chosen = in_context(chosen, backing, context, labels, para_words, near, margin, whole)
                chosen = fact_sources(plain, question, chosen, backing, scores, sources.paragraphs)
            if described is not None:
                chosen = [described, *(lab for lab in chosen if lab != described)]
            if self.checks.subjects and not joint:
                # The names a cited paragraph stands for unwritten ("The company …"), asked only when needed.
                implied = partial(self._implied, by_label, plain, question)
                chosen = with_subject(plain, question, chosen, new_words, texts, labels, para_words, scores,
                                      implied if self.subject is not None else None)  # fmt: skip
            sources_of = [paragraphs[labels.index(lab)] for lab in chosen]
            if self.checks.times and off_time(question, plain, sources_of):
                removed.append(plain)  # "in 1650" asked, the sentence of 1636 restated
                continue
            if self.checks.yes_numbers and yes and unheld_numbers(
                    " ".join([question, main_question(topic)]), [texts[labels.index(lab)] for lab in chosen]):
                removed.append(plain)  # "Yes" from a paragraph without the year or number asked about
                continue
            said_no = negated_words(rest, implicit=True, prefixed=self.checks.prefixes) & question_words
            if self.checks.says_no and rest != plain and not said_no:
                said_no = opposed_words(rest, question_words)  # "Yes, it remained open." to "Is it closed?"
                said_no = said_no or outranked(rest, question)  # "the largest?": "the third-largest"
            if self.checks.yes_negated and rest != plain and not asked_negated and said_no:
                # "Yes, Otto declined to criticise the referee": the sentence says "no" itself.
                name = NAME.match(rest) and rest.split()[0].lower() not in STARTERS  # "Otto", not "The"
                plain = f"No, {rest}" if name else f"No, {rest[:1].lower()}{rest[1:]}"
            implied = self.checks.implied_yes and not yes and implied_yes(plain, question)
            if self.checks.yes_read and (says_yes(plain) or implied):
                holders = [texts[labels.index(lab)] for lab in chosen]
                names = [" ".join(spoken(paragraphs[labels.index(lab)])) for lab in chosen] if spoken else []
                encode = self.encode if self.checks.synonyms else None
                # The things asked about must be cited, not only named around (``yes_objects``).
                asked, objects = main_question(question), self.checks.yes_objects
                # An amount asked about is the asked matter's: its nouns where it is stated (``yes_amounts``).
                windows = amount_windows(asked, texts) if self.checks.yes_amounts else []
                if unheld_words(asked, [*holders, *names], encode, self.spelled, texts, objects) or (
                        windows and unheld_words(NAME.sub(" ", asked), windows, encode, only_nouns=True)):
                    removed.append(plain)  # a "yes" to words the paragraphs it cites do not hold
                    continue
            held = set().union(*(para_words[labels.index(lab)] for lab in chosen))
            support.append(len(new_words & held) / len(new_words))
            similarity.append(max(sims[labels.index(lab)] for lab in chosen))
            cited.update(dict.fromkeys(chosen))
            kept.append(f"{_end_punct(plain)} {' '.join(f'[{lab}]' for lab in chosen)}")
            kept_words.append(words)
            denials += denial
            on_topic.append(short or _bare(plain) or _shares(words | held, matter))
        cited_texts = [sources.paragraphs[lab].text for lab in cited]
        claimed = [strip_markers(k) for k in kept if not is_refusal(k)]
        if (self.checks.on_topic and len(matter) >= MIN_MATTER_WORDS and on_topic and not any(on_topic)
                and not self._synonym(topic or question, [*kept, *cited_texts])) or (
                self.checks.amounts and gives_no_amount(claimed, question)):  # fmt: skip
            # No sentence kept, nor the paragraphs it cites, has a word of the question, nor one
            # of the same meaning ("Did the chamber of commerce support the line?" answered with
            # the referendum; "currency" is the "dollar"), or none gives the amount asked for
            # (``amounts``: "How much funding …?" answered with where it came from): the reply
            # answers another question.
            removed.extend(claimed)
            kept = [k for k in kept if is_refusal(k)]
            cited, support, similarity, denials = {}, [], [], 0
        supported = len(kept) - sum(is_refusal(k) for k in kept)
        cited_paragraphs = [sources.paragraphs[lab] for lab in cited]
        return CheckedAnswer(
            " ".join(kept).strip(),
            tuple(Citation(p.doc, p.number, p.text) for p in cited_paragraphs),
            tuple(removed),
            refusal and supported == 0,
            supported,
            support=sum(support) / len(support) if support else 0.0,
            similarity=sum(similarity) / len(similarity) if similarity else 0.0,
            claims=len(claims),
            corrected=corrected,
            outlets=outlets,
            denials=denials,
        )

    def _synonym(self, question: str, texts: Sequence[str]) -> bool:
        """Whether a word of ``question`` has a word of the same meaning in ``texts`` (cosine of
        the two words alone at least :data:`SYNONYM_SIMILARITY`: "currency" and "dollar" 0.77,
        "currency" and "inflation" 0.57); ``False`` without an encoder or with switch
        ``synonyms`` off."""
        if not self.encode or not self.checks.synonyms:
            return False
        asked = _surface_words(question)
        found = [w for w in _surface_words(" ".join(texts)) if w not in asked][:MAX_SYNONYM_WORDS]
        if not asked or not found:
            return False
        vectors = self.encode([*asked, *found])
        return bool((vectors[: len(asked)] @ vectors[len(asked) :].T).max() >= SYNONYM_SIMILARITY)

    def _implied(self, by_label: dict[str, Paragraph], claim: str, question: str, label: str) -> str:
        """The names the paragraph ``label`` stands for without writing them (``subject``)."""
        return self.subject(by_label[label], claim, question) if self.subject is not None else ""

    def _semantic(self, claims: list[str], para_sents: list[list[str]]) -> dict[str, list[float]]:
        """Per claim: its best cosine in each paragraph (empty without an encoder)."""
        if not self.encode or not claims:
            return {}
        flat = [s for sents in para_sents for s in sents]
        vectors = self.encode([strip_markers(c) for c in claims] + flat)
        claim_v, sent_v = vectors[: len(claims)], vectors[len(claims) :]
        sims = claim_v @ sent_v.T if len(flat) else np.zeros((len(claims), 0))
        out: dict[str, list[float]] = {}
        for ci, claim in enumerate(claims):
            row, start = [], 0
            for sents in para_sents:
                block = sims[ci, start : start + len(sents)]
                row.append(float(block.max()) if len(sents) else 0.0)
                start += len(sents)
            out[claim] = row
        return out


_YES_OPENER = re.compile(r"^\s*yes\b[\s,.:;!]*", re.IGNORECASE)
_POLAR_OPENER = re.compile(r"^\s*(?:yes|no)\b", re.IGNORECASE)
SYNONYM_SIMILARITY = 0.7  # two words of the same meaning, each encoded alone
MAX_SYNONYM_WORDS = 300


def _surface_words(text: str) -> list[str]:
    """The content words of ``text`` as written (lower case, once each), for encoding."""
    words = (w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]+", strip_markers(text)))
    return list(dict.fromkeys(w for w in words if content_words(w)))


VERBATIM_SIMILARITY = 0.9  # a kept sentence's cosine to the article's sentence: the same words


def stands_as_written(checked: CheckedAnswer, question: str) -> bool:
    """Whether ``checked`` is the article's own sentence (every sentence supported, each near
    word for word a sentence of what it cites) and its citations hold every content word and
    every name or number of ``question``: "What did the Green Party say?" answered with "The
    Green Party said the government should do more to help renters." A near-miss question
    ("What did the Labour Party say?") has a word or name no cited paragraph holds."""
    if not checked.supported or checked.support < 1.0 or checked.similarity < VERBATIM_SIMILARITY:
        return False
    cited = " ".join(c.text for c in checked.citations)
    words = content_words(question)
    return bool(words) and words <= content_words(cited) and not novel_facts(question, cited)


# "the context" and "the passage" are the prompt's words; the reader only knows the article.
_PROMPT_WORDS = re.compile(
    r"\bthe\s+(?:given\s+|provided\s+)?(?:context|passages?)(?:\s+(?:provided|given))?\b", re.I
)


def _as_reader_reads(sentence: str) -> str:
    """``sentence`` with the prompt's own words ("According to the context, …") put as the reader
    knows them ("According to the article, …")."""
    return _PROMPT_WORDS.sub(lambda m: "The article" if m.group(0)[0] == "T" else "the article", sentence)


def _has_words(text: str) -> bool:
    return any(c.isalnum() for c in text)


def _flatten(text: str) -> str:
    """Join lines and list bullets so the sentence splitter sees prose."""
    lines = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", line).strip() for line in text.splitlines()]
    return " ".join(
        _end_punct(line) if line and not line.endswith((":", ",")) else line for line in lines if line
    )


def _end_punct(text: str) -> str:
    text = text.rstrip()
    return text if not text or text[-1] in '.!?…"”’)' else text + "."
