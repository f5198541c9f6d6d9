"""The llama solver loads models without llama.cpp's extra buffer types where the CPU has AMX."""

from __future__ import annotations

import ctypes
import types

import pytest

from cgr.kernel.api import SolverConfig, SolverError
from cgr.plugins import llama_solver
from cgr.plugins.llama_solver import cpu_flags, extra_buffers_decision

SAPPHIRE = (
    "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
    "flags\t\t: fpu sse4_2 avx avx2 avx512f avx512_vnni amx_bf16 amx_tile amx_int8\n"
)
EPYC = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx avx2 fma f16c avx512f\n"
GRAVITON = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 asimddp i8mm\n"
SYSINFO = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | AVX512 = 1 | REPACK = 1 |"


def test_cpu_flags_read_x86_and_arm_cpuinfo():
    assert {"amx_int8", "amx_tile", "avx2"} <= cpu_flags(SAPPHIRE)
    assert "amx_int8" not in cpu_flags(EPYC)
    assert {"asimd", "i8mm"} <= cpu_flags(GRAVITON)
    assert cpu_flags("no flags here") == set()


def test_auto_turns_extra_buffers_off_only_where_amx_would_be_used():
    use, why = extra_buffers_decision("auto", cpu_flags(SAPPHIRE), SYSINFO)
    assert use is False and "amx_bf16 amx_int8 amx_tile" in why and "20824" in why
    use, why = extra_buffers_decision("auto", cpu_flags(EPYC), SYSINFO)
    assert use is True and why == "on: no AMX on this CPU"
    assert extra_buffers_decision("auto", cpu_flags(GRAVITON), SYSINFO)[0] is True
    # a llama.cpp built with AMX (e.g. on another machine) is enough, whatever the flags say
    use, why = extra_buffers_decision("auto", cpu_flags(EPYC), SYSINFO + " AMX_INT8 = 1 |")
    assert use is False and "built with AMX_INT8" in why


def test_on_and_off_force_the_choice():
    assert extra_buffers_decision("on", cpu_flags(SAPPHIRE), SYSINFO)[0] is True
    assert extra_buffers_decision("off", cpu_flags(EPYC), SYSINFO)[0] is False


class _Params(ctypes.Structure):
    _fields_ = [("n_gpu_layers", ctypes.c_int32), ("use_extra_bufts", ctypes.c_bool)]


def _fake_llama_cpp():
    """A stand-in for the llama_cpp package: Llama reads the defaults function as llama_cpp.Llama does."""
    seen = []
    low = types.SimpleNamespace()

    def defaults():
        p = _Params()
        p.use_extra_bufts = True
        return p

    low.llama_model_default_params = defaults

    class Llama:
        def __init__(self, **kwargs):
            seen.append((low.llama_model_default_params().use_extra_bufts, kwargs))

    return types.SimpleNamespace(llama_cpp=low, Llama=Llama), seen, defaults


def test_loading_sets_use_extra_bufts_and_restores_the_defaults():
    fake, seen, original = _fake_llama_cpp()
    llama_solver._load_llama(fake, False, model_path="m.gguf")
    llama_solver._load_llama(fake, True, model_path="m.gguf")
    assert seen == [(False, {"model_path": "m.gguf"}), (True, {"model_path": "m.gguf"})]
    assert fake.llama_cpp.llama_model_default_params is original


def test_the_installed_llama_cpp_has_the_field():
    """The real bindings' model parameters have ``use_extra_bufts`` (else the switch would do nothing)."""
    import llama_cpp

    fields = dict(llama_cpp.llama_model_default_params().__class__._fields_)
    assert "use_extra_bufts" in fields


def test_unknown_or_bad_options_are_refused():
    with pytest.raises(SolverError, match=r"unknown --solver-option nosuch \(known: extra_buffers=auto\|on\|off\)"):
        llama_solver.load_solver(SolverConfig(options={"nosuch": "1"}))
    with pytest.raises(SolverError, match="extra_buffers=maybe: expected one of auto, on, off"):
        llama_solver.load_solver(SolverConfig(options={"extra_buffers": "maybe"}))


@pytest.mark.slow
def test_real_model_records_the_choice_and_answers_the_same_without_extra_buffers():
    """The real path: the manifest says what was chosen on this CPU; off and on give the same answers.

    On a machine with AMX, ``auto`` is the off path (the crash this avoids); elsewhere it is on."""
    try:
        llama_solver.resolve_model(None)
    except SolverError as exc:
        pytest.skip(str(exc))
    auto = llama_solver.load_solver(SolverConfig(n_ctx=512))
    has_amx = any(f.startswith("amx") for f in cpu_flags())
    info = auto.info()
    assert info["extra_buffers"] is (not has_amx) or "AMX_INT8" in info["extra_buffers_reason"]
    assert info["extra_buffers_reason"].startswith("off: " if not info["extra_buffers"] else "on: ")
    off = llama_solver.load_solver(SolverConfig(n_ctx=512, options={"extra_buffers": "off"}))
    assert off is not auto and off.info()["extra_buffers"] is False
    prompt = "Question: Which is a planet?\nA. Mars\nB. Moon\nC. Sun\nAnswer:"
    a, b = auto.label_logprobs(prompt, ["A", "B", "C"]), off.label_logprobs(prompt, ["A", "B", "C"])
    assert max(range(3), key=a.__getitem__) == max(range(3), key=b.__getitem__)
    assert a == pytest.approx(b, abs=0.05)
