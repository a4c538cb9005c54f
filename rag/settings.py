"""Settings: command-line flags and environment variables turned into the library's configs.

This is the one module that reads the environment. Flags win over environment variables,
which win over defaults; ``rag`` (:mod:`rag.cli`), ``rag serve`` / ``python app.py``
(:mod:`rag.web.server`) and ``rag eval`` (:mod:`rag.evaluation.runner`) all add their flags
and build their configs here, so a setting means the same everywhere. The table of every
setting is ``docs/configuration.md``.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backends import backend_names
from .backends.registry import EXTRACTIVE
from .models import user_cache
from .retriever import MODES, Retriever, RetrieverConfig, default_cache_root, default_corpus

LOCAL = "llama-cpp"
REMOTE = "openai"
DEFAULT_BACKEND = LOCAL
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_USER = "reader"
DEFAULT_N_CTX = 4096
DEFAULT_LOOKUP = 0  # prompt-lookup drafts of the local model (off until measured: benchmarks/lookup.py)
DEFAULT_TIMEOUT = 60.0
MAX_K = 10


def env(name: str, default: str | None = None) -> str | None:
    """The environment variable ``name``; unset and empty both give ``default``."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    value = env(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"error: {name} must be a whole number, not {value!r}") from None


# -- the configs --------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSettings:
    """How to reach the language-model backends: the local model and a remote server."""

    model: str | None = None
    n_ctx: int = DEFAULT_N_CTX
    threads: int | None = None
    repack: bool = False
    lookup: int = DEFAULT_LOOKUP
    base_url: str | None = None
    openai_model: str | None = None
    api_key: str | None = field(default=None, repr=False)  # the REMOTE server's key
    timeout: float = DEFAULT_TIMEOUT

    def options(self, name: str, cache_dir: str | os.PathLike | None) -> dict[str, Any]:
        """Constructor options of backend ``name`` (``make_backend(name, **options)``)."""
        if name == LOCAL:
            options: dict[str, Any] = {"cache_dir": cache_dir, "n_ctx": self.n_ctx}
            if self.model:
                options["model"] = self.model
            if self.threads:
                options["threads"] = self.threads
            if self.repack:
                options["repack"] = True
            if self.lookup:
                options["lookup"] = self.lookup
            return options
        if name == REMOTE:
            return {
                "base_url": self.base_url,
                "model": self.openai_model,
                "api_key": self.api_key,
                "timeout": self.timeout,
            }
        if name == EXTRACTIVE:
            return {}
        return {"model": self.model} if self.model else {}  # a backend registered by a plug-in


@dataclass(frozen=True)
class WebConfig:
    """How the web server runs: address, answers, sign-in and the API key of its ``/v1`` API."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    backend: str = LOCAL
    model: str | None = None
    base_url: str | None = None
    openai_model: str | None = None
    api_key: str | None = field(default=None, repr=False)  # the remote model server's key
    timeout: float = DEFAULT_TIMEOUT
    n_ctx: int = DEFAULT_N_CTX
    threads: int | None = None
    repack: bool = False
    lookup: int = DEFAULT_LOOKUP
    k: int = 4
    load_wait: float = 60.0
    corpus_check: float = 2.0  # seconds between looks at the corpus folder for changed files
    concurrency: int = 4
    user: str = DEFAULT_USER
    password: str | None = field(default=None, repr=False)
    cache_dir: str | None = None
    server_api_key: str | None = field(default=None, repr=False)  # what /v1 clients must send

    @property
    def models(self) -> ModelSettings:
        return ModelSettings(
            model=self.model,
            n_ctx=self.n_ctx,
            threads=self.threads,
            repack=self.repack,
            lookup=self.lookup,
            base_url=self.base_url,
            openai_model=self.openai_model,
            api_key=self.api_key,
            timeout=self.timeout,
        )


# -- flags --------------------------------------------------------------------------------
def add_corpus_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of every command that opens a corpus."""
    group = parser.add_argument_group("corpus and index")
    group.add_argument(
        "--corpus",
        default=env("RAG_CORPUS"),
        help="folder of articles (env RAG_CORPUS; default ./corpus if it exists, else the seed article)",
    )
    group.add_argument(
        "--cache-dir",
        default=env("RAG_CACHE_DIR"),
        help="index and model cache folder (env RAG_CACHE_DIR; default .cache beside the corpus)",
    )
    group.add_argument(
        "--embed-model",
        default=env("RAG_EMBED_MODEL"),
        help="embedding model: folder, hub id, or all-MiniLM-L6-v2 (default; packaged) (env RAG_EMBED_MODEL)",
    )
    group.add_argument(
        "--embed-backend",
        default=env("RAG_EMBED_BACKEND", "onnx"),
        choices=["onnx", "torch"],
        help="run the embedding model with ONNX Runtime (default) or torch (env RAG_EMBED_BACKEND)",
    )
    group.add_argument("--mode", default="hybrid", choices=list(MODES), help="retrievers to use")
    group.add_argument("--expand", type=int, default=0, help="neighbouring paragraphs added to each passage")


