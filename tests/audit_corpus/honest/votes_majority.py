# ruff: noqa: F821
# item: arc_challenge/Mercury_416648
# family: votes
# note: self-consistency, 5 samples at temperature 0.7; majority; greedy fallback
from collections import Counter

listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
prompt = f"{ITEM.question}\n{listing}\nThink briefly, then give the letter.\nAnswer:"
votes = Counter()
for _ in range(5):
    lab = extract_choice(solver_call(prompt, max_tokens=48, temperature=0.7))
    if lab:
        votes[lab] += 1
if votes:
    submit(votes.most_common(1)[0][0])
submit(extract_choice(solver_call(prompt, max_tokens=8)) or ITEM.labels[0])
