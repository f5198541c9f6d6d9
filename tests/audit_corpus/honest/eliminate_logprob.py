# ruff: noqa: F821
# item: arc_easy/Mercury_7220238
# family: elimination
# note: drop the lowest-scoring option, re-score the rest with a prompt that lists only them
alive = dict(zip(ITEM.labels, ITEM.choices))
while len(alive) > 2:
    listing = "; ".join(alive.values())
    prompt = f"{ITEM.question}\nPossible answers: {listing}\nAnswer:"
    lp = solver_logprobs(prompt, [" " + t for t in alive.values()])
    worst = list(alive)[lp.index(min(lp))]
    del alive[worst]
final = solver_call(
    ITEM.question + "\n" + "\n".join(f"{k}. {v}" for k, v in alive.items()) + "\nAnswer:",
    choices=list(alive),
)
submit(final)