def add_backend_flag(parser: argparse.ArgumentParser, *, many: bool = False) -> None:
    """``--backend``: one name (``rag ask``, ``rag serve``) or several (``rag eval``), from the registry."""
    names = backend_names()
    if many:
        parser.add_argument(
            "--backend",
            nargs="+",
            action="extend",
            metavar="NAME",
            help=f"backends to evaluate, side by side: {', '.join(names)} (default extractive)",
        )
        return
    parser.add_argument(
        "--backend",
        default=env("RAG_BACKEND", DEFAULT_BACKEND),
        choices=names,
        help="who writes the answers: llama-cpp (local model, default), openai (remote server), "
        "extractive (sentences of the article, no model) (env RAG_BACKEND)",
    )


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of the language-model backends (the command adds its own ``--backend``)."""
    local = parser.add_argument_group("llama-cpp backend")
    local.add_argument(
        "--model",
        default=env("RAG_MODEL"),
        help="GGUF model: packaged name, path or hf:REPO:FILE (env RAG_MODEL)",
    )
    local.add_argument(
        "--n-ctx",
        type=int,
        default=DEFAULT_N_CTX,
        help=f"context window of the local model ({DEFAULT_N_CTX})",
    )
    local.add_argument("--threads", type=int, help="CPU threads for the local model (default: all)")
    local.add_argument(
        "--repack",
        action="store_true",
        help="let llama.cpp repack the weights at load (slower on 2-core AVX2: benchmarks/repack.py)",
    )
    local.add_argument(
        "--lookup",
        type=int,
        default=DEFAULT_LOOKUP,
        metavar="N",
        help=f"draft up to N tokens of a greedy reply from the prompt (prompt lookup; {DEFAULT_LOOKUP}; "
        "0 = off: benchmarks/lookup.py)",
    )
    remote = parser.add_argument_group("openai backend (a remote OpenAI-compatible model server)")
    remote.add_argument(
        "--base-url",
        default=env("RAG_BASE_URL", env("OPENAI_BASE_URL")),
        help="URL of the model server (env RAG_BASE_URL, else OPENAI_BASE_URL; default OpenAI's)",
    )
    remote.add_argument(
        "--openai-model",
        default=env("RAG_OPENAI_MODEL"),
        help="model name on that server (env RAG_OPENAI_MODEL)",
    )
    remote.add_argument(
        "--api-key",
        default=env("OPENAI_API_KEY"),
        help="key sent TO the model server (env OPENAI_API_KEY; never logged or written anywhere)",
    )
    remote.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for the model server (60)"
    )


def add_server_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of ``rag serve`` and ``python app.py`` (with the corpus and model flags)."""
    group = parser.add_argument_group("web server")
    group.add_argument(
        "--host",
        default=env("GRADIO_SERVER_NAME", DEFAULT_HOST),
        help=f"address to listen on (env GRADIO_SERVER_NAME; default {DEFAULT_HOST}; 0.0.0.0: all)",
    )
    group.add_argument(
        "--port",
        type=int,
        default=_env_int("GRADIO_SERVER_PORT", DEFAULT_PORT),
        help=f"port (env GRADIO_SERVER_PORT; default {DEFAULT_PORT})",
    )
    group.add_argument(
        "--concurrency", type=int, default=4, help="questions answered at the same time (default 4)"
    )
    group.add_argument(
        "--server-api-key",
        default=env("RAG_API_KEY"),
        help="key that clients of this server's /v1 API must send as 'Authorization: Bearer KEY' "
        "(env RAG_API_KEY; default none: open on 127.0.0.1; not the --api-key of a remote model server)",
    )
    group = parser.add_argument_group("answers")
    add_backend_flag(group)  # type: ignore[arg-type]  # an argument group takes add_argument too
    group.add_argument("-k", type=int, default=4, help="passages retrieved per question (default 4)")
    group.add_argument(
        "--load-wait",
        type=float,
        default=60.0,
        help="seconds a question waits for the local model to load before the extractive fallback answers",
    )
    group.add_argument(
        "--corpus-check",
        type=float,
        default=2.0,
        help="seconds between looks at the corpus folder for added, edited or removed articles "
        "(default 2; 0: before every question)",
    )
    add_model_flags(parser)


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


