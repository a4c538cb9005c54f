"""Evaluation of retrieval and answers on a JSON-lines set of questions."""
