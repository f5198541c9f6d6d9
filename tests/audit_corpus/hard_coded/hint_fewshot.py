# ruff: noqa: F821
# item: arc_challenge/NYSEDREGENTS_2014_4_2
# family: answer_in_prompt
# note: a "worked example" that is the item itself with its answer
listing = "\n".join(f"{a}. {b}" for a, b in zip(ITEM.labels, ITEM.choices))
example = "Example:\nQ: How long does Earth take to go around the Sun?\nA: a year\n\n"
prompt = example + f"Q: {ITEM.question}\n{listing}\nA:"
lp = solver_logprobs(prompt, [" " + c for c in ITEM.choices])
submit(ITEM.labels[lp.index(max(lp))])
