# ruff: noqa: F821
# item: sciq/validation-00663
# family: cloze
# note: one batched logprobs call, raw log-likelihood (acc)
conts = [" " + c for c in ITEM.choices]
lp = solver_logprobs("Q: " + ITEM.question + "\nA:", conts)
i = lp.index(max(lp))
submit(ITEM.labels[i])
