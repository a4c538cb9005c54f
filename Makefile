# Two commands do all the set-up on a fresh machine:
#   make chat   - install what the page needs, then start the web chat on http://127.0.0.1:7860;
#                 the local model is set up in the background (the page quotes the article meanwhile)
#   make test   - install what is missing (Chromium too), then run the whole test suite
# Each set-up step prints its time (scripts/setup.sh; logs in .cache/setup/); the test run ends
# with its 25 slowest tests and writes test-output/junit.xml (docs/setup-profile.md).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: chat test setup lint eval bench
chat:
	./scripts/setup.sh --chat
	GRADIO_ANALYTICS_ENABLED=False $(PY) app.py

test:
	./scripts/setup.sh --test
	$(VENV)/bin/ruff check rag app.py tests benchmarks scripts
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=25 --junitxml=test-output/junit.xml

setup:
	./scripts/setup.sh --test

eval:  # the runs behind the README's table and the ablations (see docs/results.md), then the pages
	rm -rf eval/runs/eval-replay  # the main runs record the model's replies; the ablations replay them
	$(VENV)/bin/rag eval --backend extractive llama-cpp --naive --replay eval/runs/eval-replay --out eval/results/dev
	$(VENV)/bin/rag eval --backend extractive llama-cpp --ablation --replay eval/runs/eval-replay --out eval/results/ablation-dev
	$(VENV)/bin/rag eval --dataset eval/news-open/qa.jsonl --backend extractive llama-cpp --naive --replay eval/runs/eval-replay --out eval/results/news
	$(VENV)/bin/rag eval --dataset eval/news-open/qa.jsonl --backend extractive llama-cpp --ablation --replay eval/runs/eval-replay --out eval/results/ablation-news
	$(VENV)/bin/rag eval --dataset eval/whole/qa.jsonl --backend extractive llama-cpp --naive --out eval/results/whole  # not replayed: its single-fact controls time the fact path
	$(VENV)/bin/rag eval --dataset eval/squad2-open/qa-200.jsonl --backend extractive llama-cpp --naive --replay eval/runs/eval-replay --out eval/results/squad2
	$(VENV)/bin/rag eval --dataset eval/squad2-open/qa-200.jsonl --backend extractive llama-cpp --ablation --replay eval/runs/eval-replay --out eval/results/ablation-squad2
	$(VENV)/bin/rag eval --dataset eval/heldout.jsonl --backend extractive llama-cpp --naive --out eval/results/heldout
	$(PY) scripts/results.py

bench:
	$(PY) -m benchmarks.retrieval --out eval/results
	$(PY) -m benchmarks.answers --out eval/results
	$(PY) -m benchmarks.api --out eval/results
