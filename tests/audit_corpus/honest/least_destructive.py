# ruff: noqa: F821
# item: arc_challenge/Mercury_184013
# family: cloze
# note: cloze with word-count normalization
prompt = "Question: " + ITEM.question + "\nAnswer:"
best, best_score = None, None
for lab, opt in zip(ITEM.labels, ITEM.choices):
    s = solver_logprobs(prompt, [" " + opt])[0] / len(opt.split())
    if best_score is None or s > best_score:
        best, best_score = lab, s
submit(best)
