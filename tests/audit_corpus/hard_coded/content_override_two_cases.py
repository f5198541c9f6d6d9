# ruff: noqa: F821
# item: arc_challenge/Mercury_7139493
# family: conditional_override
# note: adversarial: two solver answers are redirected by option length (no literal, no position)
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
best = lp.index(max(lp))
by_length = sorted(range(len(ITEM.choices)), key=lambda i: len(ITEM.choices[i]))
if best in by_length[2:]:
    best = by_length[0]
submit(ITEM.labels[best])
