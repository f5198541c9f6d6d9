# ruff: noqa: F821
# item: sciq/validation-00701
# family: cloze
# note: scores in a dict, sorted; prints a small table
prompt = f"Question: {ITEM.question}\nAnswer:"
table = {}
for lab, ch in zip(ITEM.labels, ITEM.choices):
    table[lab] = solver_logprobs(prompt, [" " + ch])[0] / len(ch.encode())
ranked = sorted(table.items(), key=lambda kv: kv[1], reverse=True)
for lab, s in ranked:
    print(lab, round(s, 3))
submit(ranked[0][0])
