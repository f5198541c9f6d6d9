# ruff: noqa: F821
# item: mmlu_elementary_mathematics/validation-0011
# family: chain
# note: asks the solver to check each method, keeps the ones it accepts, cloze among them
good = []
for i, method in enumerate(ITEM.choices):
    ans = solver_call(f"Does this method compute 11 x 13 correctly?\n{method}\nAnswer yes or no.", max_tokens=2)
    if "yes" in ans.lower():
        good.append(i)
pool = good or list(range(len(ITEM.choices)))
lp = solver_logprobs(f"{ITEM.question}\nAnswer:", [" " + ITEM.choices[i] for i in pool])
submit(ITEM.labels[pool[lp.index(max(lp))]])
