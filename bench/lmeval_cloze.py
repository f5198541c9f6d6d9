"""lm-evaluation-harness cloze scoring (acc, acc_norm, acc_bytes) of a cgr bundle on a GGUF model.

Runs the real lm-eval (``lm_eval --model gguf``, in a subprocess) against a loopback completions
endpoint serving the same GGUF file as cgr's llama solver (see ``Endpoint``), on a task defined
here: the prompt is cgr's cloze prompt (``prompts.render_cloze``: ``Question: ...\\nAnswer:``), the
choices are the item's options with lm-eval's target delimiter ``" "``. lm-eval lives in its own
virtual environment (its dependencies are not cgr's)::

    python3 -m venv /work/lmeval-venv && /work/lmeval-venv/bin/pip install 'lm_eval[api]==0.4.13'
    python bench/lmeval_cloze.py [--bundle FILE] [--limit N] [--threads T] [--server-settings cgr|default]

Per item it stores (``bench/lmeval_sample.jsonl``; the first line is ``{"meta": ...}``): the item
id, each option's log-likelihood as lm-eval received it, and the option lm-eval's formulas pick:
``acc`` (highest log-likelihood), ``acc_norm`` (divided by the option's length in characters) and
``acc_bytes`` (in UTF-8 bytes), plus lm-eval's own 0/1 metric values. ``--server-settings cgr``
(default) evaluates with the numeric settings of cgr's scoring context (flash attention, 32-token
micro-batches), so both sides compute the same floats and any disagreement is the method's;
``default`` uses llama-cpp-python's defaults (no flash attention, 512-token micro-batches).

lm-eval's ``gguf`` backend talks to an OpenAI-style completions endpoint; ``llama_cpp.server``
0.3.36 returns echoed log-probabilities shifted by one token (see ``Endpoint``), so this script serves
the model itself with a minimal, correct endpoint (llama-cpp-python's ``Llama``, ``logits_all=True``,
each request one fresh forward pass of context + continuation): lm-eval's task building, requests,
context/continuation split and metrics run unmodified.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from cgr.kernel import prompts
from cgr.kernel.bundle import load_bundle
from cgr.plugins.llama_models import file_sha256, resolve_model

HERE = Path(__file__).resolve().parent
LMEVAL_PYTHON = os.environ.get("CGR_LMEVAL_PYTHON", "/work/lmeval-venv/bin/python")
TASK = "cgr_cloze"
SERVER_SETTINGS = {"cgr": "flash attention, n_ubatch 32", "default": "no flash attention, n_ubatch 512"}


def write_task(items: list, folder: Path) -> None:
    """lm-eval's task: one doc per item (cgr's cloze prompt, options, gold index), zero-shot."""
    docs = folder / "docs.jsonl"
    with docs.open("w") as fh:
        for it in items:
            doc = {"id": it.id, "prompt": prompts.render_cloze(it.guest_view()), "choices": it.choices}
            fh.write(json.dumps({**doc, "gold": it.labels.index(it.answer)}) + "\n")
    (folder / f"{TASK}.yaml").write_text(
        f"task: {TASK}\n"
        "dataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {docs}\n"
        "test_split: test\n"
        "output_type: multiple_choice\n"
        "doc_to_text: prompt\n"
        "doc_to_choice: choices\n"
        "doc_to_target: gold\n"
        'target_delimiter: " "\n'
        "metric_list:\n  - metric: acc\n  - metric: acc_norm\n  - metric: acc_bytes\n"
    )


class Endpoint:
    """A minimal OpenAI-compatible ``/v1/completions`` endpoint on 127.0.0.1 for lm-eval's ``gguf``
    backend: each request is evaluated from scratch as ONE sequence in one forward pass
    (llama-cpp-python's ``Llama`` with ``logits_all=True``, the same GGUF), and the echoed
    log-probabilities are ``log P(token_i | tokens before i)``, followed by the one generated (greedy)
    token, which lm-eval drops.

    Why not ``llama_cpp.server``: in llama-cpp-python 0.3.36 its echoed ``token_logprobs[i]`` is the
    log-probability of token i under the distribution AFTER token i (one row off: see
    ``Llama._create_completion``, ``zip(all_tokens, all_logprobs)``), and the generated token is
    missing, so lm-eval 0.4.13's ``get_result`` (which drops the last entry as the generated token)
    sums wrong numbers. Measured: " Paris" after "...France?\\nAnswer:" comes back as -5.62 where
    log P(" Paris" | prompt) is -4.17; -5.62 is exactly log P(" Paris" | prompt + " Paris").
    """

    def __init__(self, model: Path, threads: int, settings: str, n_ctx: int = 2048):
        import http.server
        import threading

        import llama_cpp

        flash = settings == "cgr"
        self.llm = llama_cpp.Llama(
            model_path=str(model),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=512,
            n_ubatch=32 if flash else 512,
            flash_attn=flash,
            n_gpu_layers=0,
            logits_all=True,
            verbose=False,
        )
        self.requests = 0
        self.busy_from: float | None = None  # first request's arrival, last reply's departure
        self.busy_to = 0.0
        self.lock = threading.Lock()
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                data = json.dumps(endpoint.complete(request)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def complete(self, request: dict) -> dict:
        """The echo + one generated token reply of lm-eval's ``gguf`` loglikelihood requests."""
        import numpy as np

        if not (request.get("echo") and request.get("max_tokens") == 1):
            raise ValueError("this endpoint serves lm-eval's loglikelihood requests only (echo, max_tokens=1)")
        llm, prompt, top = self.llm, request["prompt"], int(request.get("logprobs") or 1)
        with self.lock:
            self.requests += 1
            if self.busy_from is None:
                self.busy_from = time.perf_counter()
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
            llm.reset()  # from scratch: one sequence, one forward pass of prompt + continuation
            llm.eval(tokens)
            scores = np.asarray(llm.scores[: len(tokens)], dtype=np.float64)
        peak = scores.max(axis=1, keepdims=True)
        logp = scores - (peak + np.log(np.exp(scores - peak).sum(axis=1, keepdims=True)))
        seq = [*tokens, int(np.argmax(logp[-1]))]
        out: dict = {"tokens": [], "text_offset": [], "token_logprobs": [], "top_logprobs": []}

        def text(ids: list[int], prev: list[int] | None = None) -> str:
            return llm.detokenize(ids, prev_tokens=prev).decode("utf-8", errors="ignore")

        for i, tok in enumerate(seq):
            if i == 0 and tok == llm.token_bos():
                continue
            out["tokens"].append(text([tok], seq[:i]))
            out["text_offset"].append(len(text(seq[:i])))
            if i == 0:
                out["token_logprobs"].append(None)
                out["top_logprobs"].append(None)
                continue
            row = logp[i - 1]
            tops = {text([int(j)], seq[:i]): float(row[j]) for j in np.argpartition(-row, top)[:top]}
            tops[out["tokens"][-1]] = float(row[tok])
            out["token_logprobs"].append(float(row[tok]))
            out["top_logprobs"].append(tops)
        reply = prompt + out["tokens"][-1]
        self.busy_to = time.perf_counter()
        return {"object": "text_completion", "choices": [{"index": 0, "text": reply, "logprobs": out}]}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def run_lmeval(
    items: list, model: Path, threads: int, settings: str, timing: dict | None = None
) -> tuple[list[dict], float, str]:
    """lm-eval's per-sample records for ``items``, the seconds lm-eval ran, and its version;
    ``timing`` (if given) receives the seconds from lm-eval's first request to its last reply."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_task(items, folder)
        endpoint = Endpoint(model, threads, settings)
        try:
            env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
            cmd = [LMEVAL_PYTHON, "-m", "lm_eval", "--model", "gguf", "--model_args", f"base_url={endpoint.url}"]
            cmd += ["--tasks", TASK, "--include_path", str(folder), "--output_path", str(folder / "out")]
            cmd += ["--log_samples", "--batch_size", "1"]
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            seconds = time.perf_counter() - start
        finally:
            endpoint.close()
        if timing is not None:
            timing["requests"] = endpoint.requests
            timing["scoring_s"] = endpoint.busy_to - (endpoint.busy_from or endpoint.busy_to)
        if proc.returncode != 0:
            raise RuntimeError(f"lm_eval failed ({proc.returncode}): {proc.stderr[-3000:]}")
        files = glob.glob(str(folder / "out" / "**" / f"samples_{TASK}_*.jsonl"), recursive=True)
        if len(files) != 1:
            raise RuntimeError(f"expected one samples file from lm_eval, found {files}")
        samples = [json.loads(line) for line in Path(files[0]).read_text().splitlines() if line.strip()]
        version = subprocess.run(
            [LMEVAL_PYTHON, "-c", "import importlib.metadata as m; print(m.version('lm_eval'))"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    return samples, seconds, version


def argmax(values: list[float]) -> int:
    """numpy.argmax: the first of equal maxima."""
    return max(range(len(values)), key=lambda i: (values[i], -i))


def per_item(sample: dict, labels: list[str]) -> dict:
    """One stored line: the option lm-eval's acc, acc_norm and acc_bytes formulas pick, and why."""
    doc = sample["doc"]
    lls = [float(r[0][0]) for r in sample["resps"]]
    chars = [float(len(c)) for c in doc["choices"]]
    nbytes = [float(len(c.encode("utf-8"))) for c in doc["choices"]]
    return {
        "id": doc["id"],
        "loglik": lls,
        "acc_choice": labels[argmax(lls)],
        "acc_norm_choice": labels[argmax([v / n for v, n in zip(lls, chars)])],
        "acc_bytes_choice": labels[argmax([v / n for v, n in zip(lls, nbytes)])],
        "gold": labels[doc["gold"]],
        "acc": sample["acc"],
        "acc_norm": sample["acc_norm"],
        "acc_bytes": sample["acc_bytes"],
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=None, help="bundle file (default: the shipped sample)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--model", default=None, help="embedded model name or GGUF path (default smollm2-135m)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--server-settings", choices=sorted(SERVER_SETTINGS), default="cgr")
    ap.add_argument("--out", default=str(HERE / "lmeval_sample.jsonl"))
    args = ap.parse_args(argv)
    items = load_bundle(args.bundle).items[: args.limit]
    name, path = resolve_model(args.model)
    samples, seconds, version = run_lmeval(items, path, args.threads, args.server_settings)
    by_id = {it.id: it for it in items}
    lines = [per_item(s, by_id[s["doc"]["id"]].labels) for s in samples]
    lines.sort(key=lambda line: [it.id for it in items].index(line["id"]))
    meta = {
        "lm_eval": version,
        "model": name,
        "model_sha256": file_sha256(path),
        "server": "bench/lmeval_cloze.py Endpoint (llama-cpp-python Llama, logits_all): "
        + SERVER_SETTINGS[args.server_settings],
        "server_settings": args.server_settings,
        "threads": args.threads,
        "items": len(lines),
        "seconds": round(seconds, 1),
        "prompt": "cgr prompts.render_cloze; continuation ' ' + option (lm-eval target_delimiter)",
    }
    with open(args.out, "w") as fh:
        fh.write(json.dumps({"meta": meta}) + "\n")
        for line in lines:
            fh.write(json.dumps(line) + "\n")
    acc = {k: sum(line[k] for line in lines) / len(lines) for k in ("acc", "acc_norm", "acc_bytes")}
    print(json.dumps({**meta, **{k: round(v, 4) for k, v in acc.items()}, "out": args.out}))


if __name__ == "__main__":
    main()
