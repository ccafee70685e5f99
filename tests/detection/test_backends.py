"""Optional model backends: clear errors when missing, and a tiny ONNX model when present."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from quell.detection.backends import (
    BackendUnavailable,
    OnnxClassifier,
    TransformersClassifier,
    build_backend,
    hashed_features,
)
from quell.errors import InvalidInput


def test_missing_transformers_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(BackendUnavailable, match=r"quell\[transformers\]"):
        TransformersClassifier(tmp_path)


def test_missing_onnxruntime_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"not really a model")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(BackendUnavailable, match=r"quell\[onnx\]"):
        OnnxClassifier(model)


def test_bad_backend_config() -> None:
    with pytest.raises(InvalidInput):
        build_backend({"type": "onnx"})
    with pytest.raises(InvalidInput):
        build_backend({"type": "magic", "path": "x"})
    with pytest.raises(InvalidInput):
        build_backend({"type": "onnx", "path": "/no/such/model.onnx"})


def test_hashed_features_are_normalised() -> None:
    vec = hashed_features("hello world", 64)
    assert vec.shape == (64,) and abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5
    assert not hashed_features("", 64).any()


def tiny_linear_model(path: Path, size: int, weights: np.ndarray) -> None:
    """Write a one-layer classifier: softmax(x @ W + b) with 2 classes."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(weights.astype(np.float32), "W")
    b = numpy_helper.from_array(np.zeros(2, dtype=np.float32), "B")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "W"], ["z"]),
            helper.make_node("Add", ["z", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
        ],
        "tiny",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, size])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 2])],
        initializer=[w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_tiny_onnx_model_behind_the_detector_interface(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    size = 32
    trigger = hashed_features("attack attack attack", size)
    weights = np.zeros((size, 2))
    weights[:, 1] = trigger * 20  # class 1 lights up for texts that share its features
    path = tmp_path / "tiny.onnx"
    tiny_linear_model(path, size, weights)
    detector = build_backend(
        {
            "type": "onnx",
            "path": str(path),
            "features": size,
            "name": "tiny",
            "category": "attack",
            "archetype": "prompt_injection",
            "threshold": 0.9,
        }
    )
    (finding,) = detector.scan("attack attack attack")
    assert finding.detector == "tiny" and finding.category == "attack"
    assert finding.archetype == "prompt_injection" and finding.score >= 0.9
    assert detector.scan("a calm question about gardening") == []
    assert detector.scan("") == []
