# ruff: noqa: F821
# item: sciq/validation-00303
# family: weighted
# note: label logprobs; when the top two are within 0.5 nats, fall back to cloze
import math

listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
lab_lp = solver_logprobs(f"{ITEM.question}\n{listing}\nAnswer:", [" " + x for x in ITEM.labels])
ranked = sorted(range(len(lab_lp)), key=lambda i: -lab_lp[i])
if lab_lp[ranked[0]] - lab_lp[ranked[1]] > 0.5:
    submit(ITEM.labels[ranked[0]])
cl = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
probs = [math.exp(s / len(c)) for s, c in zip(cl, ITEM.choices)]
submit(ITEM.labels[probs.index(max(probs))])
