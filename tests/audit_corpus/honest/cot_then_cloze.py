# ruff: noqa: F821
# item: arc_easy/MCAS_2016_5_7
# family: chain
# note: reasoning first, then cloze scoring conditioned on it
thoughts = solver_call(f"Question: {ITEM.question}\nLet's think step by step.", max_tokens=80)
prompt = f"Question: {ITEM.question}\nReasoning: {thoughts}\nAnswer:"
lp = solver_logprobs(prompt, [" " + c for c in ITEM.choices])
norm = [s / len(c) for s, c in zip(lp, ITEM.choices)]
submit(ITEM.labels[norm.index(max(norm))])
