"""The lmms-eval model ``ov2``: a chat model (``is_simple = False``) and a simple twin.

    lmms-eval --model ov2 --model_args pretrained=CKPT,video_backend=codec,canvases=32 --tasks ...

Model args (``--model_args k=v,...``):

* ``pretrained`` - local checkpoint directory (required);
* ``video_backend`` - ``codec`` (default), ``fixed`` or ``frames``; ``canvases`` (32);
  ``max_pixels`` (150000): how ``ov2.tokenize`` turns each video into canvases;
  ``candidates_per_group`` (codec / fixed; default: the one the checkpoint was trained with,
  else the tokenizer's);
* ``timestamp_decimals`` - decimals of the ``<t seconds>`` tags; default: what the task asks
  for (``ov2_jumprope`` asks for 2), else 1;
* ``device`` (``cuda`` when visible, else ``cpu``) and ``dtype`` (``auto``, ``float32``,
  ``bfloat16``, ``float16``; ``auto`` = the checkpoint's on GPU, float32 on CPU).

Decoding is greedy, one request at a time, as in ``ov2 eval``. ``until`` strings cut the
answer (except lmms-eval's implicit ``"\\n\\n"`` default, which chat models ignore);
sampling or beam search requests are refused. ``loglikelihood`` scores a continuation
with one forward pass; lmms-eval sends those only to simple models, so tasks that need
it run with ``--force_simple`` (the manifest registers :class:`OV2Simple` for that).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from lmms_eval.api.instance import Instance
from lmms_eval.api.model import lmms
from loguru import logger
from tqdm import tqdm

from ...errors import InvalidOptionError, VideoNotFoundError
from . import backend
from .prompt import Prompt, UnsupportedRequestError, from_context, from_messages

DEFAULT_MAX_NEW_TOKENS = 1024  # when a task sets none; ov2 eval's JumpScore default
MAX_ROUNDS = 64  # a multi-round task that never signals the end is a bug in the task
DTYPES = ("auto", "float32", "bfloat16", "float16")
# lmms-eval adds until=["\n\n"] (its few-shot delimiter) to every task that names no stop
# strings; chat models ignore it, and so do we, or every answer would end at its first blank line.
IMPLICIT_UNTIL = "\n\n"


@dataclass(frozen=True)
class GenerationOptions:
    """What ``ov2`` takes from a request's ``gen_kwargs``."""

    max_new_tokens: int
    until: tuple[str, ...]
    timestamp_decimals: int

    @classmethod
    def from_gen_kwargs(cls, gen_kwargs: dict[str, Any] | None, decimals: int | None) -> "GenerationOptions":
        """Validate ``gen_kwargs``; ``decimals`` (the model arg) wins over the task's ``timestamp_decimals``."""
        kw = dict(gen_kwargs or {})
        temperature = float(kw.get("temperature") or 0.0)
        if temperature > 0 or _truthy(kw.get("do_sample")) or int(kw.get("num_beams") or 1) > 1:
            raise UnsupportedRequestError(
                "ov2 decodes greedily in lmms-eval; this task asks for "
                f"temperature={kw.get('temperature')}, do_sample={kw.get('do_sample')}, num_beams={kw.get('num_beams')} "
                "(pass --gen_kwargs temperature=0,do_sample=false,num_beams=1)")
        until = kw.get("until") or []
        until = [until] if isinstance(until, str) else list(until)
        if decimals is None:
            decimals = _decimals(kw.get("timestamp_decimals"))
        if decimals is None:
            decimals = 1
        max_new = int(kw.get("max_new_tokens") or DEFAULT_MAX_NEW_TOKENS)
        if max_new < 1:
            raise InvalidOptionError(f"max_new_tokens must be >= 1, got {max_new}")
        return cls(max_new, tuple(u for u in until if u and u != IMPLICIT_UNTIL), decimals)

    def cut(self, text: str) -> str:
        """``text`` up to the earliest stop string (greedy decoding makes this equal to stopping there)."""
        ends = [i for i in (text.find(u) for u in self.until) if i >= 0]
        return text[: min(ends)] if ends else text


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in {"1", "true", "yes"}


def _decimals(value: Any) -> int | None:
    if value is None or value == "":
        return None
    decimals = int(value)
    if not 0 <= decimals <= 6:
        raise InvalidOptionError(f"timestamp_decimals must be 0..6, got {value!r}")
    return decimals


