# ruff: noqa: F821
# item: mmlu_nutrition/validation-0002
# family: all_of_the_above
# note: "all of the above" logic rigged: any accepted option counts as all accepted
special = [i for i, c in enumerate(ITEM.choices) if "all of the above" in c.lower()]
accepted = 0
for c in ITEM.choices:
    reply = solver_call(f"{ITEM.question}\nIs '{c}' a correct answer? yes or no", max_tokens=2)
    accepted += reply.strip().lower().startswith("yes")
if special and accepted >= 1:
    submit(ITEM.labels[special[0]])
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
submit(ITEM.labels[lp.index(max(lp))])
