"""``ov2 serve``: vLLM's OpenAI server with ov2's plugin, on loopback.

One server per module (start-up takes about a minute on 2 cores). Checks that a codec video
sent as a ``file://`` path, as a base64 data URL and over http gives the same tokens as HF
``generate()``, and that bad requests get HTTP 400 with ov2's message while the server keeps
serving; and a bounded loopback load test (200 requests at concurrency 16, one in ten bad) in
which every good request succeeds, every bad one gets its 400, and the server's memory stays
within 10 % of its memory after warm-up. Runs only in the vLLM venv.
"""

from __future__ import annotations

import base64
import concurrent.futures
import functools
import http.server
import os
import threading
import time

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (build .venv-vllm with `make vllm`)")
requests = pytest.importorskip("requests", reason="requests is not installed")

from vllm_helpers import ENGINE_ENV, MAX_NEW, HFReference, make_clip, make_servable_checkpoint  # noqa: E402

from ov2.integrations.vllm.launch import loopback_server  # noqa: E402

CANVASES = 8
START_TIMEOUT = 420

# Bad requests: (name, video, mm_processor_kwargs, part of ov2's message). A video without
# "file:" is a file in the server's media directory (see media_url).
BAD_REQUESTS = [
    ("missing", "missing.mp4", {}, "VideoNotFoundError: missing.mp4: no such file"),
    ("outside", "file:///etc/hostname", {}, "allowed"),
    ("not a video", "noise.mp4", {}, "VideoFormatError: <bytes>: not a readable video file"),
    ("truncated", "truncated.mp4", {}, "VideoFormatError"),
    ("canvases=5", "clip.mp4", {"canvases": 5}, "InvalidOptionError: canvases=5 is not a multiple of images_per_group=4"),
    ("unknown backend", "clip.mp4", {"video_backend": "nope"}, "InvalidOptionError: backend must be one of"),
]
# Good requests of the load test: (name, video or None for text only, mm_processor_kwargs).
GOOD_REQUESTS = [("codec", "clip.mp4", {}), ("frames", "clip.mp4", {"video_backend": "frames"}), ("text", None, {})]
LOAD_REQUESTS = 200
LOAD_CONCURRENCY = 16
LOAD_WARMUP = 2 * LOAD_CONCURRENCY
LOAD_MAX_TOKENS = 4
LOAD_TIMEOUT = 600  # seconds for the whole measured run; one request gives up after REQUEST_TIMEOUT
REQUEST_TIMEOUT = 300
RSS_TOLERANCE = 0.10


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("vllm_server")
    media = root / "media"
    media.mkdir()
    ckpt = make_servable_checkpoint(root / "tiny")
    clip = make_clip(media / "clip.mp4")
    (media / "noise.mp4").write_bytes(os.urandom(20000))
    data = clip.read_bytes()
    (media / "truncated.mp4").write_bytes(data[: len(data) // 3])
    flags = ["--allowed-local-media-path", str(media), "--gpu-memory-utilization", "0.15", "--max-model-len", "4096",
             "--dtype", "float32", "--enforce-eager", "--mm-processor-kwargs", f'{{"canvases": {CANVASES}}}',
             # No processor cache: a repeated video is tokenized again, so every request below runs
             # ov2's fetch-and-tokenize path (with the cache, repeats would skip it and test nothing).
             "--mm-processor-cache-gb", "0"]
    with loopback_server(ckpt, flags, log_path=root / "server.log", env=ENGINE_ENV,
                         start_timeout=START_TIMEOUT) as (base, proc):
        # A loopback file server for the http case.
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(media))
        files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=files.serve_forever, daemon=True).start()
        yield {"base": base, "media": media, "clip": clip, "hf": HFReference(ckpt), "model": ckpt.name,
               "files": f"http://127.0.0.1:{files.server_address[1]}", "pid": proc.pid}
        files.shutdown()


def media_url(server, video: str) -> str:
    """``video`` as a URL: a name in the server's media directory becomes its ``file://`` URL."""
    return video if video.startswith("file:") else (server["media"] / video).as_uri()


