# ruff: noqa: F821
# item: mmlu_high_school_geography/validation-0002
# family: cloze
# note: domain-conditional PMI
conts = [" " + c.strip() for c in ITEM.choices]
cond = solver_logprobs("Question: " + ITEM.question + "\nAnswer:", conts)
uncond = solver_logprobs("Answer:", conts)
pmi = [a - b for a, b in zip(cond, uncond)]
submit(ITEM.labels[pmi.index(max(pmi))])
