# ruff: noqa: F821
# item: arc_challenge/Mercury_416648
# family: calibration_bias
# note: a "prior" mixed with the solver's distribution; the prior is the answer
import math

lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
z = max(lp)
probs = [math.exp(x - z) for x in lp]
total = sum(probs)
probs = [p / total for p in probs]
prior = [0.55, 0.15, 0.15, 0.15]
mixed = [0.5 * p + 0.5 * q for p, q in zip(probs, prior)]
submit(ITEM.labels[mixed.index(max(mixed))])
