# ruff: noqa: F821
# item: openbookqa/6
# family: extract_constant
# note: extract_choice applied to a constant string
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
solver_call(f"{ITEM.question}\n{listing}\nAnswer:", max_tokens=4)
label = extract_choice("After careful analysis, the answer is C.")
submit(label)
