# cgr template scaffold: numeric estimate, median, nearest option
#
# When every option is a number (units allowed: "100 C", "3.5 m/s", "1/2", "45%"), the solver is
# asked for the value itself, in a constrained format (digits only), several times; the program
# parses the replies, takes their median and submits the option nearest to it. Small models are
# noisy and often cannot map a value to a letter; the median of several samples and the nearest-
# option search are the program's work. When the options are not all distinct numbers, or fewer
# than half the replies parse, it falls back to scoring the options' texts.
#
# Solver calls (n options): numeric options: SAMPLES (5) solver_call, plus one solver_logprobs when
# fewer than half of the replies hold a number; other options: one solver_logprobs. At most 6.
# ruff: noqa: F821
# mypy: ignore-errors
# (ITEM, solver_call, solver_logprobs, submit: the scaffold API's globals, unknown to linters)
import re
import statistics

SAMPLES = 5  # the first at temperature 0, the rest sampled
TEMPERATURE = 0.7
NUMBER = re.compile(r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?|[-+]?\.\d+")


def numbers(text):
    """Every number in ``text`` as a float (thousands separators, fractions, a unicode minus)."""
    out = []
    for match in NUMBER.findall(text):
        token = match.replace(",", "").replace("−", "-").replace(" ", "")
        try:
            if "/" in token:
                top, bottom = token.split("/")
                out.append(float(top) / float(bottom))
            else:
                out.append(float(token))
        except (ValueError, ZeroDivisionError):
            pass
    return out


def header():
    lines = []
    if ITEM.context:
        lines.append("Context: " + ITEM.context)
    lines.append("Question: " + ITEM.question)
    return "\n".join(lines)


def score_options():
    """Fallback: one scoring call over all option texts (per-character log-likelihood)."""
    continuations = [" " + choice.strip() for choice in ITEM.choices]
    scores = solver_logprobs(header() + "\nAnswer:", continuations)
    best = max(range(len(scores)), key=lambda i: scores[i] / max(1, len(continuations[i])))
    print("fallback: scored the options")
    submit(ITEM.labels[best])


values = []
for choice in ITEM.choices:
    found = numbers(choice)
    values.append(found[0] if len(found) == 1 else None)  # exactly one number per option
if any(v is None for v in values) or len(set(values)) < len(values):
    score_options()

FORMAT = "Reply with the numeric value only: digits, an optional sign and decimal point, no words, no units."
prompt = header() + "\n" + FORMAT + "\nValue:"
estimates = []
for k in range(SAMPLES):
    reply = solver_call(prompt, max_tokens=12, temperature=0.0 if k == 0 else TEMPERATURE, stop=["\n"])
    found = numbers(reply)
    if found:
        estimates.append(found[0])
print("estimates:", estimates)
if 2 * len(estimates) < SAMPLES:
    score_options()
middle = statistics.median(estimates)
nearest = min(range(len(values)), key=lambda i: abs(values[i] - middle))
print(f"median {middle:g} -> {ITEM.labels[nearest]} ({ITEM.choices[nearest]})")
submit(ITEM.labels[nearest])
