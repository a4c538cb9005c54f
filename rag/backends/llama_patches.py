"""What the llama.cpp backend changes in llama-cpp-python while it opens a model.

Two workarounds, each for the length of a load: :func:`keep_process_output` (the library's
``verbose=False`` would point the whole process's output at /dev/null) and :func:`model_params`
(``use_extra_bufts``, which ``Llama()`` takes no keyword for).
"""

from __future__ import annotations

import contextlib
import threading


class _NoRedirect:
    """Stands in for llama-cpp-python's ``suppress_stdout_stderr`` (same signature)."""

    def __init__(self, disable: bool = True) -> None:
        self.disable = disable

    def __enter__(self) -> _NoRedirect:
        return self

    def __exit__(self, *_) -> None:
        return None


def keep_process_output() -> None:
    """Stop llama-cpp-python pointing the whole process's stdout and stderr at /dev/null.

    With ``verbose=False`` it ``dup2``s file descriptors 1 and 2 to /dev/null while a model
    loads, from whichever thread loads it: everything the host program prints meanwhile is lost
    (``rag ask`` printed nothing when its answer came before the background load ended), and two
    overlapping loads can leave the output closed for good (abetlen/llama-cpp-python#1874). Its
    C logs already go to Python logging at ERROR level with ``verbose=False``; the redirect only
    hid what little llama.cpp writes around that.
    """
    import llama_cpp._internals as internals
    import llama_cpp.llama as llama
    import llama_cpp.llama_chat_format as chat_format

    for module in (internals, llama, chat_format):
        if hasattr(module, "suppress_stdout_stderr"):
            module.suppress_stdout_stderr = _NoRedirect


_PARAMS_LOCK = threading.Lock()


@contextlib.contextmanager
def model_params(*, repack: bool):
    """Load with llama.cpp's ``use_extra_bufts`` set to ``repack``.

    llama-cpp-python's ``Llama()`` takes no keyword for it, so the default-params function it
    calls is wrapped for the duration of the load (under a lock: one load at a time).
    """
    from llama_cpp import llama as module

    api = module.llama_cpp
    original = api.llama_model_default_params

    def params():
        value = original()
        if hasattr(value, "use_extra_bufts"):
            value.use_extra_bufts = repack
        return value

    with _PARAMS_LOCK:
        api.llama_model_default_params = params
        try:
            yield
        finally:
            api.llama_model_default_params = original
