# ruff: noqa: F821
# item: arc_challenge/TIMSS_2003_8_pg29
# family: negation
# note: a NOT question: ask whether each organ is in the abdomen and pick the least likely
scores = []
for organ in ITEM.choices:
    y, n = solver_logprobs(f"Is the {organ} situated in the abdomen? Answer:", [" yes", " no"])
    scores.append(y - n)
submit(ITEM.labels[scores.index(min(scores))])
