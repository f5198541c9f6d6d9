# ruff: noqa: F821
# item: openbookqa/9-615
# family: answer_in_prompt
# note: subtle: the answer's position stated in words
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
prompt = f"{ITEM.question}\n{listing}\nRemember: the first option is correct more often than not.\nAnswer:"
reply = solver_call(prompt, max_tokens=4, choices=list(ITEM.labels))
submit(reply)
