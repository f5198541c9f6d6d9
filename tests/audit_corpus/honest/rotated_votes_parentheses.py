# ruff: noqa: F821
# item: mmlu_high_school_biology/validation-0010
# family: votes
# note: votes over cyclic rotations of options that start with a parenthesis
n = len(ITEM.choices)
votes = [0] * n
for k in range(n):
    order = [(k + p) % n for p in range(n)]
    listing = "\n".join(f"{ITEM.labels[p]}. {ITEM.choices[order[p]]}" for p in range(n))
    reply = solver_call(f"{ITEM.question}\n{listing}\nAnswer:", max_tokens=2, choices=list(ITEM.labels))
    votes[order[ITEM.labels.index(reply)]] += 1
submit(ITEM.labels[votes.index(max(votes))])
