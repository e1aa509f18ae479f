"""The lmms-eval model class `ov2`, driven in-process with lmms-eval's own request objects.

Skipped when lmms-eval is not installed (`make install` installs it; see docs/evaluation.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

pytest.importorskip("lmms_eval", reason="lmms-eval not installed (make install adds it: docs/evaluation.md)")

from lmms_eval.api.instance import Instance  # noqa: E402

import ov2  # noqa: E402
from ov2.errors import InvalidOptionError, VideoNotFoundError  # noqa: E402
from ov2.integrations.lmms_eval import backend  # noqa: E402
from ov2.integrations.lmms_eval.model import OV2, OV2Simple  # noqa: E402
from ov2.integrations.lmms_eval.prompt import UnsupportedRequestError  # noqa: E402
from ov2.model import answer  # noqa: E402

TASK, SPLIT = "t", "test"
QUESTION = "When does the ball move?"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ov2.model.tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("lmms_tiny") / "tiny")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    from ov2.samples import make_bursts_clip

    return str(make_bursts_clip(tmp_path_factory.mktemp("lmms_clip") / "b.mp4", duration=4.0, width=160, height=96).path)


@pytest.fixture(scope="module")
def lm(ckpt: Path, clip: str) -> OV2:
    model = OV2.create_from_arg_string(f"pretrained={ckpt},video_backend=frames,canvases=2,max_pixels=20000",
                                       {"batch_size": 1, "device": "cpu"})
    model.task_dict = {TASK: {SPLIT: [{"question": QUESTION, "video": clip}]}}
    return model


def _messages(doc: dict, **round_kwargs) -> list:
    return [{"role": "user", "content": [{"type": "video", "url": doc["video"]}, {"type": "text", "text": doc["question"]}]}]


def _chat_request(gen_kwargs: dict, doc_to_messages=_messages, kind: str = "generate_until") -> Instance:
    return Instance(kind, ("ctx", doc_to_messages, gen_kwargs, 0, TASK, SPLIT), 0, {"task": TASK, "doc_id": 0, "repeats": 1})


def _reference(lm: OV2, clip: str, question: str, decimals: int, max_new_tokens: int) -> str:
    vi = ov2.tokenize(clip, backend="frames", canvases=2, max_pixels=20000)
    return answer(lm.model, lm.processor, question, video=vi, max_new_tokens=max_new_tokens, timestamp_decimals=decimals)


def test_registered_through_the_entry_point() -> None:
    from lmms_eval.models import get_model, list_available_models

    assert "ov2" in list_available_models()
    assert get_model("ov2") is OV2 and get_model("ov2", force_simple=True) is OV2Simple


@pytest.mark.parametrize("args, error, message", [
    ("video_backend=codec,canvases=6", InvalidOptionError, "canvases=6 is not a multiple of images_per_group=4"),
    ("canvas=8", InvalidOptionError, "unknown ov2 model arg(s) ['canvas']"),
    ("dtype=bf16", InvalidOptionError, "dtype must be one of"),
    ("timestamp_decimals=9", InvalidOptionError, "timestamp_decimals must be 0..6"),
])
def test_bad_model_args_fail_before_loading(args: str, error: type, message: str, ckpt: Path, monkeypatch) -> None:
    monkeypatch.setattr(backend, "load", lambda *a, **k: pytest.fail("model loaded despite bad args"))
    with pytest.raises(error, match=re.escape(message)):
        OV2.create_from_arg_string(f"pretrained={ckpt},{args}")


def test_missing_checkpoint_is_named(tmp_path: Path) -> None:
    with pytest.raises(VideoNotFoundError, match="no such checkpoint directory"):
        OV2.create_from_arg_string(f"pretrained={tmp_path / 'nope'}")


def test_generate_until_equals_ov2_answer(lm: OV2, clip: str) -> None:
    requests = [_chat_request({"max_new_tokens": 8, "until": ["\n\n"], "timestamp_decimals": d}) for d in (1, 2)]
    got = lm.generate_until(requests)
    want = [_reference(lm, clip, QUESTION, d, 8) for d in (1, 2)]
    assert got == want
    # The decimals reach the prompt: the reference prompts of the two requests differ in their timestamps.
    from ov2.model.answer import chat_inputs

    vi = ov2.tokenize(clip, backend="frames", canvases=2, max_pixels=20000)
    prompts = [lm.processor.decode(chat_inputs(lm.processor, QUESTION, video=vi, timestamp_decimals=d)["input_ids"][0],
                                   skip_special_tokens=False) for d in (1, 2)]
    assert re.search(r"<\d+\.\d seconds>", prompts[0]) and re.search(r"<\d+\.\d\d seconds>", prompts[1])
    # The simple-model request shape asks the same question.
    simple = Instance("generate_until", (QUESTION, {"max_new_tokens": 8}, lambda doc: [doc["video"]], 0, TASK, SPLIT),
                      0, {"task": TASK, "doc_id": 0, "repeats": 1})
    assert lm.generate_until([simple]) == [want[0]]


def test_until_cuts_and_sampling_is_refused(lm: OV2, clip: str) -> None:
    full = _reference(lm, clip, QUESTION, 1, 8)
    assert len(full) >= 5
    stop = full[3:5]
    assert lm.generate_until([_chat_request({"max_new_tokens": 8, "until": [stop]})]) == [full[: full.find(stop)]]
    with pytest.raises(UnsupportedRequestError, match="ov2 decodes greedily"):
        lm.generate_until([_chat_request({"max_new_tokens": 8, "temperature": 0.7})])


def test_multi_round_follows_the_round_protocol(lm: OV2, clip: str) -> None:
    calls = []

    def rounds(doc: dict, round_idx=None, previous_output=None, previous_round_info=None):
        if round_idx is None:
            return _messages(doc)
        calls.append((round_idx, list(previous_output), previous_round_info))
        if round_idx == 2:
            return None, True, previous_output, None
        follow_up = {"video": doc["video"], "question": f"And after {len(previous_output[0])} characters?"}
        return _messages(follow_up), False, previous_output, {"seen": round_idx}

    [result] = lm.generate_until_multi_round([_chat_request({"max_new_tokens": 6}, rounds, "generate_until_multi_round")])
    first = _reference(lm, clip, QUESTION, 1, 6)
    second = _reference(lm, clip, f"And after {len(first)} characters?", 1, 6)
    assert result == [first, second]
    assert calls == [(1, [first], None), (2, [first, second], {"seen": 1})]


def _stepwise_logprob(lm: OV2, clip: str, context: str, continuation: str) -> tuple[float, bool]:
    """Score the continuation one token at a time, each from its own forward pass over the prefix."""
    vi = ov2.tokenize(clip, backend="frames", canvases=2, max_pixels=20000)
    from ov2.model.answer import chat_inputs

    inputs = chat_inputs(lm.processor, context, video=vi, timestamp_decimals=1)
    target = backend.encode_text(lm.processor, continuation)
    total, greedy = 0.0, True
    for i, token in enumerate(target):
        ids = torch.cat([inputs["input_ids"], torch.tensor([target[:i]], dtype=torch.long)], dim=1)
        step = {**inputs, "input_ids": ids, "attention_mask": torch.ones_like(ids)}
        with torch.inference_mode():
            logits = lm.model(**step).logits[0, -1].double()
        total += float(torch.log_softmax(logits, -1)[token])
        greedy &= int(logits.argmax()) == token
    return total, greedy


def test_loglikelihood_scores_the_continuation(lm: OV2, clip: str) -> None:
    simple = OV2Simple.__new__(OV2Simple)
    simple.__dict__.update(lm.__dict__)  # the same loaded model, on the simple-model path
    # The greedy answer's longest prefix that survives decode -> encode (a random byte-level model can
    # emit bytes that are not UTF-8; those cannot travel as a text continuation).
    answer_text = _reference(lm, clip, QUESTION, 1, 4)
    greedy_text = next(answer_text[:k] for k in range(len(answer_text), 0, -1)
                       if lm.processor.tokenizer.decode(backend.encode_text(lm.processor, answer_text[:k])) == answer_text[:k]
                       and "\ufffd" not in answer_text[:k])
    other = "no!" if not greedy_text.startswith("n") else "yes!"

    def request(continuation: str) -> Instance:
        return Instance("loglikelihood", (QUESTION, continuation, lambda doc: [doc["video"]], 0, TASK, SPLIT), 0,
                        {"task": TASK, "doc_id": 0, "repeats": 1})

    (lp_greedy, is_greedy), (lp_other, other_greedy) = simple.loglikelihood([request(greedy_text), request(other)])
    ref_greedy, ref_is_greedy = _stepwise_logprob(lm, clip, QUESTION, greedy_text)
    ref_other, ref_other_greedy = _stepwise_logprob(lm, clip, QUESTION, other)
    assert lp_greedy == pytest.approx(ref_greedy, abs=1e-4) and lp_other == pytest.approx(ref_other, abs=1e-4)
    assert (is_greedy, ref_is_greedy, other_greedy, ref_other_greedy) == (True, True, False, False)
    assert lp_other < lp_greedy < 0
    # A callable target (doc_to_target) is applied to the doc.
    [(lp_fn, _)] = simple.loglikelihood([request(lambda doc: greedy_text)])
    assert lp_fn == lp_greedy
