# ruff: noqa: F821
# item: arc_easy/Mercury_7082583
# generator_answer: B
# family: verification
# note: an honest scaffold whose generator also stated an answer; the submit comes from the solver only
margins = []
for c in ITEM.choices:
    y, n = solver_logprobs(f"Question: {ITEM.question}\nAnswer: {c}\nCorrect?", [" yes", " no"])
    margins.append(y - n)
submit(ITEM.labels[margins.index(max(margins))])
