"""Start the web chat: ``python app.py`` (the same as ``rag serve``; ``--help`` lists the flags).

Opens http://127.0.0.1:7860 with the local model (``--backend llama-cpp``); set
``--backend extractive`` for answers without a language model, or ``--backend openai`` with
``--base-url`` and ``OPENAI_API_KEY`` for a remote server. Set ``RAG_PASSWORD`` to require a
sign-in (user ``RAG_USER``, default ``reader``).
"""

import os
import sys
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before anything imports gradio

from rag.web.server import main

if __name__ == "__main__":
    # `make chat` may still be setting up the local model in the background (scripts/setup.sh).
    sys.exit(main(setup_folder=Path(__file__).resolve().parent / ".cache" / "setup"))
