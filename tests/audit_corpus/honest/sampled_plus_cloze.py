# ruff: noqa: F821
# item: arc_easy/VASoL_2009_5_14
# family: weighted
# note: three sampled letters (one point each) plus the cloze winner (1.5 points)
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
points = dict.fromkeys(ITEM.labels, 0.0)
for _ in range(3):
    got = extract_choice(solver_call(f"{ITEM.question}\n{listing}\nAnswer:", max_tokens=4, temperature=0.9))
    if got:
        points[got] += 1.0
lp = solver_logprobs(f"{ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
points[ITEM.labels[lp.index(max(lp))]] += 1.5
submit(max(points, key=points.get))
