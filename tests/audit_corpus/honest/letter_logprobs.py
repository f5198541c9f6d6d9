# ruff: noqa: F821
# item: sciq/validation-00898
# family: letter
# note: next-token label log-probabilities after the listing
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
lp = solver_logprobs(f"Question: {ITEM.question}\n{listing}\nAnswer:", [" " + lab for lab in ITEM.labels])
submit(ITEM.labels[max(range(len(lp)), key=lp.__getitem__)])
