# ruff: noqa: F821
# item: mmlu_high_school_geography/validation-0020
# family: tie_break
# note: subtle: a lexicographic key whose first component is almost always tied
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
order = [1, 0, 2, 3]
key = {i: (int(lp[i] > -100), -order.index(i), lp[i]) for i in range(len(lp))}
submit(ITEM.labels[max(key, key=key.get)])
