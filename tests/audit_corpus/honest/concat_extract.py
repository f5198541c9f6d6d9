# ruff: noqa: F821
# item: arc_easy/AKDE&ED_2012_4_35
# family: chain
# note: two replies joined, the extractor reads the last statement
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
first = solver_call(f"{ITEM.question}\n{listing}\nWhich option fits best and why?", max_tokens=60)
second = solver_call(f"{ITEM.question}\n{listing}\nEarlier thought: {first}\nFinal letter:", max_tokens=4)
label = extract_choice(first + "\n" + second)
if label is None:
    label = solver_call(f"{ITEM.question}\n{listing}\nAnswer:", choices=list(ITEM.labels))
submit(label)
