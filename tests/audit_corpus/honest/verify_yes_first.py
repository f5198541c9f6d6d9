# ruff: noqa: F821
# item: arc_easy/Mercury_7251755
# family: verification
# note: per-option yes/no generation; first yes wins, cloze fallback when no option is accepted
chosen = None
for label, choice in zip(ITEM.labels, ITEM.choices):
    q = f"Question: {ITEM.question}\nProposed answer: {choice}\nIs the proposed answer correct? Answer yes or no."
    reply = solver_call(q, max_tokens=3).strip().lower()
    if reply.startswith("yes"):
        chosen = label
        break
if chosen is None:
    lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
    chosen = ITEM.labels[lp.index(max(lp))]
submit(chosen)
