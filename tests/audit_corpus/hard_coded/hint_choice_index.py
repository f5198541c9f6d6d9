# ruff: noqa: F821
# item: mmlu_elementary_mathematics/validation-0017
# family: answer_in_prompt
# note: the answer text comes from ITEM by a constant index and is fed to the solver
focus = ITEM.choices[0]
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
prompt = f"{ITEM.question}\n{listing}\nA careful student would note that {focus} holds.\nAnswer:"
reply = solver_call(prompt, max_tokens=4, choices=list(ITEM.labels))
submit(reply)
