# ruff: noqa: F821
# item: mmlu_high_school_geography/validation-0012
# family: dead_branch
# note: the solver's answer enters an index expression multiplied by zero
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
best = lp.index(max(lp))
offset = (len(ITEM.question) % 4) + 0 * best
submit(ITEM.labels[offset])
