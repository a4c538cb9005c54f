"""Local GGUF models through llama-cpp-python.

The model loads once, lazily (or in the background with :meth:`LlamaCppBackend.start_loading`,
so a web page can come up first). One ``Llama`` object is not safe for concurrent use, so
every use of it is serialised by a lock: concurrent requests queue and each gets its own reply.

Prompts are formatted with the model's own chat template and evaluated as tokens, so every
request that starts with the same text reuses llama.cpp's KV cache for it. On top of that,
**primed prefixes**: a long shared start of a prompt (the instructions plus a whole article) is
read once, its KV state kept in memory and saved in the cache folder, and brought back whenever
another prompt (another article, a prompt without the article) has replaced it. A question then
costs only its own tokens; a later start reads the state from disk instead of the article.

:meth:`LlamaCppBackend.prepare` starts reading a prefix in the background and returns at once.
The reading goes in small steps and gives way to any request that is waiting, keeping a copy
of what it has read so far, so questions are answered meanwhile and nothing is read twice.

:meth:`LlamaCppBackend.yes_probability` reads the probability of "yes" as the next token from
the model's logits: a verifier that costs only the tokens after a primed prefix.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..models import DEFAULT_LOCAL_MODEL, ModelNotFoundError, resolve_gguf, user_cache
from ..tokens import TiktokenCounter
from ..types import ChatMessage
from .kv_states import (
    KEEP_STATES,
    Prefix,
    Reading,
    common_prefix,
    get_state,
    keep_in_memory,
    load_state,
    longest_start,
    prefix_key,
    save_state,
    set_state,
)
from .llama_patches import keep_process_output, model_params
from .protocol import BackendError
from .threads import CpuShare

log = logging.getLogger(__name__)
# Tokens read per step while reading a prefix; a waiting request runs between two steps.
READ_STEP = 128
YES_WORDS = ("yes", "Yes", "YES")
NO_WORDS = ("no", "No", "NO")


class LlamaCppBackend:
    """A :class:`~rag.backends.ChatBackend` running a GGUF model in this process.

    ``model`` is a packaged model name (see :mod:`rag.models`), a path to a ``.gguf`` file,
    or ``hf:REPO/ID:FILE.gguf`` to download from the Hugging Face hub (needs a network).
    ``threads``: CPU threads; ``None`` (default) uses every core while the machine is otherwise
    idle and one fewer while other processes are busy (see :class:`CpuShare`). ``repack``: let
    llama.cpp copy the weights into its interleaved CPU layout at load (off by default: on a
    2-core AVX2 machine it made loading 5x slower and reading a prompt 1.4x slower, see
    ``benchmarks/repack.py``). ``lookup``: greedy replies draft up to this many tokens from the
    prompt and check them in one batch (:mod:`rag.backends.lookup`; 0, the default, is off: see
    ``benchmarks/lookup.py``). ``cache_dir``
    keeps the saved prompt states; ``model_dir`` a packaged model joined from its parts
    (default ``~/.cache/korea-herald-rag``, shared by every corpus, else ``cache_dir``).
    """

    supports_grammar = True  # stream(..., grammar=GBNF) holds the reply to a grammar

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        cache_dir: str | os.PathLike | None = None,
        n_ctx: int = 4096,
        threads: int | None = None,
        seed: int = 0,
        keep_states: int = KEEP_STATES,
        model_dir: str | os.PathLike | None = None,
        repack: bool = False,
        lookup: int = 0,
    ) -> None:
        self.model = str(model) if model else DEFAULT_LOCAL_MODEL
        self.cache_dir = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "korea-herald-rag"
        self.model_dir = Path(model_dir) if model_dir else user_cache() or self.cache_dir
        self.n_ctx = n_ctx
        self.threads = threads
        self.seed = seed
        self.keep_states = keep_states
        self.repack = repack
        self.lookup = lookup
        self.lookup_stats: dict[str, int] = {}
        self._cpu = CpuShare()
        self._llm = None
        self._error: BackendError | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._queue = threading.Condition()
        self._waiting = 0
        self._loader: threading.Thread | None = None
        self._tiktoken = TiktokenCounter()
        self._formatter = None
        self._yes_no: tuple[list[int], list[int]] | None = None
        self._grammars: dict[str, object] = {}
        self._prefixes: OrderedDict[str, Prefix] = OrderedDict()
        self._reading: Reading | None = None
        self._threads_in_use = 0
        self.load_seconds: float | None = None
        self.evaluated_tokens = 0  # prompt tokens evaluated since load (to see what a cache saved)

    # -- contract -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"llama-cpp:{Path(self.model).name if os.sep in self.model else self.model}"

    @property
    def context_window(self) -> int:
        return self.n_ctx

    def count_tokens(self, text: str) -> int:
        llm = self._llm
        if llm is None:
            return self._tiktoken.count(text)
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        """Yield the reply in pieces. ``grammar`` (GBNF) constrains what the model may write.

        The grammar must be valid GBNF (llama.cpp's parser does not survive every malformed one):
        it comes from the calling code, never from a reader.
        """
        llm = self.load()
        tokens = self._tokens(messages)
        if len(tokens) + max_tokens > self.n_ctx:
            raise BackendError(
                f"the prompt needs {len(tokens)} tokens plus {max_tokens} for the reply, "
                f"more than the model's window of {self.n_ctx}",
                setting="--n-ctx",
            )
        compiled = self._grammar(grammar) if grammar else None
        with self._turn():
            try:
                self._restore(llm, tokens)
                self._count_new(llm, tokens)
                if self.lookup > 0 and temperature == 0 and compiled is None:
                    yield from self._stream_lookup(llm, tokens, max_tokens, stop or ())
                    return
                chunks = llm.create_completion(
                    tokens,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stop=list(stop or []),
                    stream=True,
                    seed=self.seed,
                    grammar=compiled,
                )
                for chunk in chunks:
                    piece = chunk["choices"][0]["text"]
                    if piece:
                        yield piece
            except ValueError as exc:  # llama-cpp-python reports a prompt over n_ctx this way
                raise BackendError(f"the local model rejected the prompt: {exc}", setting="--n-ctx") from exc
            except RuntimeError as exc:
                raise BackendError(f"the local model failed: {exc}") from exc

    def _stream_lookup(self, llm, tokens: list[int], max_tokens: int, stop: Sequence[str]) -> Iterator[str]:
        """The greedy reply with prompt-lookup drafts, as text pieces (whole UTF-8 characters;
        the text stops before a ``stop`` string, as ``create_completion`` does)."""
        from .lookup import ends_reply, greedy_tokens

        pending = b""
        text = ""
        for token in greedy_tokens(llm, tokens, max_tokens, draft=self.lookup, stats=self.lookup_stats):
            if ends_reply(llm, token):
                break
            pending += llm.detokenize([token], prev_tokens=None)
            try:
                piece = pending.decode("utf-8")
            except UnicodeDecodeError:
                continue  # a character split over tokens: wait for the rest
            pending = b""
            cut = min((i for i in ((text + piece).find(s) for s in stop if s) if i >= 0), default=-1)
            if cut >= 0:
                if cut > len(text):
                    yield (text + piece)[len(text) : cut]
                return
            text += piece
            if piece:
                yield piece

    def yes_probability(self, messages: Sequence[ChatMessage]) -> float:
        """P("yes") / (P("yes") + P("no")) for the first token of the reply, from the logits.

        Costs the prompt tokens after the longest cached or primed prefix, and no generation.
        """
        llm = self.load()
        tokens = self._tokens(messages)
        if len(tokens) + 1 > self.n_ctx:
            raise BackendError("the check does not fit the model's window", setting="--n-ctx")
        yes, no = self._yes_no_tokens(llm)
        with self._turn():
            try:
                self._restore(llm, tokens)
                common = common_prefix(llm.input_ids[: llm.n_tokens], tokens)
                start = min(common, len(tokens) - 1)  # at least one token, for fresh logits
                self.evaluated_tokens += len(tokens) - start
                llm.n_tokens = start
                llm.eval(tokens[start:])
                logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()
            except (ValueError, RuntimeError) as exc:
                raise BackendError(f"the local model failed: {exc}") from exc
        top = float(logits.max())
        p_yes = float(np.exp(logits[yes] - top).sum())
        p_no = float(np.exp(logits[no] - top).sum())
        return p_yes / (p_yes + p_no) if p_yes + p_no > 0 else 0.5

    # -- primed prefixes -------------------------------------------------------------------
    def prepare(self, messages: Sequence[ChatMessage], marker: str) -> str:
        """Make sure the prompt ``messages`` up to ``marker`` will be primed; return at once.

        ``"ready"``: it is in memory or saved on disk; ``"reading"``: the model is reading it in
        the background (started now if it was not); ``"failed"``: it cannot be primed (too long).
        """
        prefix = self._prefix(messages, marker)
        if prefix.failed:
            return "failed"
        if prefix.ready or prefix.is_saved():
            return "ready"
        with self._queue:
            reading = self._reading
            if reading is None or reading.done.is_set():
                reading = self._reading = Reading(prefix)
                reading.thread = threading.Thread(
                    target=self._read_quietly, args=(reading,), name="llama-read", daemon=True
                )
                reading.thread.start()
            elif reading.prefix.key != prefix.key:
                return "queued"  # another article is being read; this one is read on a later call
        return "reading"

    def prime(self, messages: Sequence[ChatMessage], marker: str) -> float:
        """Evaluate the prompt ``messages`` up to ``marker`` (in the last message) and keep it.

        Blocks until the prefix is primed (read now, or loaded from the cache folder) and in the
        model's cache. Later prompts starting with the same tokens reuse it. Returns the seconds
        taken.
        """
        start = time.perf_counter()
        prefix = self._prefix(messages, marker)
        while not prefix.ready and not prefix.failed:
            if prefix.is_saved():
                break
            with self._queue:
                reading = self._reading
            if reading is not None and not reading.done.is_set():
                reading.done.wait()  # another reading first (or this one, in the background)
                continue
            reading = Reading(prefix)
            with self._queue:
                self._reading = reading
            self._read_quietly(reading)
        if prefix.ready:
            llm = self.load()
            with self._turn():
                self._restore(llm, list(prefix.tokens))
        return time.perf_counter() - start

    def primed_tokens(self, messages: Sequence[ChatMessage], marker: str) -> tuple[int, ...] | None:
        """The tokens of the primed prefix of ``messages`` (``None`` if it is not primed)."""
        prefix = self._prefix(messages, marker)
        return prefix.tokens if prefix.ready else None

    def _prefix(self, messages: Sequence[ChatMessage], marker: str) -> Prefix:
        if not messages or marker not in messages[-1].content:
            raise ValueError("the marker is not in the last message")
        llm = self.load()
        text = self._format(messages)
        cut = text.rfind(marker)
        full = self._encode(llm, text)
        head = self._encode(llm, text[:cut])
        # The text before the marker may end in a token that merges with the marker's first
        # characters: keep only the tokens the whole prompt starts with.
        head = head[: common_prefix(np.asarray(full), head)]
        key = prefix_key(self._model_identity(), self.n_ctx, head)
        with self._queue:
            prefix = self._prefixes.get(key)
            if prefix is None:
                prefix = Prefix(key, tuple(head), self.cache_dir / "kv" / f"{key}.bin")
                self._prefixes[key] = prefix
        return prefix

    def _read_quietly(self, reading: Reading) -> None:
        prefix = reading.prefix
        log.info("reading a prompt prefix of %d tokens, to keep in %s", len(prefix.tokens), prefix.path)
        try:
            self._read(reading)
        except BackendError as exc:
            reading.prefix.failed = str(exc)
            log.warning("could not read the prompt prefix: %s", exc)
        finally:
            reading.done.set()

    def _read(self, reading: Reading) -> None:
        """Evaluate ``reading.prefix`` step by step, letting waiting requests go first."""
        prefix = reading.prefix
        tokens = list(prefix.tokens)
        llm = self.load()
        start = time.perf_counter()
        if len(tokens) >= self.n_ctx:
            raise BackendError("the prefix does not fit the model's window", setting="--n-ctx")
        while True:
            with self._queue:
                while self._waiting:
                    self._queue.wait(timeout=0.5)
            with self._run_lock:
                self._set_threads(llm)
                held = common_prefix(llm.input_ids[: llm.n_tokens], tokens)
                if held < reading.position:  # a request used the model in between
                    if reading.saved is not None and reading.saved_position == reading.position:
                        set_state(llm, reading.saved, tokens[: reading.position])
                    else:
                        reading.position = held
                if reading.position >= len(tokens):
                    prefix.state = get_state(llm)
                    save_state(llm, prefix.path, tokens, self.keep_states)
                    prefix.ready = True
                    break
                step = tokens[reading.position : reading.position + READ_STEP]
                llm.n_tokens = reading.position
                try:
                    llm.eval(step)
                except (ValueError, RuntimeError) as exc:
                    raise BackendError(f"the local model failed while reading: {exc}") from exc
                self.evaluated_tokens += len(step)
                reading.position += len(step)
        reading.saved = None
        self._keep_in_memory(prefix)
        log.info("read a prompt prefix of %d tokens in %.1fs", len(tokens), time.perf_counter() - start)

    def _keep_in_memory(self, prefix: Prefix) -> None:
        with self._queue:
            keep_in_memory(self._prefixes, prefix)

    @contextlib.contextmanager
    def _turn(self):
        """Hold the model for one request; a prefix being read gives way and keeps its progress."""
        with self._queue:
            self._waiting += 1
        try:
            self._run_lock.acquire()
        finally:
            with self._queue:
                self._waiting -= 1
                self._queue.notify_all()
        try:
            reading = self._reading
            llm = self._llm
            if llm is not None:
                self._set_threads(llm)
                if reading is not None and not reading.done.is_set() and reading.position > 0:
                    held = common_prefix(llm.input_ids[: llm.n_tokens], reading.prefix.tokens)
                    if held >= reading.position and reading.saved_position != reading.position:
                        reading.saved = get_state(llm)
                        reading.saved_position = reading.position
            yield
        finally:
            self._run_lock.release()

    def _restore(self, llm, tokens: Sequence[int]) -> None:
        """Bring back the longest primed prefix of ``tokens`` when the cache no longer holds it."""
        with self._queue:
            ready = [p for p in self._prefixes.values() if p.ready and len(p.tokens) <= len(tokens)]
        best = longest_start(ready, tokens)
        if best is None:
            return
        if common_prefix(llm.input_ids[: llm.n_tokens], tokens) >= len(best.tokens):
            self._keep_in_memory(best)
            return
        if best.state is not None:
            set_state(llm, best.state, list(best.tokens))
        elif load_state(llm, best.path) is None:  # (not copied to memory: the file loads faster)
            best.ready = False
            return
        self._keep_in_memory(best)

    def _count_new(self, llm, tokens: Sequence[int]) -> None:
        held = common_prefix(llm.input_ids[: llm.n_tokens], tokens)
        self.evaluated_tokens += len(tokens) - min(held, len(tokens) - 1)

    # -- formatting ------------------------------------------------------------------------
    def _format(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text the model's chat template makes of ``messages`` (ready for the reply)."""
        llm = self.load()
        if self._formatter is None:
            from llama_cpp import llama_chat_format

            template = llm.metadata.get("tokenizer.chat_template")
            if template:

                def text(token: int) -> str:
                    return llm.detokenize([token]).decode("utf-8", "ignore") if token >= 0 else ""

                eos, bos = text(llm.token_eos()), text(llm.token_bos())
                self._formatter = llama_chat_format.Jinja2ChatFormatter(
                    template=template, eos_token=eos, bos_token=bos, stop_token_ids=[llm.token_eos()]
                )
            else:  # no template in the file: ChatML, which most small instruct models use
                self._formatter = _chatml
        payload = [{"role": m.role, "content": m.content} for m in messages]
        return self._formatter(messages=payload).prompt

    def _tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        llm = self.load()
        return self._encode(llm, self._format(messages))

    @staticmethod
    def _encode(llm, text: str) -> list[int]:
        # The chat template writes any BOS token itself (as llama-cpp-python's own handler assumes).
        return list(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _yes_no_tokens(self, llm) -> tuple[list[int], list[int]]:
        if self._yes_no is None:

            def ids(words: Sequence[str]) -> list[int]:
                found = []
                for word in words:
                    for text in (word, " " + word):
                        toks = llm.tokenize(text.encode(), add_bos=False, special=False)
                        if len(toks) == 1 and toks[0] not in found:
                            found.append(toks[0])
                return found

            self._yes_no = (ids(YES_WORDS), ids(NO_WORDS))
        return self._yes_no

    def _grammar(self, text: str):
        if text not in self._grammars:
            from llama_cpp import LlamaGrammar

            try:
                self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
            except ValueError as exc:
                raise BackendError(f"the output grammar is not valid GBNF: {exc}") from exc
        return self._grammars[text]

    def _set_threads(self, llm) -> None:
        cores = os.cpu_count() or 1
        wanted = self.threads or self._cpu.threads(cores)
        if wanted != self._threads_in_use:
            import llama_cpp

            llama_cpp.llama_set_n_threads(llm._ctx.ctx, wanted, wanted)
            self._threads_in_use = wanted

    def _model_identity(self) -> str:
        try:
            path = resolve_gguf(self.model, self.model_dir) if not self.model.startswith("hf:") else None
        except ModelNotFoundError:
            path = None
        layout = "repacked" if self.repack else "plain"  # the kernels differ in their rounding
        if path is None:
            return f"{self.model}:{layout}"
        stat = Path(path).stat()
        return f"{Path(path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{layout}"

    # -- loading --------------------------------------------------------------------------
    @property
    def status(self) -> str:
        """``"not loaded"``, ``"loading"``, ``"ready"`` or ``"failed: <reason>"``."""
        if self._llm is not None:
            return "ready"
        if self._error is not None:
            return f"failed: {self._error}"
        if self._loader is not None and self._loader.is_alive():
            return "loading"
        return "not loaded"

    @property
    def reading(self) -> bool:
        """Whether the model is reading a prompt prefix (an article) in the background."""
        reading = self._reading
        return reading is not None and not reading.done.is_set()

    def start_loading(self) -> None:
        """Load the model in a background thread (returns at once)."""
        if self._llm is None and self._loader is None:
            self._loader = threading.Thread(target=self._load_quietly, name="llama-load", daemon=True)
            self._loader.start()

    def _load_quietly(self) -> None:
        with contextlib.suppress(BackendError):  # kept in self._error and shown by `status`
            self.load()

    def load(self):
        """Load the model now (once); raise :class:`BackendError` if it cannot be loaded."""
        if self._llm is not None:
            return self._llm
        with self._load_lock:
            if self._llm is not None:
                return self._llm
            if self._error is not None:
                raise self._error
            start = time.perf_counter()
            try:
                self._llm = self._open()
            except BackendError as exc:
                self._error = exc
                raise
            self.load_seconds = time.perf_counter() - start
            log.info("loaded %s in %.2fs", self.model, self.load_seconds)
            return self._llm

    def _open(self):
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise BackendError(
                "llama-cpp-python is not installed: pip install 'llama-cpp-python[server]'",
                setting="--backend",
            ) from exc
        keep_process_output()
        threads = self.threads or os.cpu_count() or 1
        options = dict(
            n_ctx=self.n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=512,
            seed=self.seed,
            verbose=False,
        )
        self._threads_in_use = threads
        try:
            if self.model.startswith("hf:"):
                repo, _, filename = self.model[3:].partition(":")
                with model_params(repack=self.repack):
                    return Llama.from_pretrained(repo_id=repo, filename=filename or "*.gguf", **options)
            path = resolve_gguf(self.model, self.model_dir)
            with model_params(repack=self.repack):
                return Llama(model_path=str(path), **options)
        except ModelNotFoundError as exc:
            raise BackendError(str(exc), setting="--model / RAG_MODEL") from exc
        except (ValueError, OSError, RuntimeError) as exc:
            raise BackendError(
                f"cannot load the local model {self.model!r}: {exc}", setting="--model / RAG_MODEL"
            ) from exc


def _chatml(messages: Sequence[dict]):
    """A ChatML prompt, for a model file without a chat template."""
    from llama_cpp.llama_chat_format import ChatFormatterResponse

    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return ChatFormatterResponse(prompt=text + "<|im_start|>assistant\n", stop=["<|im_end|>"])
