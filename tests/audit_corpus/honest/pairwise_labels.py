# ruff: noqa: F821
# item: arc_challenge/Mercury_SC_401294
# family: tournament
# note: round robin; each pair shown as A/B and scored by label log-probability
n = len(ITEM.choices)
wins = [0] * n
for i in range(n):
    for j in range(i + 1, n):
        p = f"{ITEM.question}\nA. {ITEM.choices[i]}\nB. {ITEM.choices[j]}\nAnswer:"
        a, b = solver_logprobs(p, [" A", " B"])
        wins[i if a > b else j] += 1
best = max(range(n), key=lambda k: wins[k])
submit(ITEM.labels[best])
