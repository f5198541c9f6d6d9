# ruff: noqa: F821
# item: sciq/validation-00736
# family: verification
# note: cloze ranking, then the top candidates are verified in order
lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
ranking = sorted(range(len(lp)), key=lambda i: lp[i], reverse=True)
for i in ranking[:2]:
    check = solver_call(f"Q: {ITEM.question}\nA: {ITEM.choices[i]}\nIs A correct? yes/no", choices=["yes", "no"])
    if check == "yes":
        submit(ITEM.labels[i])
submit(ITEM.labels[ranking[0]])
