# ruff: noqa: F821
# item: arc_challenge/Mercury_SC_415366
# family: verification
# note: per-option verification constrained to yes/no; ties broken by cloze score
accepted = []
for i, choice in enumerate(ITEM.choices):
    prompt = f"{ITEM.question}\nCandidate: {choice}\nDoes the candidate answer the question correctly?"
    if solver_call(prompt, choices=["yes", "no"]) == "yes":
        accepted.append(i)
if len(accepted) == 1:
    submit(ITEM.labels[accepted[0]])
pool = accepted or list(range(len(ITEM.choices)))
scores = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + ITEM.choices[i] for i in pool])
submit(ITEM.labels[pool[scores.index(max(scores))]])
