"""Benchmarks of the project (not part of the installed package): run from the repository.

``python -m benchmarks.retrieval``: index build, memory and search latency at scale.
``python -m benchmarks.answers``: answer latency per backend, cold starts, peak memory.
``python -m benchmarks.web``: the web chat as a reader sees it, in headless Chromium.
``python -m benchmarks.api``: the HTTP API's overhead, search latency and article ingestion.
"""
