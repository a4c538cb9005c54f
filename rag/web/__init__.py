"""The web chat and the HTTP API.

:mod:`~rag.web.service` owns the retriever, backends and assistants (loading and reloading),
:mod:`~rag.web.render` turns answers and articles into HTML, :mod:`~rag.web.app` is the Gradio
page and its events, and :mod:`~rag.web.server` starts it all (``rag serve``, ``python app.py``).
Nothing is imported here, so the pure parts load without Gradio.
"""
