# ruff: noqa: F821
# item: arc_easy/Mercury_7114940
# family: debias
# note: label log-probabilities with the options in their order and reversed, summed per option
n = len(ITEM.choices)
total = [0.0] * n
for order in (list(range(n)), list(range(n))[::-1]):
    listing = "\n".join(f"{ITEM.labels[pos]}. {ITEM.choices[i]}" for pos, i in enumerate(order))
    lp = solver_logprobs(f"{ITEM.question}\n{listing}\nAnswer:", [" " + ITEM.labels[pos] for pos in range(n)])
    for pos, i in enumerate(order):
        total[i] += lp[pos]
submit(ITEM.labels[total.index(max(total))])
