# ruff: noqa: F821
# item: mmlu_astronomy/validation-0011
# family: chain
# note: a short explanation first, then the letter given that explanation
listing = "\n".join(f"{lab}. {c}" for lab, c in zip(ITEM.labels, ITEM.choices))
explain = solver_call(f"{ITEM.question}\n{listing}\nExplain the key idea in one sentence.", max_tokens=60)
final = solver_call(
    f"{ITEM.question}\n{listing}\nNotes: {explain}\nAnswer with one letter.", max_tokens=3, choices=list(ITEM.labels)
)
submit(final)