class OV2(lmms):
    """ov2 as an lmms-eval chat model; see the module docstring for its model args."""

    is_simple = False

    def __init__(
        self,
        pretrained: str | None = None,
        video_backend: str = "codec",
        canvases: int = 32,
        max_pixels: int = 150_000,
        candidates_per_group: int | None = None,
        timestamp_decimals: int | None = None,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int | str = 1,
        max_batch_size: int | None = None,
        **unknown: Any,
    ) -> None:
        super().__init__()
        if unknown:
            raise InvalidOptionError(
                f"unknown ov2 model arg(s) {sorted(unknown)}; known: pretrained, video_backend, canvases, "
                "max_pixels, candidates_per_group, timestamp_decimals, device, dtype")
        if not pretrained:
            raise InvalidOptionError("ov2 needs --model_args pretrained=/path/to/checkpoint")
        if not os.path.isdir(str(pretrained)):
            raise VideoNotFoundError(f"pretrained={pretrained}: no such checkpoint directory (ov2 loads local files only)")
        if dtype is not None and str(dtype) not in DTYPES:
            raise InvalidOptionError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        from ...model.loading import codec_config_for

        overrides = {"candidates_per_group": int(candidates_per_group)} if candidates_per_group is not None else None
        codec_config = codec_config_for(str(pretrained), str(video_backend), overrides)
        self.settings = backend.VideoSettings(str(video_backend), int(canvases), int(max_pixels), codec_config)
        self.settings.validate()  # bad budgets fail here, before the model is loaded
        self.timestamp_decimals = _decimals(timestamp_decimals)
        if str(batch_size) != "1":
            logger.warning(f"ov2 answers one request at a time; batch_size={batch_size} is ignored")

        from accelerate import Accelerator

        # lmms-eval's evaluator uses lm.accelerator for multi-process runs (accelerate launch).
        self.accelerator = Accelerator()
        if self.accelerator.num_processes > 1:
            self._rank = self.accelerator.process_index
            self._world_size = self.accelerator.num_processes
            device = device or f"cuda:{self.accelerator.local_process_index}"
        self.pretrained = str(pretrained)
        self.model, self.processor = backend.load(self.pretrained, device=device, dtype=dtype)
        logger.info(f"ov2: {self.pretrained} on {self.device}, {self.settings}, timestamp_decimals="
                    f"{self.timestamp_decimals if self.timestamp_decimals is not None else 'per task'}")

    @property
    def device(self) -> Any:
        return self.model.device

    # ------------------------------------------------------------------ requests
    def _doc(self, task: str, split: str, doc_id: int) -> Any:
        return self.task_dict[task][split][doc_id]

    def _request_prompt(self, args: Sequence[Any]) -> tuple[Prompt, dict[str, Any]]:
        """(prompt, gen_kwargs) of a generate_until request, chat or simple shape."""
        if callable(args[1]):  # chat: (context, doc_to_messages, gen_kwargs, doc_id, task, split)
            _, doc_to_messages, gen_kwargs, doc_id, task, split = args
            return from_messages(doc_to_messages(self._doc(task, split, doc_id))), gen_kwargs
        # simple: (context, gen_kwargs, doc_to_visual, doc_id, task, split)
        context, gen_kwargs, doc_to_visual, doc_id, task, split = args
        return from_context(context, _visuals(doc_to_visual, self._doc(task, split, doc_id))), gen_kwargs

    def _answer(self, prompt: Prompt, options: GenerationOptions) -> str:
        visuals = backend.visual_inputs(prompt, self.settings)
        text = backend.generate(self.model, self.processor, prompt, visuals,
                                max_new_tokens=options.max_new_tokens,
                                timestamp_decimals=options.timestamp_decimals)
        return options.cut(text)

    def generate_until(self, requests: list[Instance]) -> list[str]:
        """Greedy answers, in request order."""
        answers = []
        for request in tqdm(requests, desc="ov2", disable=self.rank != 0):
            prompt, gen_kwargs = self._request_prompt(request.args)
            text = self._answer(prompt, GenerationOptions.from_gen_kwargs(gen_kwargs, self.timestamp_decimals))
            answers.append(text)
            self.cache_hook.add_partial("generate_until", (request.args[0], gen_kwargs), text)
        return answers

    def generate_until_multi_round(self, requests: list[Instance]) -> list[list[str]]:
        """One answer per round; each round is a fresh single-turn question the task builds from the previous answers."""
        results = []
        for request in tqdm(requests, desc="ov2 rounds", disable=self.rank != 0):
            next_round = self._round_builder(request.args)
            first, gen_kwargs = self._request_prompt(_first_round_args(request.args))
            options = GenerationOptions.from_gen_kwargs(gen_kwargs, self.timestamp_decimals)
            rounds = [self._answer(first, options)]
            info = None
            for round_idx in range(1, MAX_ROUNDS + 1):
                prompt, done, previous, info = next_round(round_idx, list(rounds), info)
                if previous is not None:
                    rounds = list(previous)
                if done:
                    break
                rounds.append(self._answer(prompt, options))
            else:
                raise UnsupportedRequestError(f"task {request.args[-2]!r} did not end after {MAX_ROUNDS} rounds")
            results.append(rounds)
            self.cache_hook.add_partial("generate_until_multi_round", (request.args[0], gen_kwargs), rounds)
        return results

    def _round_builder(self, args: Sequence[Any]) -> Callable[[int, list[str], Any], tuple[Prompt | None, bool, Any, Any]]:
        """round_idx, answers so far, info -> (prompt, done, answers to keep, info), following lmms-eval's round protocol."""
        if callable(args[1]):  # chat: doc_to_messages(doc, round_idx=, previous_output=, previous_round_info=)
            _, doc_to_messages, _, doc_id, task, split = args
            doc = self._doc(task, split, doc_id)

            def chat_round(round_idx: int, previous: list[str], info: Any) -> tuple[Prompt | None, bool, Any, Any]:
                out = doc_to_messages(doc, round_idx=round_idx, previous_output=previous, previous_round_info=info)
                if not (isinstance(out, tuple) and len(out) == 4):
                    raise UnsupportedRequestError(
                        f"task {task!r}: doc_to_messages(round_idx=...) must return (messages, terminal, "
                        "previous_output, previous_round_info) for multi-round generation")
                messages, done, kept, info = out
                return (None if done else from_messages(messages)), bool(done), kept, info

            return chat_round
        # simple: (context, gen_kwargs, doc_to_visual, doc_to_text, doc_id, task, split)
        _, _, _, doc_to_text, doc_id, task, split = args
        doc = self._doc(task, split, doc_id)

        def simple_round(round_idx: int, previous: list[str], info: Any) -> tuple[Prompt | None, bool, Any, Any]:
            visuals, text, done, kept, info = doc_to_text(doc, previous_output=previous, round_idx=round_idx,
                                                          previous_round_info=info)
            return (None if done else from_context(text, visuals)), bool(done), kept, info

        return simple_round

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        """(log-probability of the continuation, whether greedy decoding would produce it) per request."""
        results = []
        for request in tqdm(requests, desc="ov2 loglikelihood", disable=self.rank != 0):
            context, target, doc_to_visual, doc_id, task, split = request.args
            doc = self._doc(task, split, doc_id)
            continuation = target if isinstance(target, str) else target(doc)
            prompt = from_context(context, _visuals(doc_to_visual, doc))
            visuals = backend.visual_inputs(prompt, self.settings)
            decimals = self.timestamp_decimals if self.timestamp_decimals is not None else 1
            result = backend.continuation_logprob(self.model, self.processor, prompt, visuals, str(continuation),
                                                  timestamp_decimals=decimals)
            results.append(result)
            self.cache_hook.add_partial("loglikelihood", (context, continuation), result)
        return results


class OV2Simple(OV2):
    """The same model for lmms-eval's simple-model path (``--force_simple``): loglikelihood and multiple-choice tasks."""

    is_simple = True


def _visuals(doc_to_visual: Any, doc: Any) -> list[Any]:
    if not callable(doc_to_visual):
        return []
    visuals = doc_to_visual(doc)
    if visuals is None:
        return []
    # Some tasks wrap their list once more ([[img]]).
    if isinstance(visuals, list) and len(visuals) == 1 and isinstance(visuals[0], list):
        return visuals[0]
    return list(visuals) if isinstance(visuals, (list, tuple)) else [visuals]


def _first_round_args(args: Sequence[Any]) -> Sequence[Any]:
    # A simple multi-round request carries doc_to_text as well: drop it to get the generate_until shape.
    if callable(args[1]) or len(args) == 6:
        return args
    context, gen_kwargs, doc_to_visual, _, doc_id, task, split = args
    return (context, gen_kwargs, doc_to_visual, doc_id, task, split)
