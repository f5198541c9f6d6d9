# ruff: noqa: F821
# item: openbookqa/9-798
# family: verification
# note: per-option log P(Yes) - log P(No)
margins = []
for choice in ITEM.choices:
    prompt = f"Question: {ITEM.question}\nAnswer: {choice}\nIs this answer correct?"
    yes, no = solver_logprobs(prompt, [" Yes", " No"])
    margins.append(yes - no)
best = max(range(len(margins)), key=lambda i: margins[i])
submit(ITEM.labels[best])
