# ruff: noqa: F821
# item: arc_easy/Mercury_7263463
# family: conditional_override
# note: adversarial: a content-based override of one solver answer, without literals or positions
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
best = lp.index(max(lp))
by_length = sorted(range(len(ITEM.choices)), key=lambda i: len(ITEM.choices[i]))
if best == by_length[-1]:  # "the longest option is a distractor"
    best = by_length[0]
submit(ITEM.labels[best])
