"""Questions about the article itself: who wrote it, when and where it was published, its headline.

A news article carries these above its first paragraph: the headline, a byline ("By Maria
Lopez"), the publisher and a date line (:mod:`rag.corpus` reads them into the
:class:`~rag.types.Document`). They are in no numbered paragraph, so the model never reads them
and the fact path cannot cite them: asked "Who wrote the article?", a small model named the news
agency of the photo caption, and "When was it published?" got the weekday of an event.

:func:`answer_facts` answers from the document's own fields, and says plainly which of them the
article does not give ("The article names no author."). The router sends these questions here
(:func:`rag.router.about_fields`); :class:`~rag.assistant_config.AssistantConfig`'s
``article_facts`` switch turns the path off.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date as Date
from typing import TYPE_CHECKING

from .conversation import names, recent_words
from .text import content_words, plain_text
from .types import Answer, ChatMessage, Document
from .who_said import who_is_named

if TYPE_CHECKING:
    from .retriever import Retriever

NOTE = "From the article's headline, byline and date line, which stand above its numbered paragraphs."
MISSING = {
    "author": "The article names no author.",
    "date": "The article gives no date.",
    "publisher": "The article does not name its publisher.",
    "title": "The article has no headline.",
}
# Words of such a question that say nothing about which article it is.
_ASKING_WORDS = content_words(
    "who wrote written write author authored writer reporter journalist correspondent byline penned "
    "filed when date dated day published publish publication released issued posted printed ran run "
    "came come out old recent new which what where newspaper paper outlet site website magazine agency "
    "news organisation organization publisher source headline title called titled headlined article "
    "story piece column post press release report today"
)
MAX_LISTED = 8


@dataclass(frozen=True)
class FactsReply:
    """The reply's text, whether the article gave none of what was asked, and its documents."""

    text: str
    refused: bool
    docs: tuple[str, ...]


def field_text(document: Document, name: str) -> str | None:
    """The article's ``name`` field (one of :data:`rag.router.FACT_FIELDS`) in words, or ``None``."""
    if name == "date":
        return _long_date(document.date) if document.date else None
    value = {"author": document.author, "publisher": document.publisher, "title": document.title}[name]
    return value.strip() if value and value.strip() else None


def _long_date(iso: str) -> str:
    try:
        day = Date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"


def _sentence(document: Document, name: str) -> str | None:
    value = field_text(document, name)
    if value is None:
        return None
    if name == "author":
        publisher = field_text(document, "publisher")
        return f"The article is by {value}" + (f" ({publisher})." if publisher else ".")
    if name == "date":
        return f"It was published on {value}."
    if name == "publisher":
        return f"It was published by {value}."
    return f"Its headline is “{value}”."


def describe(document: Document, fields: Sequence[str]) -> tuple[str, bool]:
    """One article's reply to ``fields``: its sentences, and whether it gave none of them."""
    parts, found = [], 0
    for name in fields:
        said = _sentence(document, name)
        if said is None:
            parts.append(MISSING[name])
            continue
        found += 1
        if name == "publisher" and "author" in fields and document.author:
            continue  # already given with the author
        parts.append(said)
    return " ".join(dict.fromkeys(parts)), found == 0


def _line(document: Document, fields: Sequence[str]) -> str:
    values = []
    for name in fields:
        if name == "title":
            continue  # every line starts with it
        value = field_text(document, name)
        values.append(value if value is not None else f"no {'name' if name == 'author' else name} given")
    title = field_text(document, "title") or document.id
    return f"- “{title}”" + (f": {'; '.join(values)}" if values else "")


def wants_one(question: str) -> bool:
    """Whether ``question`` says which article it means ("… the article about the bridge?")."""
    return bool(content_words(question) - _ASKING_WORDS)


def answer_facts(documents: Sequence[Document], fields: Sequence[str]) -> FactsReply:
    """The reply to a question asking ``fields`` of ``documents`` (the one article meant, or
    every article when the question does not say which; at most :data:`MAX_LISTED` are listed)."""
    if not documents:
        return FactsReply("There is no article to answer from yet: add one first.", False, ())
    if len(documents) == 1:
        text, refused = describe(documents[0], fields)
        return FactsReply(text, refused, (documents[0].id,))
    shown = list(documents[:MAX_LISTED])
    lines = [_line(d, fields) for d in shown]
    more = len(documents) - len(shown)
    head = f"The corpus has {len(documents)} articles" + (f"; the first {len(shown)}:" if more else ":")
    refused = all(describe(d, fields)[1] for d in shown)
    return FactsReply("\n".join([head, *lines]), refused, tuple(d.id for d in shown))


def choose(
    retriever: Retriever, question: str, conversation: Sequence[ChatMessage], doc: str | None
) -> list[Document]:
    """The articles a question about "the article" means: ``doc``; the only one; the one the
    question names ("the article about the bridge") or the conversation is about; else all."""
    documents = list(retriever.corpus.documents)
    if doc is not None:
        return [retriever.documents[doc]]
    if len(documents) <= 1:
        return documents
    query = question if wants_one(question) else recent_words(conversation)
    found = retriever.search(query, k=1) if query.strip() else []
    return [retriever.documents[found[0].doc]] if found else documents


def ask_about_article(
    retriever: Retriever,
    question: str,
    fields: Sequence[str],
    conversation: Sequence[ChatMessage] = (),
    *,
    doc: str | None = None,
) -> Answer:
    """The :class:`~rag.types.Answer` to a question asking ``fields`` of the article (no
    citations: the byline is in no numbered paragraph; a note says where the answer is from)."""
    reply = answer_facts(choose(retriever, question, conversation, doc), fields)
    return Answer(
        text=reply.text,
        refused=reply.refused,
        query=question,
        notes=(NOTE,),
        decline_reason="not in the byline" if reply.refused else None,
    )


def author_reply(document: Document, question: str) -> str | None:
    """ "Who is X?" of the article's byline author, whom its paragraphs need not name: who X is to
    the article ("Amara Osei wrote the article (its byline; Reuters)."); ``None`` for anyone else."""
    asked, author = who_is_named(question), field_text(document, "author")
    words = content_words(asked) if asked else set()
    if not author or not words or not words <= content_words(plain_text(author)):
        return None
    publisher = field_text(document, "publisher")
    return f"{author} wrote the article (its byline{'; ' + publisher if publisher else ''})."


def subject_names(document: Document) -> str:
    """The names the headline gives that the body names too: "Lumora" of "Lumora cuts 1,200
    jobs as smartphone sales slump", whom "The company" or "It" of a later sentence that names
    nobody stands for (:func:`rag.polar.answer_no`)."""
    body = " ".join(p.text for p in document.paragraphs)
    found: list[str] = []
    for name in names(document.title):  # a headline in title case: "Lumora Cuts 1,200 Jobs …"
        parts = [name] if _named_in(name, body) else [w for w in name.split() if content_words(w)]
        found += [part for part in parts if _named_in(part, body) and part not in found]
    return " ".join(found)


def _named_in(name: str, body: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", body) is not None
