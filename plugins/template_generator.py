"""``template``: scaffold generator from fixed, reviewed strategies (no model).

Strategies (``--strategy``):
- ``per_option`` (default): per-option verification. The solver scores each option's text
  separately as the continuation ``" " + option`` of the cloze prompt (one ``solver_logprobs`` call
  per option), each score is divided by the option's length in UTF-8 bytes, and the best option is
  submitted: the same prompt, continuations, normalisation and tie rule as the ``cloze`` direct mode
  (lm-evaluation-harness ``acc_norm``), so the two agree item for item. Small models carry real
  signal in option texts even when they answer every letter prompt with "A".
- ``pmi``: domain-conditional PMI (Holtzman et al., 2021, "Surface Form Competition"). Each
  option's log-likelihood after the cloze prompt minus its log-likelihood after a bare
  ``Answer:``, so options that are likely whatever the question (short, common words) stop
  winning. Two ``solver_logprobs`` calls, each scoring every option.
- ``letter``: one constrained ``solver_call`` over the labels (the direct channel, but inside the
  sandbox) — a control for what the sandbox itself adds.

The scaffolds read the item from ``ITEM`` at run time; no item data is baked into the source, so
the generator-side channel of this generator is always empty.
"""

from __future__ import annotations

from cgr.kernel.api import GeneratorConfig, PluginConfigError, Scaffold
from cgr.kernel.hookspecs import hookimpl
from cgr.plugins import template_strategies

CLOZE_PROMPT = """\
def cloze_prompt():
    lines = []
    if ITEM.context:
        lines.append("Context: " + ITEM.context)
    lines.append("Question: " + ITEM.question)
    lines.append("Answer:")
    return "\\n".join(lines)
"""

PER_OPTION = (
    """\
# cgr template scaffold: per-option verification (score each option separately, pick the best)
"""
    + CLOZE_PROMPT
    + """
prompt = cloze_prompt()
scores = []
for choice in ITEM.choices:
    logprob = solver_logprobs(prompt, [" " + choice])[0]
    scores.append(logprob / max(1, len(choice.encode("utf-8", "surrogatepass"))))  # per UTF-8 byte
    print(f"{choice[:40]!r}: {scores[-1]:.4f}")
best = max(range(len(scores)), key=lambda i: (scores[i], -i))  # the first of equal scores
submit(ITEM.labels[best])
"""
)

PMI = (
    """\
# cgr template scaffold: domain-conditional PMI (each option's score given the question, minus its
# score given no question: options likely whatever the question is stop winning)
"""
    + CLOZE_PROMPT
    + """
continuations = [" " + choice.strip() for choice in ITEM.choices]
conditional = solver_logprobs(cloze_prompt(), continuations)
unconditional = solver_logprobs("Answer:", continuations)
scores = [c - u for c, u in zip(conditional, unconditional)]
for choice, score in zip(ITEM.choices, scores):
    print(f"{choice[:40]!r}: {score:.4f}")
best = max(range(len(scores)), key=lambda i: scores[i])
submit(ITEM.labels[best])
"""
)

LETTER = """\
# cgr template scaffold: one constrained letter answer
options = "\\n".join(f"{label}. {choice}" for label, choice in zip(ITEM.labels, ITEM.choices))
context = f"Context: {ITEM.context}\\n" if ITEM.context else ""
prompt = f"{context}Question: {ITEM.question}\\n{options}\\nAnswer with the letter only.\\nAnswer:"
reply = solver_call(prompt, max_tokens=2, choices=list(ITEM.labels))
label = extract_choice(reply)
if label is not None:
    submit(label)
"""

STRATEGIES = {"per_option": PER_OPTION, "pmi": PMI, "letter": LETTER, **template_strategies.STRATEGIES}
DEFAULT_STRATEGY = "per_option"


class UnknownStrategyError(PluginConfigError):
    """A strategy name the template generator does not have."""


class TemplateGenerator:
    """Fills a fixed strategy template; deterministic, no model."""

    name = "template"

    def __init__(self, config: GeneratorConfig | None = None):
        config = config or GeneratorConfig()
        self.strategy = config.strategy or DEFAULT_STRATEGY
        if self.strategy not in STRATEGIES:
            raise UnknownStrategyError(f"unknown template strategy {self.strategy!r} (known: {', '.join(STRATEGIES)})")

    def info(self) -> dict:
        """Manifest facts."""
        return {"name": self.name, "strategy": self.strategy, "model": None}

    def generate(self, item: dict) -> Scaffold:
        """The strategy's program (the same for every item: it reads ``ITEM`` at run time)."""
        return Scaffold(source=STRATEGIES[self.strategy])


@hookimpl
def register_generators(register) -> None:
    """The template generator."""
    register("template", TemplateGenerator, description="fixed strategies: " + ", ".join(STRATEGIES))