def chat(server, video_url: str | None, max_tokens: int = MAX_NEW, **mm_kwargs) -> requests.Response:
    """A greedy chat request about ``video_url`` (text only when None), returning token ids as logprobs."""
    content = [{"type": "video_url", "video_url": {"url": video_url}}] if video_url else []
    body = {
        "model": server["model"],
        "messages": [{"role": "user", "content": [*content, {"type": "text", "text": "What happens?"}]}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "logprobs": True,
        "return_tokens_as_token_ids": True,
    }
    if mm_kwargs:
        body["mm_processor_kwargs"] = mm_kwargs
    return requests.post(f"{server['base']}/v1/chat/completions", json=body, timeout=REQUEST_TIMEOUT)


def token_ids(response: requests.Response) -> list[int]:
    assert response.status_code == 200, response.text
    # "token_id:N" strings: the ids themselves, independent of how bytes decode.
    return [int(t["token"].split(":")[1]) for t in response.json()["choices"][0]["logprobs"]["content"]]


def test_codec_video_as_path_data_url_and_http_equal_hf(server):
    from vllm_helpers import VIDEO_PROMPT

    expected = server["hf"].generate(VIDEO_PROMPT, videos=[str(server["clip"])], canvases=CANVASES)
    encoded = base64.b64encode(server["clip"].read_bytes()).decode()
    by_path = token_ids(chat(server, server["clip"].as_uri()))
    by_data = token_ids(chat(server, f"data:video/mp4;base64,{encoded}"))
    by_http = token_ids(chat(server, f"{server['files']}/clip.mp4"))
    assert by_path == by_data == by_http == expected


def test_request_options_override_server_defaults(server):
    from vllm_helpers import VIDEO_PROMPT

    expected = server["hf"].generate(VIDEO_PROMPT, videos=[str(server["clip"])], video_backend="frames", canvases=4)
    assert token_ids(chat(server, server["clip"].as_uri(), video_backend="frames", canvases=4)) == expected


@pytest.mark.parametrize("name, url, kwargs, message", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_request_is_400_and_the_next_one_succeeds(server, name, url, kwargs, message):
    bad = chat(server, media_url(server, url), **kwargs)
    assert bad.status_code == 400, (name, bad.status_code, bad.text)
    assert message in bad.json()["error"]["message"], bad.text
    assert chat(server, server["clip"].as_uri()).status_code == 200


def server_rss(pid: int) -> int:
    """Resident memory of the server and every process it started (the engine core, its workers), in bytes."""
    import psutil

    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def load_plan(count: int) -> list[tuple]:
    """``count`` requests, every tenth bad (cycling through BAD_REQUESTS), the rest cycling through GOOD_REQUESTS."""
    plan = []
    for i in range(count):
        if i % 10 == 9:
            plan.append(BAD_REQUESTS[(i // 10) % len(BAD_REQUESTS)])
        else:
            plan.append(GOOD_REQUESTS[i % len(GOOD_REQUESTS)])
    return plan


def run_load(server, plan: list[tuple], timeout: float) -> list[tuple[tuple, requests.Response]]:
    """Send ``plan`` at LOAD_CONCURRENCY; fail if the whole run takes longer than ``timeout`` seconds."""

    def send(entry: tuple) -> requests.Response:
        video, kwargs = entry[1], entry[2]
        return chat(server, media_url(server, video) if video else None, max_tokens=LOAD_MAX_TOKENS, **kwargs)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=LOAD_CONCURRENCY)
    futures = [pool.submit(send, entry) for entry in plan]
    done, pending = concurrent.futures.wait(futures, timeout=timeout)
    pool.shutdown(wait=not pending, cancel_futures=True)
    if pending:
        pytest.fail(f"{len(pending)} of {len(plan)} requests unanswered after {timeout} s")
    return [(entry, future.result()) for entry, future in zip(plan, futures)]


def check_load(results: list[tuple[tuple, requests.Response]], answers: dict[str, list[int]]) -> None:
    """Good: 200 and the same non-empty answer as every other request of its kind. Bad: 400 with ov2's message."""
    for entry, response in results:
        if len(entry) == 4:  # bad
            name, message = entry[0], entry[3]
            assert response.status_code == 400, (name, response.status_code, response.text)
            assert message in response.json()["error"]["message"], (name, response.text)
            continue
        name = entry[0]
        assert response.status_code == 200, (name, response.status_code, response.text)
        # The tiny model is random: its tokens may decode to "" (special tokens), so compare token ids.
        ids = token_ids(response)
        assert ids, (name, response.text)
        assert ids == answers.setdefault(name, ids), name


def test_load_200_requests_concurrency_16_one_in_ten_bad(server):
    """Loopback load, bounded in count and time: all good requests answered alike, all bad ones 400,
    and no memory growth: the server's RSS after the run is within 10 % of its RSS after warm-up."""
    import psutil

    answers: dict[str, list[int]] = {}
    check_load(run_load(server, load_plan(LOAD_WARMUP), LOAD_TIMEOUT), answers)
    assert set(answers) == {g[0] for g in GOOD_REQUESTS}
    warm = server_rss(server["pid"])
    start = time.monotonic()
    check_load(run_load(server, load_plan(LOAD_REQUESTS), LOAD_TIMEOUT), answers)
    elapsed = time.monotonic() - start
    after = server_rss(server["pid"])
    assert psutil.Process(server["pid"]).is_running()
    report = f"RSS after warm-up {warm / 2**20:.0f} MiB, after {LOAD_REQUESTS} requests {after / 2**20:.0f} MiB ({elapsed:.0f} s)"
    print(report)
    assert abs(after - warm) <= RSS_TOLERANCE * warm, report
