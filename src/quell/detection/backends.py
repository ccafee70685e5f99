"""Optional heavier backends: a local ONNX or transformers classifier behind ``TextDetector``.

Neither runtime is a dependency of quell. Each is imported only when a backend is built, and a
missing package raises ``BackendUnavailable`` naming the pip extra to install. Models are read
from a local path only; nothing is downloaded.

An ONNX model takes either token ids (when ``tokenizer_path`` points at a ``tokenizer.json``
for the optional ``tokenizers`` package) or, by default, a float vector of hashed word and
character-trigram counts of length ``features`` (see ``hashed_features``), which suits small
linear or MLP classifiers trained for quell. Its first output holds class probabilities or
logits; ``positive_index`` says which column means "flag".
"""

from __future__ import annotations

import inspect
import json
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from quell.detection.base import (
    ARCHETYPES,
    Finding,
    cap_text,
    clamp_score,
    mark_truncated,
)
from quell.errors import InvalidInput


class BackendUnavailable(InvalidInput):
    """The optional package a backend needs is not installed."""

    code = "backend_unavailable"


def _require(module: str, extra: str) -> Any:
    """Import ``module`` or explain which pip extra provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailable(
            f"the {module!r} package is needed for this detector backend; "
            f"install it with: pip install 'quell[{extra}]'"
        ) from exc


def hashed_features(text: str, size: int = 256) -> np.ndarray:
    """Bag of hashed lower-case words and character trigrams, L2-normalised, as float32."""
    vec = np.zeros(size, dtype=np.float32)
    low = text.lower()
    for word in low.split():
        vec[zlib.crc32(word.encode("utf-8")) % size] += 1.0
    for i in range(max(0, len(low) - 2)):
        vec[zlib.crc32(low[i : i + 3].encode("utf-8")) % size] += 0.5
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm else vec


def _softmax_if_logits(row: np.ndarray) -> np.ndarray:
    if row.ndim == 0 or row.size == 1:
        value = float(row.reshape(-1)[0])
        p = value if 0.0 <= value <= 1.0 else 1.0 / (1.0 + np.exp(-value))
        return np.array([1.0 - p, p])
    if np.all(row >= 0) and abs(float(row.sum()) - 1.0) < 1e-3:
        return row
    shifted = np.exp(row - row.max())
    return shifted / shifted.sum()


class ModelBackend:
    """Shared threshold, category and finding construction for model backends.

    ``reads`` says which side of a model call the SDK's ``Monitor`` scans with it: ``"input"``
    (prompts) or ``"output"`` (answers); by default input for the prompt-injection archetype
    and output for the others.
    """

    def __init__(self, name: str, category: str, archetype: str, threshold: float,
                 max_chars: int, reads: str | None = None) -> None:  # fmt: skip
        if archetype not in ARCHETYPES:
            raise InvalidInput(f"unknown archetype {archetype!r}")
        if reads is None:
            reads = "input" if archetype == "prompt_injection" else "output"
        if reads not in ("input", "output"):
            raise InvalidInput(f'"reads" must be "input" or "output", not {reads!r}')
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not (
            0.0 <= threshold <= 1.0
        ):
            raise InvalidInput(f'"threshold" must be a number from 0 to 1, not {threshold!r}')
        if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
            raise InvalidInput(f'"max_chars" must be a positive whole number, not {max_chars!r}')
        self.reads = reads
        self.name = name
        self.category = category
        self.archetype = archetype
        self.threshold = threshold
        self.max_chars = max_chars

    def probability(self, text: str) -> float:
        """The model's probability that ``text`` should be flagged."""
        raise NotImplementedError

    def scan(self, text: str) -> list[Finding]:
        """One finding for the whole text when the model's probability reaches the threshold."""
        capped, truncated = cap_text(text, self.max_chars)
        if not capped.strip():
            return []
        p = self.probability(capped)
        if p < self.threshold:
            return []
        found = [
            Finding(
                self.name,
                self.category,
                clamp_score(p),
                self.archetype,
                (0, len(capped)),
                capped[:200],
                {"backend": type(self).__name__},
            )
        ]
        return mark_truncated(found, self.max_chars) if truncated else found  # fmt: skip


