import pytest

from cgr.kernel import manager
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import DEFAULT_PLUGINS, PluginError, UnknownPluginError, check_solver, load_plugins


def test_builtins_register_everything(plugins):
    assert set(DEFAULT_PLUGINS) <= set(plugins.plugin_names())
    assert plugins.solver("llama").plugin == "cgr.plugins.llama_solver"
    assert plugins.solver("echo") and plugins.solver("fake")
    assert plugins.generator("template")
    assert {a.name for a in plugins.auditors()} == {
        "hardcode",
        "solver_use",
        "counterfactual",
        "permutation",
        "generator_agreement",
        "leak",
    }


def test_unknown_name_is_a_named_error(plugins):
    with pytest.raises(UnknownPluginError, match=r"unknown solver 'nope' \(known: echo, fake, llama, openai\)"):
        plugins.solver("nope")


def test_typo_hook_fails_loudly():
    class Typo:
        @hookimpl
        def register_solver(self, register):  # missing "s"
            pass

    with pytest.raises(PluginError, match="register_solver"):
        load_plugins(entry_points=False, extra=(Typo(),))


def test_duplicate_name_names_both_plugins():
    class Dup:
        @hookimpl
        def register_solvers(self, register):
            register("echo", lambda config: None)

    with pytest.raises(PluginError, match=r"solver 'echo' registered twice: by 'cgr.plugins.echo_solver'"):
        load_plugins(entry_points=False, extra=(Dup(),))


def test_disable_env_blocks_a_plugin(monkeypatch):
    monkeypatch.setenv("CGR_DISABLE_PLUGINS", "cgr.plugins.echo_solver")
    loaded = load_plugins(entry_points=False)
    with pytest.raises(UnknownPluginError):
        loaded.solver("echo")
    assert "cgr.plugins.echo_solver" not in loaded.plugin_names()


def test_disable_env_warns_once_about_unknown_names(monkeypatch, capsys):
    monkeypatch.setattr(manager, "_warned_disabled", set())
    monkeypatch.setenv("CGR_DISABLE_PLUGINS", "cgr.plugins.echo_solver,echo_solvr")
    load_plugins(entry_points=False)
    load_plugins(entry_points=False)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(
        "cgr: warning: CGR_DISABLE_PLUGINS names unknown plugin(s): echo_solvr (known: cgr.plugins.audit_command, "
    )
    assert "cgr.plugins.echo_solver" in err[0]
    monkeypatch.setenv("CGR_DISABLE_PLUGINS", "cgr.plugins.echo_solver")
    load_plugins(entry_points=False)
    assert capsys.readouterr().err == ""  # known names: nothing to say


class _Good:
    name = "good"

    def info(self):
        return {}

    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None, seed=None, top_k=1):
        pass

    def label_logprobs(self, prompt, labels):
        pass

    def logprobs(self, prompt, continuations):
        pass


def test_check_solver_accepts_the_protocol_and_optional_extras(plugins):
    check_solver(_Good(), "good")  # extra optional parameters (seed, top_k) are fine

    class Kwargs(_Good):
        def complete(self, p, **kw):  # any name for the positional prompt, keywords through **kw
            pass

    check_solver(Kwargs(), "kw")
    check_solver(plugins.solver("echo").obj(), "echo")
    check_solver(plugins.solver("fake").obj(), "fake")


@pytest.mark.parametrize(
    "change, problem",
    [
        (
            {"complete": lambda self, prompt, *, max_tokens=256, temperature=0.0, stop=None: None},
            "complete() lacks keyword 'choices'",
        ),
        ({"logprobs": None}, "has no logprobs() method"),
        ({"label_logprobs": 3}, "label_logprobs is not callable"),
        (
            {"logprobs": lambda self, prompt: None},
            "logprobs() takes 1 positional argument(s), the protocol passes 2 (prompt, continuations)",
        ),
        ({"info": lambda self, verbose: None}, "info() requires 'verbose', which the protocol never passes"),
        (
            {"complete": lambda self, prompt, *, model, max_tokens=256, temperature=0.0, stop=None, choices=None: None},
            "complete() requires 'model', which the protocol never passes",
        ),
    ],
)
def test_check_solver_names_the_method_and_the_problem(change, problem):
    broken = type("Broken", (_Good,), change)()
    with pytest.raises(PluginError) as exc:
        check_solver(broken, "x")
    assert str(exc.value) == f"solver 'x': {problem}"


def test_describe_lists_builtins(plugins):
    rows = {r["name"]: r for r in plugins.describe()}
    assert rows["cgr.plugins.extractors"]["builtin"] is True
    assert "exact_label" in rows["cgr.plugins.extractors"]["extractors"]
