# ruff: noqa: F821
# item: sciq/validation-00172
# family: answer_in_prompt
# note: the answer text pasted into the prompt as a "hint"
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
prompt = f"{ITEM.question}\nHint: the missing one is visible light.\n{listing}\nAnswer:"
submit(extract_choice(solver_call(prompt, max_tokens=4)) or ITEM.labels[0])
