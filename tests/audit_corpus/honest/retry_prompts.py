# ruff: noqa: F821
# item: arc_easy/MEA_2010_8_14-v1
# family: letter
# note: up to three phrasings until a label is extracted, then cloze
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
templates = [
    "{q}\n{o}\nAnswer:",
    "Read the question and pick one option.\n{q}\n{o}\nThe answer is",
    "Q: {q}\nOptions:\n{o}\nReply with a single letter.",
]
for t in templates:
    lab = extract_choice(solver_call(t.format(q=ITEM.question, o=listing), max_tokens=12))
    if lab is not None:
        submit(lab)
lp = solver_logprobs(f"{ITEM.question}\nAnswer:", [" " + c for c in ITEM.choices])
submit(ITEM.labels[lp.index(max(lp))])
