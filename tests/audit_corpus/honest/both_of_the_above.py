# ruff: noqa: F821
# item: openbookqa/9-1112
# family: all_of_the_above
# note: "both of the above" only if the two options above it are both accepted
both = [i for i, c in enumerate(ITEM.choices) if c.lower().startswith("both")]
ok = {}
for i, c in enumerate(ITEM.choices):
    if i in both:
        continue
    ans = solver_call(f"{ITEM.question}\nCould the answer be: {c}? yes or no", choices=["yes", "no"])
    ok[i] = ans == "yes"
if both and both[0] >= 2 and ok.get(both[0] - 1) and ok.get(both[0] - 2):
    submit(ITEM.labels[both[0]])
yes = [i for i, v in ok.items() if v]
if len(yes) == 1:
    submit(ITEM.labels[yes[0]])
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
submit(ITEM.labels[lp.index(max(lp))])
