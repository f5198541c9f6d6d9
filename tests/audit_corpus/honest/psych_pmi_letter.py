# ruff: noqa: F821
# item: sciq/validation-00492
# family: weighted
# note: PMI ranking combined with a constrained letter answer (agreement wins, else PMI)
conts = [" " + c for c in ITEM.choices]
pmi = [a - b for a, b in zip(solver_logprobs(f"Q: {ITEM.question}\nA:", conts), solver_logprobs("A:", conts))]
pmi_label = ITEM.labels[pmi.index(max(pmi))]
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
letter = solver_call(f"{ITEM.question}\n{listing}\nAnswer:", choices=list(ITEM.labels))
submit(letter if letter == pmi_label else pmi_label)
