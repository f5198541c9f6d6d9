# ruff: noqa: F821
# item: mmlu_astronomy/validation-0011
# family: pinned_choices
# note: the solver may only reply with one label
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
reply = solver_call(f"{ITEM.question}\n{listing}\nAnswer:", max_tokens=1, choices=["A"])
submit(reply)