class OnnxClassifier(ModelBackend):
    """A local ONNX text classifier run with onnxruntime on the CPU."""

    def __init__(self, model_path: str | Path, *, name: str = "onnx_classifier",
                 category: str = "model_flagged", archetype: str = "unclassified",
                 threshold: float = 0.5, positive_index: int = 1, features: int = 256,
                 tokenizer_path: str | Path | None = None, max_chars: int = 4000,
                 featurizer: Callable[[str], Mapping[str, np.ndarray]] | None = None,
                 reads: str | None = None) -> None:  # fmt: skip
        super().__init__(name, category, archetype, threshold, max_chars, reads)
        path = Path(model_path)
        if not path.is_file():
            raise InvalidInput(f"ONNX model not found: {path}")
        ort = _require("onnxruntime", "onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options,
                                                providers=["CPUExecutionProvider"])  # fmt: skip
        except Exception as exc:  # onnxruntime raises its own types for a bad file
            raise InvalidInput(f"cannot load ONNX model {path}: {exc}") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.positive_index = positive_index
        self.features = features
        if featurizer is not None:
            self.featurize = featurizer
        elif tokenizer_path is not None:
            self.featurize = self._tokenizer_featurizer(Path(tokenizer_path))
        else:
            self.featurize = self._hashed

    def _hashed(self, text: str) -> dict[str, np.ndarray]:
        return {self.input_names[0]: hashed_features(text, self.features)[None, :]}

    def _tokenizer_featurizer(self, path: Path) -> Callable[[str], Mapping[str, np.ndarray]]:
        tokenizers = _require("tokenizers", "onnx")
        try:
            tok = tokenizers.Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception for a missing or bad file
            raise InvalidInput(f"cannot load tokenizer {path}: {exc}") from None
        names = self.input_names

        def featurize(text: str) -> dict[str, np.ndarray]:
            enc = tok.encode(text)
            ids = np.array([enc.ids[:512]], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                     "token_type_ids": np.zeros_like(ids)}  # fmt: skip
            return {k: v for k, v in feeds.items() if k in names}

        return featurize

    def probability(self, text: str) -> float:
        """Run the model once and read the positive class probability."""
        outputs = self.session.run(None, dict(self.featurize(text)))
        row = np.asarray(outputs[0], dtype=np.float64).reshape(-1)
        probs = _softmax_if_logits(row)
        return float(probs[min(self.positive_index, len(probs) - 1)])


class TransformersClassifier(ModelBackend):
    """A local Hugging Face text-classification model (no download: local files only)."""

    def __init__(self, model_path: str | Path, *, name: str = "transformers_classifier",
                 category: str = "model_flagged", archetype: str = "unclassified",
                 threshold: float = 0.5, positive_labels: tuple[str, ...] = ("1", "LABEL_1",
                 "INJECTION", "TOXIC", "toxic", "injection", "positive"),
                 max_chars: int = 4000, reads: str | None = None) -> None:  # fmt: skip
        super().__init__(name, category, archetype, threshold, max_chars, reads)
        path = Path(model_path)
        if not path.exists():
            raise InvalidInput(f"model folder not found: {path}")
        transformers = _require("transformers", "transformers")
        self.pipe = transformers.pipeline("text-classification", model=str(path),
                                          tokenizer=str(path), device=-1, top_k=None,
                                          model_kwargs={"local_files_only": True})  # fmt: skip
        self.positive_labels = set(positive_labels)

    def probability(self, text: str) -> float:
        """Sum the scores of the labels that mean "flag"."""
        scores = self.pipe(text, truncation=True)
        rows = scores[0] if scores and isinstance(scores[0], list) else scores
        return float(sum(r["score"] for r in rows if str(r["label"]) in self.positive_labels))


_BACKENDS: dict[str, type[ModelBackend]] = {
    "onnx": OnnxClassifier,
    "transformers": TransformersClassifier,
}
# The file that makes a folder a detector: ``get_detector("path/to/folder")`` builds it.
MANIFEST = "quell-detector.json"
# Keys a manifest may carry for people, not for the constructor.
_NOTES = frozenset({"about"})


def build_backend(config: Mapping[str, Any]) -> ModelBackend:
    """Build a model backend from a plain dict: ``{"type": "onnx"|"transformers", "path": ...}``."""
    kind = config.get("type")
    if not isinstance(config.get("path"), str | Path):
        raise InvalidInput('detector backend needs "path" (a file or folder)')
    cls = _BACKENDS.get(str(kind))
    if cls is None:
        raise InvalidInput(f'detector backend "type" must be onnx or transformers, not {kind!r}')
    options = {k: v for k, v in config.items() if k not in ("type", "path") and k not in _NOTES}
    known = set(inspect.signature(cls.__init__).parameters) - {"self", "model_path"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InvalidInput(
            f"unknown {kind} backend option(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(known))}"
        )
    return cls(config["path"], **options)


def load_backend_folder(folder: str | Path) -> ModelBackend:
    """Build the detector a folder's ``quell-detector.json`` describes.

    The manifest is a ``build_backend`` config whose ``path`` and ``tokenizer_path`` are
    relative to the folder, so a model folder can be moved or shared whole.
    """
    root = Path(folder)
    manifest = root / MANIFEST
    try:
        config = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"{root} holds no {MANIFEST}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{manifest} is not readable JSON: {exc}") from None
    if not isinstance(config, dict):
        raise InvalidInput(f"{manifest} must hold a JSON object")
    for key in ("path", "tokenizer_path"):
        if isinstance(config.get(key), str):
            config[key] = str(root / config[key])
    return build_backend(config)
