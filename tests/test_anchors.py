"""Time anchors: a question naming a time is answered from a sentence stating it (rag.anchors)."""

from __future__ import annotations

import pytest

from rag.anchors import asked_times, off_time
from rag.types import Paragraph

COUNCIL = [
    Paragraph(doc="town", number=1,
              text="The council met on Monday. It voted to close the old bridge to lorries."),
    Paragraph(doc="town", number=2,
              text="The mayor opened a new park in 2021. In 2019 the bridge was repaired."),
]


@pytest.mark.parametrize(
    ("question", "times"),
    [
        ("What did the council decide on Monday?", ["monday"]),
        ("What happened in March 1974?", ["march", "1974"]),
        ("Who founded the college in 1650?", ["1650"]),
        ("What may the council do?", []),  # "may" is a word
        ("May the council close it?", []),  # and so is a sentence's "May"
        ("When did the council meet?", []),
        # A time that dates a thing the question names, not what it asks.
        ("How much will the firm spend under the agreement signed Monday?", []),
        ("What did the study published in 2019 find?", []),
        ("Which study was published on Monday?", ["monday"]),
        ("Kim statement Tuesday?", ["tuesday"]),  # no verb at all: the parse's root stands for it
    ],
)
def test_the_times_a_question_names(question, times):
    assert asked_times(question) == times


def test_a_sentence_built_on_another_times_sentence_is_off_time():
    question = "What did the mayor open in 2019?"
    # The park sentence says 2021; 2019 is the bridge's, the sentence after.
    assert off_time(question, "The mayor opened a new park [¶2].", COUNCIL[1:])
    assert not off_time("What did the mayor open in 2021?", "The mayor opened a new park.", COUNCIL[1:])


def test_the_time_may_be_stated_in_the_sentence_before():
    question = "What did the council vote for on Monday?"
    assert not off_time(question, "It voted to close the old bridge to lorries.", COUNCIL[:1])
    # A question without a time, or a sentence adding nothing to it, is never off time.
    assert not off_time("What did the council vote for?", "It voted to close the old bridge.", COUNCIL[:1])
    assert not off_time("Did the council meet on Monday?", "The council did meet on Monday.", COUNCIL[:1])
    # "Yes, the council met." to a question about Tuesday restates Monday's sentence.
    assert off_time("Did the council meet on Tuesday?", "Yes, the council met.", COUNCIL[:1])
