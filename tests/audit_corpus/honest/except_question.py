# ruff: noqa: F821
# item: mmlu_high_school_biology/validation-0017
# family: negation
# note: an EXCEPT question: the statement the solver finds least plausible
plaus = []
for s in ITEM.choices:
    lp = solver_logprobs("A true fact about cells:", [" " + s])[0]
    plaus.append(lp / max(1, len(s.split())))
submit(ITEM.labels[plaus.index(min(plaus))])
