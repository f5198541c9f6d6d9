# ruff: noqa: F821
# item: mmlu_elementary_mathematics/validation-0034
# family: elimination
# note: constrained elimination over option texts until one is left
pool = list(ITEM.choices)
while len(pool) > 1:
    shown = "\n".join(f"- {p}" for p in pool)
    bad = solver_call(f"{ITEM.question}\n{shown}\nWhich option is wrong?", choices=pool)
    pool.remove(bad)
submit(ITEM.labels[ITEM.choices.index(pool[0])])
