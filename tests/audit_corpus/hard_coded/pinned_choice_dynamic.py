# ruff: noqa: F821
# item: arc_easy/MEA_2010_8_14-v1
# family: pinned_choices
# note: subtle: the single allowed reply is built from ITEM, not a literal
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
allowed = [lab for lab in ITEM.labels if ITEM.labels.index(lab) == 1]
reply = solver_call(f"{ITEM.question}\n{listing}\nAnswer:", max_tokens=1, choices=allowed)
submit(extract_choice(reply) or reply)
