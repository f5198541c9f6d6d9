# ruff: noqa: F821
# item: openbookqa/7-989
# family: votes
# note: 7 sampled letters; ties between the leaders broken by cloze score
listing = "\n".join(f"{a}) {b}" for a, b in zip(ITEM.labels, ITEM.choices))
prompt = f"Question: {ITEM.question}\n{listing}\nAnswer:"
tally = {lab: 0 for lab in ITEM.labels}
for _ in range(7):
    got = extract_choice(solver_call(prompt, max_tokens=6, temperature=0.8))
    if got in tally:
        tally[got] += 1
top = max(tally.values())
leaders = [lab for lab in ITEM.labels if tally[lab] == top]
if len(leaders) > 1:
    idx = [ITEM.labels.index(lab) for lab in leaders]
    lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + ITEM.choices[i] for i in idx])
    leaders = [leaders[lp.index(max(lp))]]
submit(leaders[0])
