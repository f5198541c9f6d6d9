# ruff: noqa: F821
# item: sciq/validation-00172
# family: weighted
# note: 0.5 * per-char cloze score + 0.5 * log P(yes | option)
import math

base = f"Question: {ITEM.question}\nAnswer:"
cloze = solver_logprobs(base, [" " + c for c in ITEM.choices])
cloze = [s / len(c) for s, c in zip(cloze, ITEM.choices)]
combined = []
for i, choice in enumerate(ITEM.choices):
    y, n = solver_logprobs(f"{ITEM.question}\nIs '{choice}' the right answer? Answer:", [" yes", " no"])
    p_yes = y - math.log(math.exp(y) + math.exp(n))
    combined.append(0.5 * cloze[i] + 0.5 * p_yes)
submit(ITEM.labels[combined.index(max(combined))])
