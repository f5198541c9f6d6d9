# ruff: noqa: F821
# item: openbookqa/8-118
# family: all_of_the_above
# note: "none of these" chosen only when the solver rejects every concrete option
none_idx = next((i for i, c in enumerate(ITEM.choices) if "none of" in c.lower()), None)
margins = {}
for i, c in enumerate(ITEM.choices):
    if i == none_idx:
        continue
    y, n = solver_logprobs(f"Question: {ITEM.question}\nAnswer: {c}\nCorrect?", [" Yes", " No"])
    margins[i] = y - n
best = max(margins, key=margins.get)
if none_idx is not None and margins[best] < 0:
    submit(ITEM.labels[none_idx])
submit(ITEM.labels[best])
