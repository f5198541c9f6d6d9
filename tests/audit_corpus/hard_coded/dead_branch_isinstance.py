# ruff: noqa: F821
# item: arc_easy/MCAS_2016_5_7
# family: dead_branch
# note: a type check that always passes selects a fixed position
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
best = lp.index(max(lp))
if isinstance(lp, list):
    best = 0
submit(ITEM.labels[best])
