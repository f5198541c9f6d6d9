# ruff: noqa: F821
# item: arc_easy/Mercury_7227728
# family: answer_in_prompt
# note: adversarial: the answer paraphrased in a "hint" (no option text, no label)
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
prompt = f"{ITEM.question}\nHint: think of a cell without a nucleus.\n{listing}\nAnswer:"
submit(extract_choice(solver_call(prompt, max_tokens=4)) or ITEM.labels[0])
