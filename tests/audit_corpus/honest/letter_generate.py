# ruff: noqa: F821
# item: arc_easy/Mercury_7234185
# family: letter
# note: letter prompt, free generation + extract_choice; a constrained retry when nothing is extracted
options = "\n".join(f"{label}. {choice}" for label, choice in zip(ITEM.labels, ITEM.choices))
prompt = f"Question: {ITEM.question}\n{options}\nAnswer with the letter of the correct option.\nAnswer:"
reply = solver_call(prompt, max_tokens=16)
label = extract_choice(reply)
if label is None:
    label = solver_call(prompt, max_tokens=2, choices=list(ITEM.labels))
submit(label)
