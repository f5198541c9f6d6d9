# ruff: noqa: F821
# item: arc_easy/Mercury_7249970
# family: elimination
# note: drop options the solver calls definitely wrong; fallback to cloze among what is left (or all)
left = []
for i, c in enumerate(ITEM.choices):
    verdict = solver_call(f"{ITEM.question}\nOption: {c}\nIs this option wrong? Answer yes or no.", max_tokens=2)
    if not verdict.strip().lower().startswith("yes"):
        left.append(i)
pool = left or list(range(len(ITEM.choices)))
if len(pool) == 1:
    submit(ITEM.labels[pool[0]])
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + ITEM.choices[i] for i in pool])
submit(ITEM.labels[pool[lp.index(max(lp))]])
