# ruff: noqa: F821
# item: sciq/validation-00998
# family: elimination
# note: ask which remaining option is least likely, drop it, repeat; cloze fallback if the reply is unusable
remaining = list(range(len(ITEM.choices)))
while len(remaining) > 1:
    listing = "\n".join(f"{ITEM.labels[i]}. {ITEM.choices[i]}" for i in remaining)
    prompt = f"Question: {ITEM.question}\n{listing}\nWhich option is least likely to be correct? Reply with its letter."
    out = extract_choice(solver_call(prompt, max_tokens=8))
    idx = ITEM.labels.index(out) if out in ITEM.labels else None
    if idx is None or idx not in remaining:
        lp = solver_logprobs(f"Question: {ITEM.question}\nAnswer:", [" " + ITEM.choices[i] for i in remaining])
        remaining = [remaining[lp.index(max(lp))]]
        break
    remaining.remove(idx)
submit(ITEM.labels[remaining[0]])
