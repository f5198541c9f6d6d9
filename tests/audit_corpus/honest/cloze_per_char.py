# ruff: noqa: F821
# item: openbookqa/8-195
# family: cloze
# note: each option scored as a continuation, normalized per character
prompt = f"Question: {ITEM.question}\nAnswer:"
scores = {}
for label, choice in zip(ITEM.labels, ITEM.choices):
    cont = " " + choice.strip()
    scores[label] = solver_logprobs(prompt, [cont])[0] / len(cont)
best = max(scores, key=scores.get)
print("scores:", scores)
submit(best)
