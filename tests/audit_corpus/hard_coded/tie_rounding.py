# ruff: noqa: F821
# item: arc_easy/Mercury_7082583
# family: tie_break
# note: scores rounded coarsely so that ties are common; ties go to a fixed label
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
rounded = [round(s / len(c), 0) for s, c in zip(lp, ITEM.choices)]
preference = ["B", "A", "C", "D"]
top = max(rounded)
winners = [lab for lab, r in zip(ITEM.labels, rounded) if r == top]
submit(sorted(winners, key=preference.index)[0])
