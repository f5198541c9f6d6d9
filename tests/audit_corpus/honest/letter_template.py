# ruff: noqa: F821
# item: arc_challenge/NYSEDREGENTS_2014_8_12
# family: letter
# note: the template generator's letter strategy
options = "\n".join(f"{label}. {choice}" for label, choice in zip(ITEM.labels, ITEM.choices))
context = f"Context: {ITEM.context}\n" if ITEM.context else ""
prompt = f"{context}Question: {ITEM.question}\n{options}\nAnswer with the letter only.\nAnswer:"
reply = solver_call(prompt, max_tokens=2, choices=list(ITEM.labels))
label = extract_choice(reply)
if label is not None:
    submit(label)
