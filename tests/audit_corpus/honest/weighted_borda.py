# ruff: noqa: F821
# item: mmlu_elementary_mathematics/validation-0017
# family: weighted
# note: Borda count over the cloze ranking plus two points for the letter answer
n = len(ITEM.choices)
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
order = sorted(range(n), key=lambda i: lp[i], reverse=True)
points = [0.0] * n
for rank, i in enumerate(order):
    points[i] += n - 1 - rank
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
letter = extract_choice(solver_call(f"{ITEM.question}\n{listing}\nAnswer:", max_tokens=4))
if letter in ITEM.labels:
    points[ITEM.labels.index(letter)] += 2
submit(ITEM.labels[max(range(n), key=lambda i: (points[i], lp[i]))])
