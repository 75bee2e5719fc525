"""Which detector family a model is, read from its tensors alone (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.detect.decoders import postprocess_shape_roles, yolo_layout
from controller.detect.tensors import TensorInfo, state_key
from controller.errors import UsageError


class NotADetector(UsageError):
    """The model's tensors fit none of the detector families this code decodes."""


@dataclass(frozen=True)
class StateLink:
    """A recurrent state: this output is fed back into that input on the next frame."""

    output: TensorInfo
    input: TensorInfo


@dataclass(frozen=True)
class PostProcessLayout:
    """SSD with TFLite_Detection_PostProcess: boxes and count by shape, pair undecided."""

    outputs: tuple[TensorInfo, ...]  # the four tensors, in model order
    boxes: int
    count: int
    pair: tuple[int, int]  # classes/scores, told apart from their values at run time


@dataclass(frozen=True)
class YoloLayout:
    """A raw YOLO output tensor: [1,N,A] or [1,A,N]."""

    output: TensorInfo
    transposed: bool
    has_objectness: bool


@dataclass(frozen=True)
class ModelLayout:
    image: TensorInfo
    states: tuple[StateLink, ...]
    head: PostProcessLayout | YoloLayout

    @property
    def family(self) -> str:
        kind = "ssd-postprocess" if isinstance(self.head, PostProcessLayout) else "yolo"
        return f"{kind}+state" if self.states else kind


def inspect_model(
    model_name: str,
    inputs: list[TensorInfo],
    outputs: list[TensorInfo],
    num_labels: int | None = None,
) -> ModelLayout:
    """The layout of a detector, or :class:`NotADetector` naming what was found."""
    image = _image_input(model_name, inputs)
    states = _match_states(model_name, [i for i in inputs if i is not image], outputs)
    state_outputs = {link.output.index for link in states}
    heads = [o for o in outputs if o.index not in state_outputs]
    head = _head(model_name, heads, num_labels)
    return ModelLayout(image=image, states=tuple(states), head=head)


def _not_detector(model_name: str, tensors: list[TensorInfo], why: str) -> NotADetector:
    found = "; ".join(t.describe() for t in tensors) or "none"
    return NotADetector(f"{model_name}: not a detector model: {why} (found {found})")


def _image_input(model_name: str, inputs: list[TensorInfo]) -> TensorInfo:
    images = [
        t for t in inputs
        if len(t.shape) == 4 and t.shape[0] == 1 and t.shape[3] in (1, 3) and t.shape[1] >= 16
    ]
    if not images:
        raise _not_detector(model_name, inputs, "no [1,H,W,3] image input")
    if len(images) > 1:
        named = [t for t in images if "image" in t.name.lower() or "input" in t.name.lower()]
        images = named or images
    return max(images, key=lambda t: t.shape[1] * t.shape[2])


def _match_states(
    model_name: str, others: list[TensorInfo], outputs: list[TensorInfo]
) -> list[StateLink]:
    """Pair each extra input with the output that produces its next value.

    By name first (``raw_outputs/lstm_c`` -> ``raw_inputs/init_lstm_c``), shapes
    required to agree; then, for what is left, by a unique shape.
    """
    links: list[StateLink] = []
    free = list(outputs)
    pending: list[TensorInfo] = []
    for inp in others:
        key = state_key(inp.name)
        named = [o for o in free if state_key(o.name) == key and o.shape == inp.shape]
        if len(named) == 1:
            links.append(StateLink(output=named[0], input=inp))
            free.remove(named[0])
        else:
            pending.append(inp)
    for inp in pending:
        same = [o for o in free if o.shape == inp.shape]
        if len(same) != 1:
            raise _not_detector(
                model_name, [inp], f"input {inp.name!r} has no matching state output"
            )
        links.append(StateLink(output=same[0], input=inp))
        free.remove(same[0])
    return links


def _head(
    model_name: str, heads: list[TensorInfo], num_labels: int | None
) -> PostProcessLayout | YoloLayout:
    roles = postprocess_shape_roles([h.shape for h in heads])
    if roles is not None:
        boxes, count, pair = roles
        if any(heads[i].dtype != np.dtype(np.float32) for i in range(4)):
            raise _not_detector(model_name, heads, "post-process outputs must be float32")
        return PostProcessLayout(tuple(heads), boxes, count, (pair[0], pair[1]))
    if len(heads) == 1:
        layout = yolo_layout(heads[0].shape, num_labels)
        if layout is not None:
            return YoloLayout(heads[0], *layout)
    raise _not_detector(
        model_name, heads,
        "expected the 4 TFLite_Detection_PostProcess outputs or one YOLO [1,N,5+C] tensor",
    )
