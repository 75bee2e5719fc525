"""Open a TFLite model with LiteRT, falling back to tflite-runtime; or an ONNX model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controller.errors import UsageError


def interpreter_class() -> tuple[Any, str]:
    """The Interpreter class and the runtime's name; LiteRT first."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite-runtime"
    except ImportError:
        raise UsageError(
            "no TFLite runtime: install ai-edge-litert (or tflite-runtime)"
        ) from None


def open_interpreter(model: Path, threads: int) -> Any:
    """A ready (tensors allocated) interpreter; a bad file is a one-line error.

    A `.onnx` file runs on onnxruntime behind the same interface (`onnx_interpreter`).
    """
    if not model.is_file():
        raise UsageError(f"{model}: no such model file")
    if model.suffix.lower() == ".onnx":
        from controller.detect.onnx_interpreter import OnnxInterpreter

        return OnnxInterpreter(model, threads)
    cls, _name = interpreter_class()
    try:
        interpreter = cls(model_path=str(model), num_threads=max(1, threads))
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{model}: not a usable TFLite model ({first})") from None
    return interpreter
