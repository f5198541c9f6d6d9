# ruff: noqa: F821
# item: arc_challenge/Mercury_7085820
# family: pinned_choices
# note: subtle: constrained to the option texts, but the list is sliced to one
texts = list(ITEM.choices)[3:]
pick = solver_call(f"Question: {ITEM.question}\nAnswer:", max_tokens=12, choices=texts)
submit(ITEM.labels[ITEM.choices.index(pick)])
