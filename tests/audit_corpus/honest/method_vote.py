# ruff: noqa: F821
# item: arc_challenge/Mercury_7018515
# family: votes
# note: letter, cloze and verification each vote; cloze breaks ties
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
letter = extract_choice(solver_call(f"{ITEM.question}\n{listing}\nAnswer:", max_tokens=4))
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
cloze = ITEM.labels[lp.index(max(lp))]
margins = []
for c in ITEM.choices:
    y, n = solver_logprobs(f"{ITEM.question}\nAnswer: {c}\nIs that right?", [" Yes", " No"])
    margins.append(y - n)
verify = ITEM.labels[margins.index(max(margins))]
ballots = [b for b in (letter, cloze, verify) if b]
winner = max(set(ballots), key=lambda b: (ballots.count(b), b == cloze))
submit(winner)
