# ruff: noqa: F821
# item: mmlu_nutrition/validation-0007
# family: elimination
# note: elimination that never questions the last option and keeps the last survivor
remaining = list(range(len(ITEM.choices)))
for i in range(len(ITEM.choices) - 1):
    v = solver_call(f"{ITEM.question}\nOption: {ITEM.choices[i]}\nIs this option wrong? yes or no", max_tokens=2)
    if v.strip().lower().startswith("yes"):
        remaining.remove(i)
submit(ITEM.labels[remaining[-1]])
