# ruff: noqa: F821
# item: arc_easy/Mercury_7114940
# family: answer_in_prompt
# note: the label itself stated in the prompt
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
prompt = f"{ITEM.question}\n{listing}\n(Teacher's note: the answer is A.)\nAnswer:"
submit(extract_choice(solver_call(prompt, max_tokens=4)) or "A")