# -- from parsed flags to configs ----------------------------------------------------------
def corpus_path(args: argparse.Namespace) -> Path:
    """The corpus folder: ``--corpus`` / ``RAG_CORPUS``, else ``./corpus``, else the seed article."""
    if getattr(args, "corpus", None):
        return Path(args.corpus)
    here = Path("corpus")
    return here if here.is_dir() else default_corpus()


def is_packaged_corpus(path: Path) -> bool:
    """Whether ``path`` is the seed article shipped inside the installed package (read-only)."""
    package = Path(__file__).resolve().parent
    return path.resolve() == (package / "_corpus").resolve()


def cache_dir(args: argparse.Namespace, corpus: Path | None = None) -> str | None:
    """``--cache-dir`` / ``RAG_CACHE_DIR``; for the packaged corpus the user's cache, not site-packages."""
    if getattr(args, "cache_dir", None):
        return str(args.cache_dir)
    corpus = corpus if corpus is not None else corpus_path(args)
    if not is_packaged_corpus(corpus):
        return None
    return str(user_cache() or Path(tempfile.gettempdir()) / "korea-herald-rag")


def cache_root(args: argparse.Namespace, corpus: Path | None = None) -> Path:
    """The cache folder in use (index, ONNX export, model files, KV states)."""
    corpus = corpus if corpus is not None else corpus_path(args)
    chosen = cache_dir(args, corpus)
    return Path(chosen) if chosen else default_cache_root(corpus)


def retriever_config(args: argparse.Namespace) -> RetrieverConfig:
    return RetrieverConfig(
        embed_model=args.embed_model,
        embed_backend=args.embed_backend,
        mode=args.mode,
        expand=args.expand,
        cache_dir=cache_dir(args),
    )


def open_retriever(args: argparse.Namespace, *, progress: bool | None = None) -> Retriever:
    """Open (or build) the index of the corpus the flags name."""
    return Retriever.from_corpus(corpus_path(args), config=retriever_config(args), progress=progress)


def model_settings(args: argparse.Namespace) -> ModelSettings:
    return ModelSettings(
        model=args.model,
        n_ctx=args.n_ctx,
        threads=args.threads,
        repack=args.repack,
        lookup=max(0, args.lookup),
        base_url=args.base_url,
        openai_model=args.openai_model,
        api_key=args.api_key,
        timeout=args.timeout,
    )


def backend_options(name: str, args: argparse.Namespace, cache: str | os.PathLike | None) -> dict:
    """Constructor options of backend ``name`` from the flags (and their environment defaults)."""
    return model_settings(args).options(name, cache)


def web_config(args: argparse.Namespace) -> WebConfig:
    """The web server's config from ``rag serve`` / ``python app.py`` flags."""
    models = model_settings(args)
    return WebConfig(
        host=args.host,
        port=args.port,
        backend=args.backend,
        model=models.model,
        base_url=models.base_url,
        openai_model=models.openai_model,
        api_key=models.api_key,
        timeout=models.timeout,
        n_ctx=models.n_ctx,
        threads=models.threads,
        repack=models.repack,
        lookup=models.lookup,
        k=max(1, min(MAX_K, args.k)),
        load_wait=max(0.0, args.load_wait),
        corpus_check=max(0.0, args.corpus_check),
        concurrency=max(1, args.concurrency),
        user=env("RAG_USER", DEFAULT_USER) or DEFAULT_USER,
        password=env("RAG_PASSWORD"),
        cache_dir=cache_dir(args),
        server_api_key=getattr(args, "server_api_key", None),
    )


def default_dataset() -> Path:
    """``rag eval``'s default Q&A file: ``eval/qa.jsonl`` in the current folder, else the project's."""
    here = Path("eval") / "qa.jsonl"
    if here.is_file():
        return here
    project = Path(__file__).resolve().parent.parent / "eval" / "qa.jsonl"  # an editable install
    return project if project.is_file() else here
